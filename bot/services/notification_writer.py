"""Group commit for PAYBYLINK notifications: every delivery waiting at once shares one transaction.

Each notify request hands its verified notification to :meth:`NotificationWriter.submit` and
waits. One writer task takes everything queued (up to ``max_batch``) and applies it with
:meth:`PaymentService.apply_link_notifications`: a handful of set-based statements and a single
commit instead of a dozen statements and a commit per notification (on SQLite, run whole on the
writer's own database thread: see :class:`storage.db.BatchTransactions`). A request is answered
only after its batch committed, so an acknowledged notification is exactly as durable as before.
With one writer, notifications no longer queue on SQLite's write lock either (each BEGIN
IMMEDIATE used to sleep in the busy handler while another request held it).

If a batch fails, its notifications are applied again one by one through PaymentService, so one
bad notification fails alone; if it failed because the database is unreachable, every request in
it gets that error at once instead. PAYMENT notifications (rare, and they need a lookup first) and
anything submitted while the writer is not running take that per-notification path directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.payermax.models import Notification
from bot.services.payments import Outcome, PaymentService
from storage.db import BatchTransactions
from storage.outage import is_outage

log = logging.getLogger("paylink.notify")


@dataclass
class _Waiting:
    """A submitted notification and the request waiting for its outcome."""

    notification: Notification
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def resolve(self, outcome: Outcome) -> None:
        if not self.answer.done():  # the request may have been cancelled meanwhile
            self.answer.set_result(outcome)

    def fail(self, error: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(error)


class NotificationWriter:
    """Applies PAYBYLINK notifications in batches from a single task; start it before serving, close it after."""

    MAX_BATCH = 128  # bounds one transaction's size and the statements' parameter counts
    # After writing a batch, wait this long before taking the next (a group-commit delay, like
    # PostgreSQL's commit_delay). Under load the answers just sent bring their senders' next
    # deliveries back within about a millisecond; one batch of thirty costs far less than two of
    # fifteen, and the event loop is not fighting the batch thread for the GIL meanwhile. An idle
    # writer takes a new delivery at once, so a lone notification is never delayed.
    GATHER_SECONDS = 0.001

    def __init__(self, payments: PaymentService, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self._payments = payments
        self._transactions = BatchTransactions(engine)
        self._max_batch = max_batch
        # None marks the end: close() puts it behind everything already submitted.
        self._queue: asyncio.Queue[_Waiting | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._accepting = False

    def start(self) -> None:
        """Start the writer task in the running event loop."""
        if self._task is not None:
            raise RuntimeError("the notification writer was already started")
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="notification-writer")

    async def close(self) -> None:
        """Stop taking notifications, write every one already waiting, and end the task."""
        if self._task is None or not self._accepting:
            return
        self._accepting = False
        self._queue.put_nowait(None)
        await self._task
        await self._transactions.close()

    async def __aenter__(self) -> NotificationWriter:
        self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def submit(self, notification: Notification) -> Outcome:
        """Apply a verified notification and return its outcome once it is committed."""
        if notification.link is None or not self._accepting:
            return await self._payments.apply_notification(notification)
        waiting = _Waiting(notification)
        self._queue.put_nowait(waiting)
        return await waiting.answer

    async def _run(self) -> None:
        """Write batches until the end marker; whatever is left unanswered when the task dies fails loudly."""
        batch: list[_Waiting] = []
        try:
            ended = False
            while not ended:
                item = await self._queue.get()
                while item is not None:
                    batch.append(item)
                    if len(batch) >= self._max_batch or self._queue.empty():
                        break
                    item = self._queue.get_nowait()
                ended = item is None
                if batch:
                    await self._write(batch)
                    if not ended and self._queue.qsize() < self._max_batch:
                        await asyncio.sleep(self.GATHER_SECONDS)
                batch = []
        finally:
            # Only reached with items if the task was cancelled: their requests must not hang.
            stopped = RuntimeError("the notification writer stopped")
            for waiting in batch:
                waiting.fail(stopped)
            while not self._queue.empty():
                if (leftover := self._queue.get_nowait()) is not None:
                    leftover.fail(stopped)

    async def _write(self, batch: list[_Waiting]) -> None:
        """Apply one batch in one transaction; on failure, apply its notifications one at a time."""
        try:
            outcomes = await self._payments.apply_link_notifications(
                [waiting.notification for waiting in batch], self._transactions
            )
        except Exception as error:
            if is_outage(error):
                # One by one would fail the same way (on SQLite, after another busy timeout each): every
                # request hears the error now, answers 503, and PayerMax delivers again later.
                log.debug("a batch of %d notifications met a database outage: %s", len(batch), type(error).__name__)
                for waiting in batch:
                    waiting.fail(error)
                return
            log.exception("a batch of %d notifications failed; applying them one by one", len(batch))
            for waiting in batch:
                try:
                    waiting.resolve(await self._payments.apply_notification(waiting.notification))
                except Exception as error:  # this request answers with an error; the others are unaffected
                    waiting.fail(error)
            return
        log.debug("applied %d notifications in one transaction", len(batch))
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.resolve(outcome)
