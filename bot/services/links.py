"""Creating payment links: the intent is stored first, then PayerMax is asked, idempotently.

One request (a Telegram message or button press, named by ``request_key``) makes at most one
link: the CREATING row with our ``merchantLinkId`` is committed before PayerMax is called, a
call whose outcome is unknown is retried with the same id, and ``queryPaybylink`` settles what
retries cannot. The link card is queued in the outbox in the same transaction that marks the
link ACTIVE, so a crash after PayerMax answered still shows the card exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.money import Money
from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import ApiError, PayerMaxError, TransportError
from bot.payermax.models import CreateLinkRequest, LinkInfo
from bot.services.actors import Actor
from bot.services.reminders import remind_at
from storage import repo
from storage.db import read_session
from storage.details import DetailKind, detail
from storage.models import AuditAction, Link, LinkEventKind, LinkStatus, OutboxKind, stored_id, utcnow

log = logging.getLogger("paylink.links")

MERCHANT_LINK_PREFIX = "PL"
# A CREATING row older than this has no live handler settling it: the reconciler takes over.
CREATING_GRACE = timedelta(minutes=2)
# First look at an ACTIVE link in case its notification is lost.
FIRST_CHECK_AFTER = timedelta(minutes=3)
# A link PayerMax never made is not made later than this after the request: the moment has passed.
GIVE_UP_CREATING_AFTER = timedelta(hours=1)
# Codes that mean "PayerMax may already have this link": ask it instead of guessing.
_ALREADY_EXISTS_CODES = frozenset({"ORDER_REPEAT"})


class LinkError(Exception):
    """Base of what can go wrong when making a link."""


class LinkRefused(LinkError):
    """PayerMax refused to create the link; ``code`` and ``msg`` say why."""

    def __init__(self, link: Link, code: str, msg: str) -> None:
        super().__init__(f"PayerMax refused link {link.merchant_link_id}: {code} {msg}")
        self.link, self.code, self.msg = link, code, msg


class LinkPending(LinkError):
    """PayerMax could not be reached; the link stays CREATING and is settled later."""

    def __init__(self, link: Link, cause: Exception) -> None:
        super().__init__(f"link {link.merchant_link_id} is not confirmed yet: {cause}")
        self.link, self.cause = link, cause


def new_merchant_link_id() -> str:
    """A fresh id for PayerMax: short enough to read aloud to support, 60 random bits."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
    return MERCHANT_LINK_PREFIX + "".join(secrets.choice(alphabet) for _ in range(12))


def looks_like_ours(merchant_link_id: str) -> bool:
    """Tell whether a merchantLinkId has the shape this bot gives its links."""
    return merchant_link_id.startswith(MERCHANT_LINK_PREFIX) and len(merchant_link_id) == len(MERCHANT_LINK_PREFIX) + 12


def reissue_key(link: Link) -> str:
    """The request key of the link made in this one's place: the same for every press, so it is made once."""
    return f"reissue:{link.id}"


@dataclass(frozen=True)
class LinkOrder:
    """What a person asked for, with the chat's settings already applied."""

    chat_id: int
    chat_type: str
    chat_title: str | None
    user_id: int
    user_name: str
    money: Money
    description: str
    country: str
    language: str
    expires_seconds: int
    request_key: str | None = None


@dataclass(frozen=True)
class CreateResult:
    """The link, and whether this call made it (False: an earlier identical request did)."""

    link: Link
    created: bool


