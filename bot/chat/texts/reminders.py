"""The "still unpaid" reminder, making a new link in an old one's place, and the payments feed."""

from __future__ import annotations

from bot.chat.texts.base import (
    NAME_UNITS,
    Markup,
    _,
    clip,
    join,
    ltr,
    money,
    money_of,
    name_of,
    plain,
    sandbox_banner,
    t,
    when,
)
from bot.chat.texts.cards import paid_message
from bot.money import Money
from storage.models import Link, Payment


def reminder(link: Link, place: str | None) -> Markup:
    """To a link's creator some time before it expires: the amount first, then what and until when."""
    lines = [
        t(_("⏰ <b>Still unpaid: {amount}</b>"), amount=money_of(link)),
        t("{description}", description=link.description),
    ]
    if place:
        lines.append(
            t(
                _("Made in {chat}, link <code>{link_id}</code>"),
                chat=ltr(clip(place, NAME_UNITS)),
                link_id=ltr(link.merchant_link_id),
            )
        )
    else:
        lines.append(t(_("Link ID <code>{link_id}</code>"), link_id=ltr(link.merchant_link_id)))
    lines.append(
        t(
            _("It expires {when}. Share it again, or make a new link if the customer needs more time."),
            when=when(link.expires_at),
        )
    )
    if link.sandbox:
        lines.append(sandbox_banner())
    return join(lines)


def share_again_button() -> str:
    return _("📤 Share again")


def new_link_button() -> str:
    return _("🆕 New link")


def making_new_link() -> str:
    """The pop-up while a new link is made in an old one's place (plain text)."""
    return _("Making a new link with the same amount and description…")


def already_reissued() -> str:
    """New link pressed again, here or on another message about the same link (plain text)."""
    return _("A new link was already made for this one: its card is in the chat where this link was made.")


def paid_no_new_link(link: Link) -> str:
    """New link pressed for a link that was paid (plain text)."""
    return plain(_("No new link needed: this link was paid {when}."), when=when(link.paid_at))


# --- the payments feed ------------------------------------------------------------------------


def _made_by(link: Link, place: str | None) -> Markup:
    """Who made the link and where."""
    person = name_of(link.creator_name, link.creator_user_id)
    if place:
        return t(_("Link by {person} in {chat}"), person=person, chat=ltr(clip(place, NAME_UNITS)))
    return t(_("Link by {person} in their private chat"), person=person)


def feed_paid(link: Link, payment: Payment, place: str | None) -> Markup:
    """A payment in the payments feed: the amount, what for, who made the link and where, how it was paid."""
    return paid_message(link, payment, about=_made_by(link, place))


def feed_refund(link: Link, amount: Money, reference: str, place: str | None, *, failed: bool) -> Markup:
    """A refund (or a refund PayerMax could not make) in the payments feed."""
    headline = (
        t(_("⚠️ <b>Refund failed: {amount}</b>"), amount=money(amount))
        if failed
        else t(_("↩️ <b>Refunded: {amount}</b>"), amount=money(amount))
    )
    lines = [
        headline,
        t("{description}", description=link.description),
        _made_by(link, place),
        t(
            _("Refund <code>{refund}</code> · link <code>{link_id}</code>"),
            refund=ltr(reference),
            link_id=ltr(link.merchant_link_id),
        ),
    ]
    if link.sandbox:
        lines.append(sandbox_banner())
    return join(lines)
