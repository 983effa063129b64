"""Inline keyboards: the link card's buttons and the confirmation of a new link."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.botapi.keyboard_rows import button_rows
from bot.chat import texts
from storage.models import Link, LinkStatus

# Create / Cancel under a /newlink summary: "create:<token>", "abort:<token>", the token its draft was
# given with the description the summary shows. Bare "create" / "abort" are from summaries sent before
# buttons carried a token (those are known by their message id).
CREATE = "create"
ABORT = "abort"
# A question asked before a link: "q:a:<index>" an amount, "q:c:<code>" a currency, "q:w:<code>" the word
# was part of the description (the amount is in <code>), "q:x" drop it.
QUESTION_PREFIX = "q"

# Link card buttons: callback data "c:<action>:<link row id>".
CARD_PREFIX = "c"
CARD_REFRESH = "r"
CARD_CANCEL = "x"
# Yes / No of the message that asks before cancelling. (Cards once asked on themselves with "xy" / "n":
# presses of those still work.)
CARD_CANCEL_YES = "cy"
CARD_CANCEL_NO = "cn"
CARD_CANCEL_CONFIRMED = "xy"
CARD_KEEP = "n"
CARD_SHARE = "s"
CARD_QR = "q"
CARD_OPEN = "o"
CARD_REFUND = "rf"
# A refund's confirmation: "rf:y:<refund row id>" refunds, "rf:n:<refund row id>" drops it.
REFUND_PREFIX = "rf"
REFUND_YES = "y"
REFUND_NO = "n"
CARD_REISSUE = "nl"  # a new link in this one's place


def is_public_url(url: str | None) -> bool:
    """Telegram refuses URL buttons to loopback or private hosts, so only offer public ones."""
    if not url:
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host or host == "localhost" or "." not in host:
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a host name


def card_data(action: str, link: Link) -> str:
    """Compact callback data for a card button: "c:<action>:<link row id>" (Telegram allows 64 bytes)."""
    return f"{CARD_PREFIX}:{action}:{link.id}"


def card_keyboard(link: Link, *, refundable: bool = False) -> InlineKeyboardMarkup | None:
    """Buttons under a card: manage and share it while payable, refresh (and refund) it after, replace it if expired."""
    status = LinkStatus(link.status)
    if status in (LinkStatus.CREATING, LinkStatus.FAILED):
        return None
    rows: list[list[InlineKeyboardButton]] = []
    if status == LinkStatus.ACTIVE and is_public_url(link.link_url):
        rows.append([InlineKeyboardButton(texts.open_page_button(), url=link.link_url)])
    if status == LinkStatus.ACTIVE:
        rows.append(
            [
                _card_button(texts.refresh_button(), CARD_REFRESH, link),
                _card_button(texts.cancel_link_button(), CARD_CANCEL, link),
            ]
        )
        rows.append(
            [_card_button(texts.share_button(), CARD_SHARE, link), _card_button(texts.qr_button(), CARD_QR, link)]
        )
    elif status == LinkStatus.PAID and refundable:
        rows.append(
            [
                _card_button(texts.refresh_button(), CARD_REFRESH, link),
                _card_button(texts.refund_button(), CARD_REFUND, link),
            ]
        )
    elif status == LinkStatus.EXPIRED:
        rows.append(
            [
                _card_button(texts.refresh_button(), CARD_REFRESH, link),
                _card_button(texts.new_link_button(), CARD_REISSUE, link),
            ]
        )
    else:
        rows.append([_card_button(texts.refresh_button(), CARD_REFRESH, link)])
    return InlineKeyboardMarkup(rows)


def reminder_keyboard(link: Link) -> InlineKeyboardMarkup:
    """Under the "still unpaid" reminder: send the link to the customer again, or make a new one."""
    return InlineKeyboardMarkup(
        [
            [
                _card_button(texts.share_again_button(), CARD_SHARE, link),
                _card_button(texts.new_link_button(), CARD_REISSUE, link),
            ]
        ]
    )


def cancel_question_keyboard(link: Link) -> InlineKeyboardMarkup:
    """Yes / No under the message that asks "Cancel the link …?"."""
    return InlineKeyboardMarkup(
        [
            [
                _card_button(texts.confirm_cancel_button(), CARD_CANCEL_YES, link),
                _card_button(texts.keep_button(), CARD_CANCEL_NO, link),
            ]
        ]
    )


def refund_confirm_keyboard(refund_id: int, amount: str) -> InlineKeyboardMarkup:
    """Yes / No under a refund's confirmation."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.confirm_refund_button(amount), callback_data=f"{REFUND_PREFIX}:{REFUND_YES}:{refund_id}"
                ),
                InlineKeyboardButton(
                    texts.keep_money_button(), callback_data=f"{REFUND_PREFIX}:{REFUND_NO}:{refund_id}"
                ),
            ]
        ]
    )