class LinkService:
    """Creates links at PayerMax without ever making two for one request."""

    CREATED = "created"
    REFUSED = "refused"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: PayerMaxClient,
        *,
        notify_url: str,
        contact_email: str,
        logo_url: str | None,
        sandbox: bool,
        retry_delays: Sequence[float] = (0.5, 1.5, 3.0),
        on_enqueued: Callable[[], None] = lambda: None,
        on_outcome: Callable[[str], None] = lambda result: None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._notify_url = notify_url
        self._contact_email = contact_email
        self._logo_url = logo_url or None
        self._sandbox = sandbox
        self._retry_delays = tuple(retry_delays)
        self._on_enqueued = on_enqueued
        self._on_outcome = on_outcome  # told CREATED or REFUSED once per link, for the metrics

    async def create(self, order: LinkOrder) -> CreateResult:
        """Store the intent, then have PayerMax make the link; repeats of a request return the first link."""
        link, created = await self._store_intent(order)
        if created:
            return CreateResult(await self.settle(link), created=True)
        if link.status == LinkStatus.CREATING and utcnow() - link.created_at > CREATING_GRACE:
            return CreateResult(await self.recover(link), created=False)  # its first handler is gone
        # The first request is still settling it (or already did): never a second PayerMax call.
        return CreateResult(link, created=False)

    async def reissue(self, link: Link, actor: Actor) -> CreateResult:
        """A fresh link in this one's place (PayerMax links cannot be extended): same chat, amount, currency,
        description and validity, made by ``actor``; one per link however often or by whom it is asked for."""
        async with read_session(self._sessions) as session:
            chat = await repo.get_chat(session, link.chat_id)
        order = LinkOrder(
            chat_id=link.chat_id,
            chat_type=chat.type if chat is not None else ("private" if link.chat_id > 0 else "group"),
            chat_title=chat.title if chat is not None else None,
            user_id=actor.user_id,
            user_name=actor.name,
            money=Money(link.amount, link.currency),
            description=link.description,
            country=link.country,
            language=link.language,
            expires_seconds=link.expires_seconds,
            request_key=reissue_key(link),
        )
        return await self.create(order)

    async def exists(self, request_key: str) -> bool:
        """Tell whether this request already made (or is making) a link."""
        async with read_session(self._sessions) as session:
            return await repo.get_link_by_request_key(session, request_key) is not None

    async def settle(self, link: Link) -> Link:
        """Bring a CREATING link to ACTIVE or FAILED by asking PayerMax (create, else query)."""
        request = self._request_for(link)
        last_error: Exception | None = None
        maybe_created = False  # did any attempt possibly reach PayerMax and make the link?
        for attempt, delay in enumerate((0.0, *self._retry_delays)):
            if delay:
                await asyncio.sleep(delay)
            try:
                info = await self._client.create_paybylink(request)
            except ApiError as exc:
                if exc.code in _ALREADY_EXISTS_CODES:
                    return await self._settle_by_query(link, exc, maybe_created=True)
                if exc.retryable:
                    last_error = exc
                    continue
                return await self._mark_failed(link, exc.code, exc.msg)
            except TransportError as exc:
                log.warning("createPaybylink attempt %d for %s failed: %s", attempt + 1, link.merchant_link_id, exc)
                last_error = exc
                maybe_created = maybe_created or exc.outcome_unknown
                continue
            except PayerMaxError as exc:  # bad signature or malformed answer: do not trust it, ask again
                last_error = exc
                maybe_created = True
                continue
            return await self._mark_active(link, info)
        assert last_error is not None
        return await self._settle_by_query(link, last_error, maybe_created=maybe_created)

    async def recover(self, link: Link) -> Link:
        """Finish a CREATING link whose handler is gone: PayerMax's view first, then create."""
        try:
            info = await self._client.query_paybylink(link.merchant_link_id)
        except ApiError as exc:
            if exc.code != "ORDER_NOT_EXIST":
                raise LinkPending(link, exc) from exc
            if utcnow() - link.created_at > GIVE_UP_CREATING_AFTER:
                return await self._mark_failed(
                    link, "NOT_CREATED", "PayerMax could not be reached in time; nothing was created"
                )
            return await self.settle(link)
        except PayerMaxError as exc:
            raise LinkPending(link, exc) from exc
        return await self._mark_active(link, info)

    async def _settle_by_query(self, link: Link, cause: Exception, *, maybe_created: bool) -> Link:
        """When creating gave no clear answer, PayerMax's view of the link decides."""
        try:
            info = await self._client.query_paybylink(link.merchant_link_id)
        except ApiError as exc:
            if exc.code == "ORDER_NOT_EXIST" and not maybe_created:
                # Never created, and no attempt is in flight that might still create it.
                code = cause.code if isinstance(cause, ApiError) else "UNREACHABLE"
                msg = cause.msg if isinstance(cause, ApiError) else str(cause)
                return await self._mark_failed(link, code, msg)
            raise LinkPending(link, exc) from exc
        except PayerMaxError as exc:
            raise LinkPending(link, exc) from exc
        return await self._mark_active(link, info)

    async def _store_intent(self, order: LinkOrder) -> tuple[Link, bool]:
        """Commit the CREATING row first; a repeated request key finds the first row instead."""
        if order.request_key:
            async with read_session(self._sessions) as session:
                existing = await repo.get_link_by_request_key(session, order.request_key)
            if existing is not None:
                return existing, False
        link = Link(
            merchant_link_id=new_merchant_link_id(),
            request_key=order.request_key,
            chat_id=order.chat_id,
            creator_user_id=order.user_id,
            creator_name=order.user_name[:128],
            amount=order.money.amount,
            currency=order.money.currency,
            country=order.country,
            language=order.language,
            description=order.description,
            expires_seconds=order.expires_seconds,
            status=LinkStatus.CREATING,
            sandbox=self._sandbox,
            next_check_at=utcnow() + CREATING_GRACE,
        )
        try:
            async with self._sessions() as session, session.begin():
                await repo.upsert_chat(session, order.chat_id, order.chat_type, order.chat_title)
                session.add(link)
                await session.flush()
                await repo.record_link_action(
                    session,
                    link,
                    actor_user_id=order.user_id,
                    actor_name=order.user_name,
                    chat_id=order.chat_id,
                    kind=LinkEventKind.REQUESTED,
                    action=AuditAction.CREATE_LINK,
                    timeline_detail=detail(
                        DetailKind.REQUESTED,
                        amount=order.money.amount,
                        currency=order.money.currency,
                        by=order.user_name,
                        chat_title=None if order.chat_type == "private" else (order.chat_title or ""),
                    ),
                    audit_detail=detail(
                        DetailKind.LINK,
                        amount=order.money.amount,
                        currency=order.money.currency,
                        description=order.description,
                    ),
                )
        except IntegrityError:
            # The same request raced us between the look-up and the insert: theirs wins.
            if not order.request_key:
                raise
            async with read_session(self._sessions) as session:
                existing = await repo.get_link_by_request_key(session, order.request_key)
            if existing is None:
                raise
            return existing, False
        log.info("link intent stored", extra={"link": link.merchant_link_id, "chat": link.chat_id})
        return link, True

    def _request_for(self, link: Link) -> CreateLinkRequest:
        return CreateLinkRequest(
            merchant_link_id=link.merchant_link_id,
            total_amount=link.amount,
            currency=link.currency,
            country=link.country,
            description=link.description,
            notify_url=self._notify_url,
            user_id=str(link.creator_user_id),
            username=link.creator_name or None,
            expires_seconds=link.expires_seconds,
            language=link.language,
            link_description=f"telegram chat {link.chat_id}",
            contact_email=self._contact_email,
            logo_url=self._logo_url,
        )

    async def _mark_active(self, link: Link, info: LinkInfo) -> Link:
        """Store PayerMax's answer and queue the link card, once."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, stored_id(link), for_update=True)
            assert current is not None
            settled_now = current.status in (LinkStatus.CREATING, LinkStatus.FAILED)
            if settled_now:
                current.status = LinkStatus.EXPIRED if info.link_status == "EXPIRED" else LinkStatus.ACTIVE
                current.payermax_link_id = info.link_id
                current.link_url = info.link_url
                current.qr_code_url = info.qr_code_url
                current.expires_at = info.expires_at.astimezone(UTC) if info.expires_at else None
                current.failure_code = current.failure_message = None
                current.updated_at = utcnow()
                current.next_check_at = utcnow() + FIRST_CHECK_AFTER
                if current.status == LinkStatus.ACTIVE:
                    chat = await repo.get_chat(session, current.chat_id)
                    setting = chat.reminder_seconds if chat is not None else None
                    current.remind_at = remind_at(current.expires_at, current.expires_seconds, setting)
                await repo.add_link_event(
                    session,
                    stored_id(current),
                    LinkEventKind.CREATED,
                    detail(DetailKind.CREATED, payermax_link_id=info.link_id, status=str(current.status)),
                )
                await repo.enqueue(
                    session,
                    dedupe_key=f"card:{current.id}",
                    kind=OutboxKind.CARD,
                    chat_id=current.chat_id,
                    link_id=current.id,
                    payload={},
                )
        self._on_enqueued()
        if settled_now:
            self._on_outcome(self.CREATED)
        log.info(
            "link active", extra={"link": current.merchant_link_id, "chat": current.chat_id, "status": current.status}
        )
        return current

    async def _mark_failed(self, link: Link, code: str, msg: str) -> Link:
        """Record PayerMax's refusal; the person is told by the caller."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, stored_id(link), for_update=True)
            assert current is not None
            refused_now = current.status == LinkStatus.CREATING
            if refused_now:
                current.status = LinkStatus.FAILED
                current.failure_code, current.failure_message = code[:64], msg[:512]
                current.updated_at = utcnow()
                current.next_check_at = None
                await repo.add_link_event(
                    session,
                    stored_id(current),
                    LinkEventKind.FAILED,
                    detail(DetailKind.REFUSED, code=code[:64], message=msg[:400]),
                )
        if refused_now:
            self._on_outcome(self.REFUSED)
        log.warning("link refused", extra={"link": link.merchant_link_id, "chat": link.chat_id, "status": code})
        if current.status == LinkStatus.FAILED:
            raise LinkRefused(current, code, msg)
        return current
