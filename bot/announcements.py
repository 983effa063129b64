"""What each kind of outbox message says, and how it reaches Telegram: one renderer per kind.

A renderer reads the current state from the database (a card edited late shows the link as it
is now, not as it was when queued), builds the text through the chat texts, and sends it through
the one sending path with the slot the dispatcher already booked. The dispatcher only claims,
paces and retries; what a message is lives here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup

from bot.botapi import sending
from bot.botapi.budget import Priority
from bot.botapi.errors import Undeliverable
from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.chat.card_view import card_view
from bot.i18n.clock import zone
from bot.i18n.reader import current, reading_as
from bot.money import Money
from bot.qr import qr_png
from bot.services import daily_summary as summary
from bot.services.daily_summary import SummaryPayload
from bot.services.feed import FeedEvent
from bot.services.readers import Readers
from bot.services.reports import ReportService
from bot.services.team import TeamNews
from storage import repo
from storage.db import read_session
from storage.models import Chat, Link, LinkStatus, OutboxKind, OutboxMessage, Payment, Refund, Role, utcnow

# Every outbox message is news a seller waits for: it may take any slot of the budget (replies
# and refusals made straight from handlers get only their share). Within a claim the news goes
# before the card edits that follow it.
PRIORITY = Priority.ANNOUNCE
ORDER: Mapping[OutboxKind, int] = {
    OutboxKind.PAID: 0,
    OutboxKind.CARD: 0,
    OutboxKind.ALERT: 0,
    OutboxKind.LINK_FAILED: 0,
    OutboxKind.REFUND: 0,
    OutboxKind.FEED: 0,
    OutboxKind.CARD_UPDATE: 1,
    OutboxKind.SHARED_PAID: 1,
    OutboxKind.REMINDER: 2,
    OutboxKind.NOTICE: 2,
    OutboxKind.DAILY_SUMMARY: 2,
    OutboxKind.TEAM: 2,
}


class PaidPayload(TypedDict):
    """A "paid" message: which payment it announces."""

    payment_id: int


class RefundPayload(TypedDict):
    """A "refund" message: which refund settled, and what was left to refund when it did."""

    refund_id: int
    remaining: str


class LinkFailedPayload(TypedDict):
    """A "link_failed" message: PayerMax's refusal."""

    code: str
    msg: str


class NoticePayload(TypedDict):
    """A "notice": its text (HTML) and inline keyboard (Bot API JSON), written when it was queued."""

    text: str
    buttons: dict[str, Any] | None


class AlertPayload(TypedDict, total=False):
    """An owner alert: "mismatch" or "refund_mismatch" (expected, reported, trade, refund), or "undeliverable"."""

    alert: str
    refund: str
    expected: str
    reported: str
    trade: str
    chat_id: int
    error: str
    link: str | None


@dataclass(frozen=True)
class Delivery:
    """One claimed outbox message, with what its renderer needs to send it."""

    message: OutboxMessage
    bot: sending.Bot
    sessions: async_sessionmaker[AsyncSession]
    readers: Readers | None = None  # who reads what (a customer message is in its customers' language)

    @property
    def payload(self) -> dict[str, Any]:
        """The message's payload as queued."""
        loaded = json.loads(self.message.payload)
        return loaded if isinstance(loaded, dict) else {}

    async def link(self) -> Link:
        """The link the message is about (every kind but some alerts has one)."""
        if self.message.link_id is None:
            raise Undeliverable(f"outbox message {self.message.id} names no link")
        async with read_session(self.sessions) as session:
            link = await repo.get_link(session, self.message.link_id)
        if link is None:
            raise Undeliverable(f"link {self.message.link_id} no longer exists")
        return link


async def send_card(delivery: Delivery) -> None:
    """Post the link card (QR photo and caption) and remember its message id; never a second card."""
    link = await delivery.link()
    if link.card_message_id is not None or not link.link_url:
        return  # sent before a crash and recorded (or nothing to show): never post a second card
    caption, buttons = await card_view(delivery.sessions, link)
    sent = await sending.send_photo(
        delivery.bot,
        delivery.message.chat_id,
        qr_png(link.link_url),
        caption,
        buttons=buttons,
        priority=Priority.ANNOUNCE,
        booked=True,
    )
    async with delivery.sessions() as session, session.begin():
        current = await repo.get_link(session, link.id, for_update=True) if link.id is not None else None
        if current is None:
            return
        current.card_message_id = sent.message_id
        # Where it was posted, which is where it stays: a group upgraded to a supergroup meanwhile keeps it.
        current.card_chat_id = delivery.message.chat_id
        changed_meanwhile = current.status != link.status
        if changed_meanwhile:
            # Paid (or cancelled) while the card was on its way: its edit found no card, so queue one now.
            await repo.enqueue(
                session,
                dedupe_key=f"card-late:{current.id}:{current.status}",
                kind=OutboxKind.CARD_UPDATE,
                chat_id=current.chat_id,
                link_id=current.id,
                payload={},
            )