def _card_button(text: str, action: str, link: Link) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=card_data(action, link))


def confirm_keyboard(token: str) -> InlineKeyboardMarkup:
    """Create / Cancel under the summary of a new link; both name the summary by its draft's token."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.create_button(), callback_data=f"{CREATE}:{token}"),
                InlineKeyboardButton(texts.cancel_button(), callback_data=f"{ABORT}:{token}"),
            ]
        ]
    )


def summary_pattern(action: str) -> str:
    """The callback data of a summary's button: the action, with or without a token."""
    return f"^{action}(:|$)"


def summary_token(data: str | None) -> str | None:
    """The token a summary's button carries; None for a button from before tokens."""
    return (data or "").partition(":")[2] or None


def share_keyboard(link: Link, customer: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup:
    """Under the customer message: the customer's own buttons (in their language), then "send it on" (inline mode)."""
    rows: list[Sequence[InlineKeyboardButton]] = [
        [InlineKeyboardButton(texts.send_to_customer_button(), switch_inline_query=link.merchant_link_id)]
    ]
    if customer is not None:
        rows = [*customer.inline_keyboard, *rows]
    return InlineKeyboardMarkup(rows)


def customer_keyboard(link: Link) -> InlineKeyboardMarkup | None:
    """The customer's Pay button: while the link can be paid, and when Telegram takes its URL."""
    if link.status != LinkStatus.ACTIVE or not is_public_url(link.link_url):
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.pay_now_button(), url=link.link_url)]])


# /links buttons: "l:<status filter>:<page>:<user id>" re-renders the list of the person it is for
# (lists sent before the user id was added have none); each link's number opens its card.
LIST_PREFIX = "l"
LIST_FILTERS = ("all", "active", "paid", "expired", "cancelled")
NUMBERS_PER_ROW = 5  # one-digit buttons: five side by side still show in full


def list_data(status_filter: str, page: int, owner: int) -> str:
    """Callback data for one page of /links with one status filter, for the person whose list it is."""
    return f"{LIST_PREFIX}:{status_filter}:{page}:{owner}"


def links_keyboard(
    links: Sequence[Link], *, status_filter: str, page: int, pages: int, first_number: int, owner: int
) -> InlineKeyboardMarkup:
    """Filters in rows that fit a phone, a number per link (opens its card, as numbered in the text), the pager."""
    filters = [
        InlineKeyboardButton(
            f"• {texts.filter_name(value)}" if value == status_filter else texts.filter_name(value),
            callback_data=list_data(value, 0, owner),
        )
        for value in LIST_FILTERS
    ]
    numbers = [
        InlineKeyboardButton(texts.count(first_number + index), callback_data=card_data(CARD_OPEN, link))
        for index, link in enumerate(links)
    ]
    rows = [*button_rows(filters), *button_rows(numbers, most=NUMBERS_PER_ROW)]
    pager = []
    if page > 0:
        pager.append(
            InlineKeyboardButton(texts.previous_button(), callback_data=list_data(status_filter, page - 1, owner))
        )
    if page < pages - 1:
        pager.append(InlineKeyboardButton(texts.next_button(), callback_data=list_data(status_filter, page + 1, owner)))
    if pager:
        rows.append(pager)
    return InlineKeyboardMarkup(rows)


def open_keyboard(links: Sequence[Link]) -> InlineKeyboardMarkup | None:
    """One button per link that opens its card (for /find and /status answers)."""
    if not links:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.link_button_label(link), callback_data=card_data(CARD_OPEN, link))]
            for link in links
        ]
    )


def question_data(kind: str, value: object = "") -> str:
    """Callback data of a question's button."""
    return f"{QUESTION_PREFIX}:{kind}:{value}"


def question_cancel_button() -> InlineKeyboardButton:
    """The button that drops a question."""
    return InlineKeyboardButton(texts.question_cancel_button(), callback_data=question_data("x"))
