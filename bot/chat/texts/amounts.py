"""What the bot says about an amount: why it cannot be used, and the questions it asks instead of guessing."""

from __future__ import annotations

from decimal import Decimal

from bot.chat.texts.base import Markup, _, clip, local_examples, ltr, money, ngettext, plain, plain_amount, t
from bot.i18n.reader import current
from bot.money import AmountError, AmountProblem, Money, format_amount_plain

TYPED_UNITS = 40  # how much of a bad amount the answer repeats


def amount_problem(error: AmountError) -> Markup:
    """Why this amount cannot be used, with an example that would work."""
    typed = ltr(clip(error.text, TYPED_UNITS))
    match error.problem:
        case AmountProblem.EMPTY:
            return t(_("Send the amount first, for example <code>150000</code> or <code>12.50 USD</code>."))
        case AmountProblem.NOT_A_NUMBER:
            return t(
                _("I can't read “{typed}” as an amount. Send a number, for example <code>150000</code>."),
                typed=typed,
            )
        case AmountProblem.BAD_GROUPING:
            return t(
                _(
                    "I can't read “{typed}”: the dots or commas don't group the digits by three. "
                    "Send it as <code>150000</code> or <code>{grouped}</code>."
                ),
                typed=typed,
                grouped=plain_amount(Decimal(150000)),
            )
        case AmountProblem.NOT_POSITIVE:
            return t(_("The amount must be more than zero."))
        case AmountProblem.TOO_PRECISE:
            currency, decimals = error.currency or "", error.decimals or 0
            example = ltr(f"{error.example} {currency}" if error.example else currency)
            if decimals == 0:
                return t(
                    _("{currency} has no cents. Send a whole number, for example <code>{example}</code>."),
                    currency=ltr(currency),
                    example=example,
                )
            return t(
                ngettext(
                    "{currency} allows {count} decimal, for example <code>{example}</code>.",
                    "{currency} allows {count} decimals, for example <code>{example}</code>.",
                    decimals,
                ),
                currency=ltr(currency),
                count=decimals,
                example=example,
            )
        case AmountProblem.TOO_LARGE:
            return t(_("“{typed}” is too large for a payment link. Check the number of zeros."), typed=typed)
        case AmountProblem.UNKNOWN_CURRENCY:
            return t(
                _("“{token}” is not a currency I know. Use a 3-letter code such as {currency} or USD."),
                token=ltr(clip(error.currency or error.text, TYPED_UNITS)),
                currency=local_examples()["currency"],
            )
        case AmountProblem.EXPONENT:
            return t(_("Please write “{typed}” out in full, without “e”."), typed=typed)
        case _:
            return t(_("I'm not sure which amount you mean. Please write it again, with its currency."))


def ask_currency(amount: str) -> Markup:
    """No currency typed and none chosen for this chat yet: which one?"""
    return t(
        _("<b>{amount}</b> in which currency? Tap it below. I'll remember it for this chat."),
        amount=ltr(amount),
    )


def ask_which_currency(amount: str, token: str) -> Markup:
    """The sign typed could mean several currencies ("$", "¥")."""
    return t(
        _("“{token}” can mean several currencies. Which one is <b>{amount}</b> in?"),
        token=ltr(token),
        amount=ltr(amount),
    )


def did_you_mean(money_value: Money, token: str) -> Markup:
    """A word that may be a currency or part of the description ("150 try shoes")."""
    return t(_("Did you mean <b>{money}</b>? (You wrote “{token}”.)"), money=money(money_value), token=ltr(token))


def ask_which_amount() -> Markup:
    """The number could be read two ways ("1.500"): which?"""
    return t(_("Which amount do you mean?"))


def amount_button(value: Decimal, currency: str | None) -> str:
    """An amount on a button: with its currency when known."""
    if currency:
        return money(Money(value, currency))
    return format_amount_plain(Money(value, "USD"), current().locale) if value == value.to_integral() else str(value)


def yes_currency_button(money_value: Money) -> str:
    """The button that says yes, this currency."""
    return plain(_("Yes, {money}"), money=money(money_value))


def no_word_button(money_value: Money, word: str) -> str:
    """The button that says no: the word belongs to the description, the amount is in the chat's currency."""
    return plain(_("No: {money}, “{word} …”"), money=money(money_value), word=clip(word, 16))


def other_currency_hint() -> Markup:
    """How to give a currency that is not among the buttons."""
    return t(_("Another currency? Write it with the amount, for example <code>/link 25 EUR Batik scarf</code>."))


def question_answered(money_text: str) -> Markup:
    """The question, once answered: what the link will be for."""
    return t("✅ <b>{money}</b>", money=money_text)


def question_cancel_button() -> str:
    """The button that drops the question (and the link it was for)."""
    return _("✖️ Cancel")


def question_gone() -> str:
    """A button of a question that was answered already or has expired (plain text)."""
    return _("This question is out of date. Send your /link again.")
