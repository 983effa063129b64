"""Why a typed amount cannot be used, as structured data the chat layer words in the reader's language."""

from __future__ import annotations

from enum import StrEnum


class AmountProblem(StrEnum):
    """What is wrong with an amount; the chat layer picks the sentence for each."""

    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    BAD_GROUPING = "bad_grouping"
    NOT_POSITIVE = "not_positive"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"
    UNKNOWN_CURRENCY = "unknown_currency"
    EXPONENT = "exponent"
    # Raised only by the compatibility wrappers parse_amount / parse_amount_prefix, which cannot ask
    # a question; read_amount returns these cases as choices instead.
    AMBIGUOUS_AMOUNT = "ambiguous_amount"
    AMBIGUOUS_CURRENCY = "ambiguous_currency"


# The English examples the compatibility sentences have always used.
_EXAMPLE = "150000 or 12.50 USD"


class AmountError(ValueError):
    """An amount a person typed that cannot be used: the problem and the data to explain it."""

    def __init__(
        self,
        problem: AmountProblem,
        text: str = "",
        *,
        currency: str | None = None,
        decimals: int | None = None,
        example: str | None = None,
        max_digits: int | None = None,
        choices: tuple[str, ...] = (),
    ) -> None:
        self.problem = problem
        self.text = text  # what the person typed, unescaped: the caller escapes it for its markup
        self.currency = currency  # TOO_PRECISE: the code; UNKNOWN_CURRENCY / AMBIGUOUS_CURRENCY: the token as typed
        self.decimals = decimals  # TOO_PRECISE: how many decimals the currency allows
        self.example = example  # a usable amount in plain digits ("150000", "12.50")
        self.max_digits = max_digits  # TOO_LARGE: how many integer digits are allowed
        self.choices = choices  # AMBIGUOUS_*: the plain amounts or the currency codes it could be
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """An English sentence for the handlers that do not word problems themselves yet."""
        return english_sentence(self)


def english_sentence(error: AmountError) -> str:
    """The English wording of `error`, built only from its structured fields."""
    text, currency, example = error.text, error.currency, error.example
    match error.problem:
        case AmountProblem.EMPTY:
            after = f" after {currency}" if currency else ""
            return f"Send an amount{after}, such as {_EXAMPLE}."
        case AmountProblem.NOT_A_NUMBER:
            return f"I couldn't read '{text}' as an amount. Send a number such as {_EXAMPLE}."
        case AmountProblem.BAD_GROUPING:
            return (
                f"I couldn't read '{text}': thousands separators must split the number into groups "
                "of 3 digits. Send it as 150000, 150,000 or 12.50 USD."
            )
        case AmountProblem.NOT_POSITIVE:
            return f"The amount must be more than zero, such as {_EXAMPLE}."
        case AmountProblem.TOO_PRECISE:
            if error.decimals == 0:
                return f"{currency} amounts have no decimals. Send a whole number such as {example} {currency}."
            plural = "decimal" if error.decimals == 1 else "decimals"
            return f"{currency} amounts allow at most {error.decimals} {plural}, e.g. {example} {currency}."
        case AmountProblem.TOO_LARGE:
            return (
                f"'{text}' is too large: an amount can have at most {error.max_digits} digits before the decimal point."
            )
        case AmountProblem.UNKNOWN_CURRENCY:
            return f"'{currency}' is not a currency code. Use a 3-letter ISO code such as USD, EUR or IDR."
        case AmountProblem.EXPONENT:
            return f"Please write '{text}' out in full, such as {example}; exponent notation is not accepted."
        case AmountProblem.AMBIGUOUS_AMOUNT:
            return f"'{text}' could mean {_either(error.choices)}. Please send it again written as one of those."
        case AmountProblem.AMBIGUOUS_CURRENCY:
            if len(error.choices) == 1:
                return f"Did you mean {example} {error.choices[0]}? Write the currency code in capitals."
            return (
                f"'{currency}' could be {_either(error.choices)}. "
                f"Write the currency code instead, such as {example} {error.choices[0]}."
            )
    raise AssertionError(f"no wording for {error.problem}")


def _either(choices: tuple[str, ...]) -> str:
    """Join choices the English way: "a", "a or b", "a, b or c"."""
    if len(choices) <= 1:
        return "".join(choices)
    return f"{', '.join(choices[:-1])} or {choices[-1]}"
