"""What a person typed as an amount, read into a structured reading; anything uncertain comes back as choices.

The reader never guesses. A number the locale does not settle ("1.500" in en) comes back with both
amounts, a sign that names several currencies ("$", "¥") with the likely ones, and a lowercase code
that is also a word ("try") as a question. The bot asks; `settle` then makes the Money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.money.currencies import (
    MAX_INTEGER_DIGITS,
    PAYERMAX_ORDERABLE,
    currency_decimals,
    example_amount,
    is_known_currency,
    normalise_currency,
    smallest_unit,
    too_precise_error,
)
from bot.money.errors import AmountError, AmountProblem
from bot.money.locales import babel_locale
from bot.money.numerals import (
    Typed,
    locale_marks,
    number_end,
    read_typed,
    readings,
    strip_invisible,
)
from bot.money.shorthands import Shorthand, match_shorthand
from bot.money.symbols import (
    ends_word,
    everyday_words,
    is_own_sign,
    is_spaceless,
    match_sign,
)
from bot.money.value import Money

_ASCII_WORD = re.compile(r"[A-Za-z]+")
_EXPONENT = re.compile(r"[eE](?P<exponent>[-+]?[0-9]+)")
_PLAIN_MANTISSA = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NO_CENTS = re.compile(r"[.,]--?(?= |$)")
# Longest exponent we evaluate; anything longer is absurd and Decimal would refuse it anyway.
_MAX_EXPONENT_CHARS = 6


@dataclass(frozen=True)
class AmountReading:
    """What an amount as typed can mean."""

    amounts: tuple[Decimal, ...]  # one: understood; several: the number itself is ambiguous, most likely first
    currency: str | None  # the currency, when it is certain
    currency_choices: tuple[str, ...]  # when the sign or word could be several currencies, most likely first
    currency_token: str | None  # what was typed for the currency ("TL", "$"), None if nothing
    rest: str  # what follows the amount (the description for /link), stripped
    text: str = ""  # the amount as typed, currency and shorthand included, for quoting back


def read_amount(text: str, *, locale: str, chat_currency: str | None) -> AmountReading:
    """Read a message that should be just an amount: "150rb", "R$ 89,90", "٣٠٠ ر.س"."""
    return _Reader(text, locale, chat_currency, whole=True).read()


def read_amount_prefix(text: str, *, locale: str, chat_currency: str | None) -> AmountReading:
    """Read the amount at the start of `text` ("/link" arguments); what follows is in `.rest`."""
    return _Reader(text, locale, chat_currency, whole=False).read()


def settle(reading: AmountReading, amount: Decimal, currency: str) -> Money:
    """The Money for the amount and currency chosen from `reading`; TOO_PRECISE if the currency cannot take it."""
    if amount not in reading.amounts:
        raise ValueError(f"{amount} is not one of the amounts read: {reading.amounts}")
    code = normalise_currency(currency)
    quantized = amount.quantize(smallest_unit(code))
    if quantized != amount:
        raise too_precise_error(amount, code, reading.text)
    return Money(quantized, code)


@dataclass(frozen=True)
class _Currency:
    """A currency sign, word or code found next to the number."""

    codes: tuple[str, ...]
    start: int
    end: int
    ask: bool = False  # a lowercase code that is also an everyday word: never taken silently


class _Reader:
    """One reading of one text; positions are in the plain form of the text."""

    def __init__(self, original: str, locale: str, chat_currency: str | None, *, whole: bool) -> None:
        self.typed: Typed = read_typed(original)
        self.plain = self.typed.text
        self.language = babel_locale(locale).language
        self.marks = locale_marks(locale)
        self.chat = normalise_currency(chat_currency) if chat_currency else None
        self.whole = whole
        self.start = self._skip_spaces(0)  # where the amount starts

    def read(self) -> AmountReading:
        """The reading, or AmountError naming what is wrong."""
        if self.start == len(self.plain):
            raise AmountError(AmountProblem.EMPTY, example=example_amount(self.chat))
        negative, lead, number_start = self._before_number()
        number_stop = number_end(self.plain, number_start)
        number = self.plain[number_start:number_stop]
        self._refuse_exponent(number, number_stop)
        number_stop = self._skip_no_cents(number_stop)
        shorthand = self._shorthand(number_stop)
        end = shorthand.end if shorthand else number_stop
        trail = None if lead else self._trailing_currency(end)
        end = trail.end if trail else end
        self._refuse_glued(end)
        rest = self.typed.after(end)
        if self.whole and rest:
            raise AmountError(AmountProblem.NOT_A_NUMBER, self._whole_text(), example=example_amount(self.chat))
        found = lead or trail
        currency, choices = self._resolve(found)
        power = shorthand.power if shorthand else 0
        amounts = self._amounts(number, self._quoted(end), currency, power, negative=negative)
        token = self._source(found.start, found.end) if found else None
        return AmountReading(amounts, currency, choices, token, rest, self._source(self.start, end))

    def _before_number(self) -> tuple[bool, _Currency | None, int]:
        """(negative, the currency written first, where the digits start) for "-5", "Rp 150.000", "usd12.50"."""
        negative, position = self._sign(self.start)
        if self._digit_at(position):
            return negative, None, position
        lead = self._leading_currency(position)
        position = self._skip_spaces(lead.end)
        if position == len(self.plain):
            certain = lead.codes[0] if len(lead.codes) == 1 and not lead.ask else None
            raise AmountError(
                AmountProblem.EMPTY,
                self._source(self.start, lead.end),
                currency=certain,
                example=example_amount(certain or self.chat),
            )
        if not negative:
            negative, position = self._sign(position)
        if not self._digit_at(position):
            raise self._not_a_number()
        return negative, lead, position

    def _amounts(
        self, number: str, quoted: str, currency: str | None, power: int, *, negative: bool
    ) -> tuple[Decimal, ...]:
        """The values the number can have, checked: positive, not too large, precise enough for a certain currency."""
        example_currency = currency or self.chat
        values = readings(number, self.marks, shorthand=power > 0)
        if not values:
            raise AmountError(AmountProblem.BAD_GROUPING, quoted, example=example_amount(example_currency))
        values = [_shift(value, power) for value in values]
        if negative or not any(values):
            raise AmountError(AmountProblem.NOT_POSITIVE, quoted, example=example_amount(example_currency))
        values = [value for value in values if value]
        small = [value for value in values if value.adjusted() < MAX_INTEGER_DIGITS]
        if not small:
            raise AmountError(AmountProblem.TOO_LARGE, quoted, max_digits=MAX_INTEGER_DIGITS)
        if currency is not None:
            decimals = currency_decimals(currency)
            if decimals == 0 and len(small) > 1:
                small = small[:1]  # "1.500" in a currency without decimals can only mean thousands
            for value in small:
                if _decimals(value) > decimals:
                    raise too_precise_error(value, currency, quoted)
        return tuple(_canonical(value) for value in small)

    def _resolve(self, found: _Currency | None) -> tuple[str | None, tuple[str, ...]]:
        """(certain currency, choices): the chat's currency settles a sign or word that could be it."""
        if found is None:
            return self.chat, ()
        if len(found.codes) == 1 and not found.ask:
            return found.codes[0], ()
        token = self.plain[found.start : found.end]
        if self.chat and (self.chat in found.codes or (not found.ask and is_own_sign(token, self.chat))):
            return self.chat, ()
        return None, found.codes

    def _leading_currency(self, position: int) -> _Currency:
        """The currency written before the number ("Rp 150.000", "usd12.50"); NOT_A_NUMBER if none is there."""
        sign = match_sign(self.plain, position, self.language)
        if sign is not None:
            return _Currency(sign.codes, position, sign.end)
        word = self._code_word(position)
        if word is not None:
            after = self._skip_spaces(word.end())
            number_follows = self._digit_at(after) or self.plain[after : after + 1] in ("+", "-")
            alone_code = after == len(self.plain) and word.group().isupper()  # "USD" and nothing else
            if number_follows or alone_code:
                found = self._code(word, attached=after == word.end())
                if found is not None:
                    return found
        raise self._not_a_number()

    def _trailing_currency(self, position: int) -> _Currency | None:
        """The currency right after the number, attached ("150TL") or after a space ("150 TL"), if any."""
        places = [(position, True)]
        if self.plain[position : position + 1] == " ":
            places.append((self._skip_spaces(position), False))
        for place, attached in places:
            sign = match_sign(self.plain, place, self.language)
            if sign is not None:
                return _Currency(sign.codes, place, sign.end)
            word = self._code_word(place)
            if word is not None:
                found = self._code(word, attached=attached)
                if found is not None:
                    return found
        return None

    def _code_word(self, position: int) -> re.Match[str] | None:
        """Three Latin letters standing alone at `position`, which may be an ISO code."""
        word = _ASCII_WORD.match(self.plain, position)
        if word is None or len(word.group()) != 3 or not ends_word(self.plain, word.end()):
            return None
        return word

    def _code(self, match: re.Match[str], *, attached: bool) -> _Currency | None:
        """A 3-letter word as a currency code; None if it is a word of the description.

        Uppercase is always meant as a code (UNKNOWN_CURRENCY if it is none). Other spellings count
        for orderable codes, with a question for those that are everyday words ("try"), and for any
        code where nothing but a currency can stand: glued to the number ("10xyz"), or in lowercase
        in a message that should be only an amount ("10 cup").
        """
        word, start, end = match.group(), match.start(), match.end()
        code = word.upper()
        only_a_currency_fits = attached or (self.whole and word.islower())
        if word.isupper() or (only_a_currency_fits and code not in PAYERMAX_ORDERABLE):
            if not is_known_currency(code):
                raise AmountError(AmountProblem.UNKNOWN_CURRENCY, self._quoted(end), currency=word)
            return _Currency((code,), start, end)
        if code in PAYERMAX_ORDERABLE:
            return _Currency((code,), start, end, ask=word.lower() in everyday_words(self.language))
        return None

    def _refuse_exponent(self, number: str, end: int) -> None:
        """Exponent notation ("1e5") is refused with the number written out, or as too large."""
        exponent = _EXPONENT.match(self.plain, end)
        if exponent is None or not ends_word(self.plain, exponent.end()):
            return
        quoted = self._quoted(exponent.end())
        digits = exponent["exponent"]
        if not _PLAIN_MANTISSA.fullmatch(number):
            raise AmountError(AmountProblem.NOT_A_NUMBER, quoted)
        if len(digits.lstrip("+-")) > _MAX_EXPONENT_CHARS:
            if digits.startswith("-"):
                raise AmountError(AmountProblem.NOT_A_NUMBER, quoted)
            raise AmountError(AmountProblem.TOO_LARGE, quoted, max_digits=MAX_INTEGER_DIGITS)
        value = Decimal(number).scaleb(int(digits))
        if value.adjusted() >= MAX_INTEGER_DIGITS:
            raise AmountError(AmountProblem.TOO_LARGE, quoted, max_digits=MAX_INTEGER_DIGITS)
        raise AmountError(AmountProblem.EXPONENT, quoted, example=format(value, "f"))

    def _refuse_glued(self, end: int) -> None:
        """Anything stuck to the amount that is not part of it ("5kg", "12.") makes it unreadable.

        Only after a Chinese or Thai sign or word may the description follow at once ("99元T恤").
        """
        if end >= len(self.plain) or self.plain[end] == " " or is_spaceless(self.plain[end - 1]):
            return
        raise self._not_a_number()

    def _skip_no_cents(self, end: int) -> int:
        """Past a "no cents" dash after the number ("Rp 150.000,-" in Indonesia, "฿150.-" in Thailand)."""
        dash = _NO_CENTS.match(self.plain, end)
        return dash.end() if dash else end

    def _shorthand(self, position: int) -> Shorthand | None:
        """A multiplier after the number ("150rb", "1,5 jt"), standing alone or followed by a currency."""
        found = match_shorthand(self.plain, self._skip_spaces(position), self.language)
        if found is None:
            return None
        end = found.end
        alone = end >= len(self.plain) or self.plain[end] == " " or is_spaceless(self.plain[end - 1])
        if alone or match_sign(self.plain, end, self.language) is not None or self._code_word(end) is not None:
            return found
        return None  # "150 K-pop": a word, not a thousand

    def _not_a_number(self) -> AmountError:
        """NOT_A_NUMBER quoting the whole message, or the first word of a /link argument."""
        end = self.plain.find(" ", self.start)
        quoted = self._quoted(len(self.plain) if end < 0 else end)
        return AmountError(AmountProblem.NOT_A_NUMBER, quoted, example=example_amount(self.chat))

    def _sign(self, position: int) -> tuple[bool, int]:
        """(negative, position after) for a "+" or "-" at `position`."""
        if self.plain[position : position + 1] in ("+", "-"):
            return self.plain[position] == "-", self._skip_spaces(position + 1)
        return False, position

    def _skip_spaces(self, position: int) -> int:
        while position < len(self.plain) and self.plain[position] == " ":
            position += 1
        return position

    def _digit_at(self, position: int) -> bool:
        return self.plain[position : position + 1].isdigit()

    def _source(self, start: int, end: int) -> str:
        return self.typed.source(start, end)

    def _whole_text(self) -> str:
        return strip_invisible(self.typed.original)

    def _quoted(self, end: int) -> str:
        """What to quote back: the whole message when it should be only an amount, else the amount up to `end`."""
        return self._whole_text() if self.whole else self._source(self.start, end)


def _shift(value: Decimal, power: int) -> Decimal:
    """`value` times 10**power, exactly (Decimal arithmetic would round long numbers)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent + power))


def _decimals(value: Decimal) -> int:
    """How many decimals `value` really has: 12.50 has 1, 1500 has 0."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    places = max(-exponent, 0)
    trailing_zeros = 0
    for digit in reversed(digits):
        if digit != 0 or trailing_zeros == places:
            break
        trailing_zeros += 1
    return places - trailing_zeros


def _canonical(value: Decimal) -> Decimal:
    """`value` without trailing fraction zeros or an exponent: 1500000, 12.5."""
    decimals = _decimals(value)
    return value.quantize(Decimal(1).scaleb(-decimals))