async def update_card(delivery: Delivery) -> None:
    """Edit the card to show the link's current state; other edits queued before it are done by it too."""
    link = await delivery.link()
    if link.card_message_id is None or link.id is None:
        return  # no card yet: it will be posted showing the current state
    async with read_session(delivery.sessions) as session:
        covered = await repo.latest_pending_card_update(session, link.id)
    caption, buttons = await card_view(delivery.sessions, link)
    await sending.edit_caption(
        delivery.bot,
        link.card_chat,
        link.card_message_id,
        caption,
        buttons=buttons,
        priority=PRIORITY,
        booked=True,
    )
    if covered is not None and delivery.message.id is not None:
        # The edit showed the state as of now, which includes every change queued before it was read.
        async with delivery.sessions() as session, session.begin():
            await repo.coalesce_card_updates(session, link.id, up_to=covered, sent=delivery.message.id)


async def send_paid(delivery: Delivery) -> None:
    """Announce a payment: in the link's chat as a reply to its card, or as the creator's private copy."""
    link = await delivery.link()
    payload: PaidPayload = {"payment_id": int(delivery.payload.get("payment_id", 0))}
    async with read_session(delivery.sessions) as session:
        payment = await session.get(Payment, payload["payment_id"])
    if payment is None:
        raise Undeliverable(f"payment {payload['payment_id']} no longer exists")
    in_link_chat = delivery.message.chat_id == link.chat_id
    async with read_session(delivery.sessions) as session:
        chat = await repo.get_chat(session, link.chat_id)
    place = _place(chat)
    # In a group, where several people make links, it says whose link it was; the private copy says where.
    if in_link_chat:
        text = texts.paid_message(link, payment, made_by=place is not None)
    else:
        text = texts.paid_message(link, payment, place=place or _group_of(link))
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        text,
        reply_to=_card_here(link, delivery.message.chat_id),
        priority=Priority.ANNOUNCE,
        booked=True,
    )


async def send_refund(delivery: Delivery) -> None:
    """Tell a chat how a refund ended: refunded, failed, or not made (a reply to the card in the card's chat)."""
    link = await delivery.link()
    payload: RefundPayload = {
        "refund_id": int(delivery.payload.get("refund_id", 0)),
        "remaining": str(delivery.payload.get("remaining", "0")),
    }
    async with read_session(delivery.sessions) as session:
        refund = await session.get(Refund, payload["refund_id"])
    if refund is None:
        raise Undeliverable(f"refund {payload['refund_id']} no longer exists")
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        texts.refund_message(link, refund, Decimal(payload["remaining"])),
        reply_to=_card_here(link, delivery.message.chat_id),
        priority=Priority.ANNOUNCE,
        booked=True,
    )


async def send_link_failed(delivery: Delivery) -> None:
    """Tell the chat a link it asked for could not be made after all."""
    link = await delivery.link()
    payload = delivery.payload
    failed: LinkFailedPayload = {"code": str(payload.get("code", "")), "msg": str(payload.get("msg", ""))}
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        texts.link_failed(link, failed["code"], failed["msg"]),
        priority=Priority.ANNOUNCE,
        booked=True,
    )


async def send_alert(delivery: Delivery) -> None:
    """Warn an owner: a payment that does not match its link, or a message that could not be delivered."""
    payload: AlertPayload = {**delivery.payload}  # type: ignore[typeddict-item]
    if payload.get("alert") == "refund_mismatch":
        text = texts.refund_mismatch_alert(
            str(payload.get("refund", "")),
            str(payload.get("expected", "")),
            str(payload.get("reported", "")),
            str(payload.get("trade", "")),
        )
    elif payload.get("alert") == "mismatch":
        link_id = (await delivery.link()).merchant_link_id if delivery.message.link_id else "?"
        text = texts.mismatch_alert(
            link_id, str(payload.get("expected", "")), str(payload.get("reported", "")), str(payload.get("trade", ""))
        )
    else:
        text = texts.undeliverable_alert(
            int(payload.get("chat_id", 0)), payload.get("link"), str(payload.get("error", ""))
        )
    await sending.send_text(delivery.bot, delivery.message.chat_id, text, priority=Priority.ANNOUNCE, booked=True)


async def send_notice(delivery: Delivery) -> None:
    """Send a message as it was written when queued (it follows the chat's card, never overtakes it)."""
    payload = delivery.payload
    notice: NoticePayload = {"text": str(payload.get("text", "")), "buttons": payload.get("buttons")}
    buttons = InlineKeyboardMarkup.de_json(notice["buttons"], None) if notice["buttons"] else None
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        Markup(notice["text"]),
        buttons=buttons,
        priority=Priority.ANNOUNCE,
        booked=True,
    )


async def send_reminder(delivery: Delivery) -> None:
    """Remind the link's creator it is unpaid, with Share again and New link; nothing if settled meanwhile."""
    link = await delivery.link()
    if link.status != LinkStatus.ACTIVE or link.expires_at is None or link.expires_at <= utcnow():
        return  # paid, cancelled or expired since it was queued: a reminder would be wrong now
    async with read_session(delivery.sessions) as session:
        chat = await repo.get_chat(session, link.chat_id)
    in_link_chat = delivery.message.chat_id == link.chat_id
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        texts.reminder(link, None if in_link_chat else _place(chat)),
        buttons=keyboards.reminder_keyboard(link),
        reply_to=_card_here(link, delivery.message.chat_id),
        priority=Priority.ANNOUNCE,
        booked=True,
    )


