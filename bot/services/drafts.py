"""The /newlink conversation's state, and questions asked before a link, kept in the database so any replica
can continue them.

A /newlink summary is named by a token written with the description it shows, before it is sent,
and carried in its buttons' data. Telegram shows the summary (and lets the seller press Create)
before the Bot API answers the send with its message id, so the id cannot name it in time; the
token can. The draft keeps the token in the request key of the link it will make, so a press
matches the current summary exactly, and every press of that summary makes the same one link.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.money import Money
from storage import repo
from storage.db import read_session
from storage.models import DraftStep, utcnow

Step = DraftStep  # the conversation's steps, as the handlers name them

DRAFT_LIFETIME = timedelta(hours=1)  # an abandoned conversation does not ambush a later message


def summary_request_key(chat_id: int, token: str) -> str:
    """The request key of the link a /newlink summary (named by its token) makes."""
    return f"summary:{chat_id}:{token}"


@dataclass(frozen=True)
class DraftView:
    """A draft as the handlers see it."""

    step: Step
    money: Money | None
    description: str | None
    summary_message_id: int | None  # only in drafts written before summaries carried a token
    # The request key of the link this draft makes: the message that asked for it while a question is
    # pending; at the summary, summary_request_key() of the summary's token.
    request_key: str | None = None
    question: dict[str, Any] | None = None  # what was asked and offered (see bot.chat.questions)


class DraftService:
    """Start, advance, read and drop /newlink drafts."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def start(self, chat_id: int, user_id: int) -> None:
        """Begin (or restart) a draft at the amount step."""
        async with self._sessions() as session, session.begin():
            # One upsert, not delete-then-insert: two /newlink at once (a double tap) would both
            # find nothing to delete and the second insert would fail on the key.
            await repo.restart_draft(session, chat_id, user_id, step=Step.AMOUNT, now=utcnow())

    async def get(self, chat_id: int, user_id: int) -> DraftView | None:
        """The live draft of this person in this chat, if any."""
        async with read_session(self._sessions) as session:
            draft = await repo.get_draft(session, chat_id, user_id)
        if draft is None or utcnow() - draft.updated_at > DRAFT_LIFETIME:
            return None
        money = Money(draft.amount, draft.currency) if draft.amount is not None and draft.currency else None
        question = json.loads(draft.choices) if draft.choices else None
        return DraftView(
            Step(draft.step), money, draft.description, draft.summary_message_id, draft.request_key, question
        )

    async def ask(
        self,
        chat_id: int,
        user_id: int,
        step: Step,
        question: dict[str, Any],
        *,
        request_key: str | None,
        description: str | None,
    ) -> None:
        """Remember a question asked before a link is made (replacing any draft of this person here)."""
        async with self._sessions() as session, session.begin():
            await repo.restart_draft(
                session,
                chat_id,
                user_id,
                step=step,
                now=utcnow(),
                request_key=request_key,
                choices=json.dumps(question, default=str),
                description=description,
            )

    async def set_question(self, chat_id: int, user_id: int, step: Step, question: dict[str, Any]) -> None:
        """Move a pending question on to its next step (an amount was chosen; now which currency)."""
        await self._update(chat_id, user_id, step=step, choices=json.dumps(question, default=str))

    async def set_amount(self, chat_id: int, user_id: int, money: Money) -> None:
        """Record the amount and move on to the description."""
        await self._update(
            chat_id, user_id, step=Step.DESCRIPTION, amount=money.amount, currency=money.currency, choices=None
        )

    async def set_description(self, chat_id: int, user_id: int, description: str) -> str:
        """Record the description and move on to confirmation; the token that names the summary to send."""
        # Fresh for every summary: of two sent at once (two descriptions typed quickly), only the one
        # written last can be confirmed, and it shows the description the draft holds.
        token = secrets.token_urlsafe(9)
        await self._update(
            chat_id,
            user_id,
            step=Step.CONFIRM,
            description=description,
            request_key=summary_request_key(chat_id, token),
        )
        return token

    async def discard(self, chat_id: int, user_id: int) -> bool:
        """Drop the draft; tell whether there was one."""
        async with self._sessions() as session, session.begin():
            return await repo.delete_draft(session, chat_id, user_id)

    async def _update(self, chat_id: int, user_id: int, **values: object) -> None:
        async with self._sessions() as session, session.begin():
            draft = await repo.get_draft(session, chat_id, user_id)
            if draft is None:
                return
            for name, value in values.items():
                setattr(draft, name, value)
            draft.updated_at = utcnow()
