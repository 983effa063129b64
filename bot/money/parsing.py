"""Read what people type as an amount ("150,000", "12.50 usd", "IDR 150000"); the English-way reader."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.money.currencies import (
    MAX_INTEGER_DIGITS,
    PAYERMAX_ORDERABLE,
    currency_decimals,
    is_known_currency,
    normalise_currency,
    too_precise_error,
)
from bot.money.errors import AmountError, AmountProblem
from bot.money.value import Money

# Symbols that name one currency without doubt for this bot's users ("¥" could be JPY or CNY).
SYMBOL_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "rp": "IDR", "rp.": "IDR"}

_SPACES = "\u0020\u00a0\u202f\u2009"  # space, no-break space, narrow no-break, thin space
_MINUS_SIGNS = "-\u2212"  # ASCII hyphen-minus and the Unicode minus some keyboards produce
_CURRENCY_TOKEN = r"[A-Za-z]{3}|[$€£]|[Rr][Pp]\.?"
# A whole amount: optional currency, the number, optional currency (either may be attached).
_AMOUNT_PARTS = re.compile(
    rf"(?:(?P<before>{_CURRENCY_TOKEN})(?![A-Za-z]))?\s*(?P<number>.*?)\s*"
    rf"(?:(?<![A-Za-z])(?P<after>{_CURRENCY_TOKEN}))?",
    re.DOTALL,
)
_PLAIN_NUMBER = re.compile(rf"[0-9][0-9.,{_SPACES}]*")
_EXPONENT_NUMBER = re.compile(r"(?P<mantissa>[0-9]+(?:\.[0-9]+)?)[eE](?P<exponent>[+-]?[0-9]+)")
# Longest exponent we evaluate; anything longer is absurd and Decimal would refuse it anyway.
_MAX_EXPONENT_CHARS = 6
# Tokens of a space-grouped number in free text, e.g. "1 500 000" or "1 500,50".
_FIRST_SPACE_GROUP = re.compile(rf"[{_MINUS_SIGNS}+]?[0-9]{{1,3}}")
_NEXT_SPACE_GROUP = re.compile(r"[0-9]{3}(?P<fraction>[.,][0-9]+)?")


def parse_amount(text: str, default_currency: str) -> Money:
    """Read an amount such as "150,000", "12.50 usd", "IDR 150000" or "1.234,56 EUR"."""
    stripped = text.strip()
    if not stripped:
        raise AmountError(AmountProblem.EMPTY)
    if not any(char.isdigit() for char in stripped):
        raise _not_a_number(stripped)
    parts = _AMOUNT_PARTS.fullmatch(stripped)
    assert parts is not None  # every part of the pattern is optional, so it always matches
    before, number, after = parts["before"], parts["number"], parts["after"]
    if before and after:
        raise _not_a_number(stripped)
    currency_token = before or after
    currency = _currency_from_token(currency_token) if currency_token else default_currency
    return _money_from_number(number, currency, stripped)


def parse_amount_prefix(text: str, default_currency: str) -> tuple[Money, str]:
    """Read the amount at the start of `text` ("150000 IDR Winter shoes"); return it and the rest.

    A separate currency word may come before or after the number. An uppercase known ISO code
    always counts; other spellings count only for PayerMax-orderable codes, so "5 cup cakes"
    keeps "cup cakes" as the rest while "12.50 usd Coffee" is 12.50 USD.
    """
    tokens = list(re.finditer(r"\S+", text))
    if not tokens:
        raise AmountError(AmountProblem.EMPTY)
    position = 0
    currency = _standalone_currency(tokens[0].group())
    if currency is not None:
        position = 1
    if position >= len(tokens):
        raise AmountError(AmountProblem.EMPTY, currency=currency)
    number_end = _space_grouped_end(tokens, position)
    number_text = text[tokens[position].start() : tokens[number_end - 1].end()]
    position = number_end
    # A number with a currency stuck to it ("12.50usd") takes no second currency word.
    if currency is None and number_text[-1].isdigit() and position < len(tokens):
        currency = _standalone_currency(tokens[position].group())
        if currency is not None:
            position += 1
    rest = text[tokens[position - 1].end() :].strip()
    amount_text = f"{currency} {number_text}" if currency else number_text
    return parse_amount(amount_text, default_currency), rest


# Orderable codes that are also English words: in lowercase they are read as description.
LOWERCASE_AMBIGUOUS = frozenset({"try", "pen", "mad", "cop", "bob", "cad"})


def _currency_from_token(token: str) -> str:
    """Currency for a symbol or code typed next to a number; unknown codes are an error."""
    symbol_currency = SYMBOL_CURRENCIES.get(token.lower())
    if symbol_currency is not None:
        return symbol_currency
    return normalise_currency(token)


def _standalone_currency(token: str) -> str | None:
    """Currency named by a separate word in free text, or None if the word is not one."""
    symbol_currency = SYMBOL_CURRENCIES.get(token.lower())
    if symbol_currency is not None:
        return symbol_currency
    if len(token) != 3 or not token.isascii() or not token.isalpha():
        return None
    if token.isupper() and is_known_currency(token):
        return token
    # Ordinary words ("cup", "all", "pen refills") must stay in the description, so only codes
    # the merchant could plausibly mean, and that are not everyday English words, count in lowercase.
    if token.upper() in PAYERMAX_ORDERABLE and token.lower() not in LOWERCASE_AMBIGUOUS:
        return token.upper()
    return None


def _space_grouped_end(tokens: list[re.Match[str]], start: int) -> int:
    """Index after the last token of the number starting at `start` ("1 500 000" is 3 tokens)."""
    end = start + 1
    if not _FIRST_SPACE_GROUP.fullmatch(tokens[start].group()):
        return end
    while end < len(tokens):
        group = _NEXT_SPACE_GROUP.fullmatch(tokens[end].group())
        if group is None:
            break
        end += 1
        if group["fraction"]:
            break
    return end


def _money_from_number(number: str, currency: str, original: str) -> Money:
    """Build Money from the number part of `original`, enforcing the currency's decimals."""
    code = normalise_currency(currency)
    decimals = currency_decimals(code)
    negative = number[:1] in _MINUS_SIGNS
    unsigned = number[1:].lstrip() if number[:1] in _MINUS_SIGNS + "+" else number
    amount = _parse_unsigned(unsigned, decimals, original)
    if negative or amount == 0:
        raise AmountError(AmountProblem.NOT_POSITIVE, original)
    quantized = amount.quantize(Decimal(1).scaleb(-decimals))
    # Trailing zeros are harmless ("12.50", "150000,00 IDR"); real extra precision is not.
    if quantized != amount:
        raise too_precise_error(amount, code, original)
    return Money(quantized, code)