async def send_daily_summary(delivery: Delivery) -> None:
    """Write the chat's report for the queued period now, in the chat's language and calendar, and send it."""
    payload: SummaryPayload = {**delivery.payload}  # type: ignore[typeddict-item]
    scope = summary.scope_of(payload)
    report = await ReportService(delivery.sessions).build(scope, summary.period_of(payload), zone(current().timezone))
    await sending.send_text(
        delivery.bot,
        delivery.message.chat_id,
        texts.report_text(report, scope, summary=True),
        priority=Priority.ANNOUNCE,
        booked=True,
    )


class FeedPayload(TypedDict, total=False):
    """A payments feed post (bot.services.feed): the event, its reference, and the payment or the refunded amount."""

    event: str
    reference: str
    payment_id: int
    amount: str
    currency: str


async def send_feed(delivery: Delivery) -> None:
    """Post a payment (or refund) of the team in the payments feed: who made the link, and in which chat."""
    link = await delivery.link()
    payload: FeedPayload = {**delivery.payload}  # type: ignore[typeddict-item]
    event = FeedEvent(payload.get("event", FeedEvent.PAID))
    async with read_session(delivery.sessions) as session:
        chat = await repo.get_chat(session, link.chat_id)
        payment = await session.get(Payment, int(payload.get("payment_id", 0))) if event == FeedEvent.PAID else None
    place = _place(chat)
    if event == FeedEvent.PAID:
        if payment is None:
            raise Undeliverable(f"payment {payload.get('payment_id')} no longer exists")
        text = texts.feed_paid(link, payment, place)
    else:
        amount = Money(Decimal(payload.get("amount") or link.amount), payload.get("currency") or link.currency)
        reference = str(payload.get("reference", ""))
        text = texts.feed_refund(link, amount, reference, place, failed=event == FeedEvent.REFUND_FAILED)
    await sending.send_text(delivery.bot, delivery.message.chat_id, text, priority=Priority.ANNOUNCE, booked=True)


async def update_shared(delivery: Delivery) -> None:
    """Make a customer message posted for a link (Share) say it was paid, thank you: no Pay button any more."""
    link = await delivery.link()
    if link.status != LinkStatus.PAID:
        return
    message_id = int(delivery.payload.get("message_id", 0))
    customers = await delivery.readers.customers_of(link.chat_id) if delivery.readers is not None else current()
    with reading_as(customers):
        text = texts.customer_message(link)
    await sending.edit_text(
        delivery.bot,
        delivery.message.chat_id,
        message_id,
        text,
        buttons=keyboards.share_keyboard(link, None),  # "send it on", in the words of the chat it is in
        priority=PRIORITY,
        booked=True,
    )


def _card_here(link: Link, chat_id: int) -> int | None:
    """The card's message id to reply to, when the card is in this chat: an id means nothing in another chat."""
    return link.card_message_id if link.card_chat == chat_id else None


def _place(chat: Chat | None) -> str | None:
    """A group's title for "made in …" (None for a private chat; an untitled group by its id)."""
    if chat is None or chat.type == "private":
        return None
    return chat.title or str(chat.id)


async def send_team_news(delivery: Delivery) -> None:
    """Tell one person of a team change: their invite was used, or they were taken off the team."""
    news: TeamNews = {**delivery.payload}  # type: ignore[typeddict-item]
    role = Role(str(news.get("role", Role.AGENT.value)))
    if news.get("news") == "removed":
        text = texts.you_were_removed(role, str(news.get("name", "")))
    else:
        user_id = int(news.get("user_id", 0))
        async with read_session(delivery.sessions) as session:
            person = await repo.get_person(session, user_id)
        was = news.get("was")
        text = texts.invite_used(
            (person.name if person else "") or str(news.get("name", "")),
            user_id,
            person.username if person else None,
            role,
            Role(was) if was in set(Role) else None,
        )
    await sending.send_text(delivery.bot, delivery.message.chat_id, text, priority=Priority.ANNOUNCE, booked=True)


def _group_of(link: Link) -> str | None:
    """A link's chat when the bot knows nothing of it but its id: a group's id is negative."""
    return str(link.chat_id) if link.chat_id < 0 else None


Renderer = Callable[[Delivery], Awaitable[None]]

RENDERERS: Mapping[OutboxKind, Renderer] = {
    OutboxKind.CARD: send_card,
    OutboxKind.CARD_UPDATE: update_card,
    OutboxKind.PAID: send_paid,
    OutboxKind.REFUND: send_refund,
    OutboxKind.LINK_FAILED: send_link_failed,
    OutboxKind.ALERT: send_alert,
    OutboxKind.NOTICE: send_notice,
    OutboxKind.REMINDER: send_reminder,
    OutboxKind.FEED: send_feed,
    OutboxKind.DAILY_SUMMARY: send_daily_summary,
    OutboxKind.TEAM: send_team_news,
    OutboxKind.SHARED_PAID: update_shared,
}
