"""The typed context every handler gets: the services, and who is acting where.

Following python-telegram-bot's ``contexttypesbot`` example, the application is built with
``ContextTypes(context=PaylinkContext, bot_data=BotData)``, so handlers read
``context.services.links`` with types instead of digging in ``bot_data`` by string.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.botapi.pacing import SendArgs
from bot.services.access import AccessService
from bot.services.actors import Actor
from bot.services.audit import AuditLog
from bot.services.chat_defaults import ChatDefaultsService
from bot.services.chat_moves import ChatMoves
from bot.services.drafts import DraftService
from bot.services.exports import ExportService
from bot.services.feed import PaymentsFeed
from bot.services.link_access import LinkAccess
from bot.services.link_actions import LinkActions
from bot.services.link_queries import LinkQueries
from bot.services.links import LinkService
from bot.services.notices import RefusalNotices
from bot.services.people import PeopleService
from bot.services.readers import Readers
from bot.services.refunds import RefundService
from bot.services.reports import ReportService
from bot.services.shared import SharedMessages
from bot.services.team import TeamService
from bot.services.update_claims import UpdateClaims


@dataclass(frozen=True)
class Services:
    """What the handlers need from the rest of the bot."""

    links: LinkService
    chat_defaults: ChatDefaultsService
    drafts: DraftService
    update_claims: UpdateClaims
    access: AccessService
    team: TeamService
    audit: AuditLog
    link_access: LinkAccess
    link_queries: LinkQueries
    link_actions: LinkActions
    notices: RefusalNotices
    people: PeopleService
    readers: Readers
    refunds: RefundService
    feed: PaymentsFeed
    reports: ReportService
    exports: ExportService
    environment: str  # PAYERMAX_ENV: sandbox, uat or production (what /start tells people)
    shared: SharedMessages
    chat_moves: ChatMoves  # a group upgraded to a supergroup: its rows move to the new chat id


class BotData:
    """The application's bot_data: the services, set once while the application is built."""

    def __init__(self) -> None:
        self.services: Services | None = None


class PaylinkContext(CallbackContext[ExtBot[SendArgs], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with the services at hand."""

    @property
    def services(self) -> Services:
        """The bot's services (always set before the first update is handled)."""
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("the services were not attached to the application")
        return services


CONTEXT_TYPES = ContextTypes(context=PaylinkContext, bot_data=BotData)
PaylinkApplication = Application[ExtBot[SendArgs], PaylinkContext, dict[Any, Any], dict[Any, Any], BotData, Any]


def sender(update: Update) -> User:
    """The person behind the update (every update a handler here takes has one)."""
    user = update.effective_user
    if user is None:
        raise ValueError(f"update {update.update_id} has no sender")
    return user


# The chat an update is about when it differs from the one it came from (see moved_here), with its update.
_moved_chat: ContextVar[tuple[Update, Chat] | None] = ContextVar("moved_chat", default=None)


def moved_here(update: Update, chat: Chat) -> None:
    """Read this update as happening in ``chat`` from here on (a button pressed in a group that became a supergroup).

    Set before the handlers run, in the task that runs them all, like the reader; the pressed message
    itself is still where it is (``update.effective_message.chat``), and edits of it go there.
    """
    _moved_chat.set((update, chat))


def where(update: Update) -> Chat | None:
    """The chat the update is about: where it happened, or the supergroup that group became."""
    moved = _moved_chat.get()
    if moved is not None and moved[0] is update:
        return moved[1]
    return update.effective_chat


def chat_of(update: Update) -> Chat:
    """The chat the update is about (for storage, settings and new messages; see :func:`where`)."""
    chat = where(update)
    if chat is None:
        raise ValueError(f"update {update.update_id} has no chat")
    return chat


def message_of(update: Update) -> Message:
    """The message the update carries (a command or a text)."""
    message = update.effective_message
    if message is None:
        raise ValueError(f"update {update.update_id} has no message")
    return message


def query_of(update: Update) -> CallbackQuery:
    """The button press the update carries."""
    query = update.callback_query
    if query is None:
        raise ValueError(f"update {update.update_id} is not a button press")
    return query


def actor(update: Update) -> Actor:
    """The person behind an update, as the services record them (name and the chat they acted in)."""
    user = sender(update)
    chat = where(update)
    return Actor(user.id, user.full_name, chat.id if chat else None)


def reply_target(update: Update) -> int | None:
    """The update's message to reply to with a new message, unless that message is in another chat than the reply."""
    message, chat = update.effective_message, where(update)
    if message is None or chat is None or message.chat.id != chat.id:
        return None  # a message id means nothing in another chat
    return message.message_id


def arguments(update: Update) -> str:
    """Everything after the command, as typed."""
    parts = (message_of(update).text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