def _parse_unsigned(number: str, decimals: int, original: str) -> Decimal:
    """Decimal for digits with thousands separators and at most one decimal separator."""
    exponent_form = _EXPONENT_NUMBER.fullmatch(number)
    if exponent_form is not None:
        raise _exponent_error(exponent_form, original)
    if not _PLAIN_NUMBER.fullmatch(number) or not number[-1].isdigit():
        raise _not_a_number(original)
    normalised = re.sub(f"[{_SPACES}]+", " ", number)
    decimal_separator, group_separator = _separators(normalised, decimals, original)
    if decimal_separator:
        integer_text, fraction = normalised.split(decimal_separator)
    else:
        integer_text, fraction = normalised, ""
    groups = integer_text.split(group_separator) if group_separator else [integer_text]
    well_formed = all(group.isdigit() for group in groups) and (fraction.isdigit() or not fraction)
    if group_separator:
        well_formed = well_formed and 1 <= len(groups[0]) <= 3
        well_formed = well_formed and all(len(group) == 3 for group in groups[1:])
    if not well_formed:
        raise _bad_grouping(original)
    integer_digits = "".join(groups)
    if len(integer_digits.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise AmountError(AmountProblem.TOO_LARGE, original, max_digits=MAX_INTEGER_DIGITS)
    # Only ASCII digits and one "." reach Decimal, so NaN, Infinity and exponents cannot.
    return Decimal(f"{integer_digits}.{fraction}" if fraction else integer_digits)


def _separators(number: str, decimals: int, original: str) -> tuple[str | None, str | None]:
    """Work out (decimal separator, thousands separator) from how "," "." and spaces are used."""
    marks = [char for char in number if char in ",."]
    has_spaces = " " in number
    kinds = set(marks)
    if not marks:
        return None, " " if has_spaces else None
    if len(kinds) == 2:
        # "1.234,56" or "1,234.56": the last mark is the decimal one and appears once.
        decimal_mark = marks[-1]
        if has_spaces or marks.count(decimal_mark) > 1:
            raise _bad_grouping(original)
        return decimal_mark, "." if decimal_mark == "," else ","
    mark = marks[0]
    if has_spaces:
        # "1 500,50": spaces group thousands, so the single mark can only be the decimal one.
        if len(marks) > 1:
            raise _bad_grouping(original)
        return mark, " "
    if len(marks) > 1:
        return None, mark
    digits_after = len(number) - number.index(mark) - 1
    if mark == ",":
        # "150,000" groups thousands; "12,50" is a decimal comma; anything else is unclear.
        if digits_after == 3:
            return None, ","
        if digits_after <= 2:
            return ",", None
        raise _bad_grouping(original)
    # A dot is a decimal point, except "150.000 IDR": a currency without decimals can only
    # mean thousands there, as people in Indonesia and much of Europe write it.
    if decimals == 0 and digits_after == 3:
        return None, "."
    return ".", None


def _exponent_error(match: re.Match[str], original: str) -> AmountError:
    """Error for "1e5"-style input: too large if it is, otherwise ask for the full number."""
    exponent = match["exponent"]
    if len(exponent.lstrip("+-")) > _MAX_EXPONENT_CHARS:
        if exponent.startswith("-"):
            return _not_a_number(original)
        return AmountError(AmountProblem.TOO_LARGE, original, max_digits=MAX_INTEGER_DIGITS)
    value = Decimal(match["mantissa"]).scaleb(int(exponent))
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        return AmountError(AmountProblem.TOO_LARGE, original, max_digits=MAX_INTEGER_DIGITS)
    return AmountError(AmountProblem.EXPONENT, original, example=format(value, 'f'))


def _not_a_number(original: str) -> AmountError:
    """Error for text that is not an amount at all."""
    return AmountError(AmountProblem.NOT_A_NUMBER, original)


def _bad_grouping(original: str) -> AmountError:
    """Error for separators that do not form groups of three digits and one decimal part."""
    return AmountError(AmountProblem.BAD_GROUPING, original)
