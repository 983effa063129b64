"""/report with its chart and /export's CSV, end to end, through the fake Bot API and the sandbox.

The real application runs as a subprocess in Jakarta's time zone. A few days of history are
seeded into its database; today's sale is made and paid through the bot and the sandbox's
checkout page, as a seller would. People ask in private and in the shop's group, each seeing the
links their role lets them see.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlmodel import col

from bot.botapi.markup import visible_text
from bot.charts import HEIGHT, WIDTH
from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.services.exports import COLUMNS, DECIMAL_COMMA
from bot.services.links import new_merchant_link_id
from bot.services.periods import Period, PeriodKind
from storage.models import Chat, Lease, Link, LinkStatus, OutboxMessage, Payment, PaymentSource, utcnow
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import People, pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER, AGENT, SUPPORT, STRANGER, BRUNA = 1001, 4004, 5005, 9009, 6006
GROUP = -100_222_333
NAMES = {OWNER: "Olga", AGENT: "Ali", SUPPORT: "Sue", STRANGER: "Stan", BRUNA: "Bruna"}
ZONE = "Asia/Jakarta"
JAKARTA = ZoneInfo(ZONE)
WAIT = 20.0


@asynccontextmanager
async def shop(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, People, Database]]:
    """The bot in Jakarta's time zone with one owner, an agent and support, and a look into its database."""
    async with running_bot(
        database_url, tmp_path, admin_ids=str(OWNER), DEFAULT_TIMEZONE=ZONE, names=NAMES, languages={BRUNA: "pt-br"}
    ) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent", SUPPORT: "support", BRUNA: "admin"}, added_by=OWNER)
        yield fake, people, db


def _today() -> date:
    return utcnow().astimezone(JAKARTA).date()


def _noon(days_ago: int) -> datetime:
    """Noon in Jakarta, some days ago, as a UTC moment."""
    return datetime.combine(_today() - timedelta(days=days_ago), time(12), tzinfo=JAKARTA).astimezone(UTC)


async def _seed_history(db: Database) -> None:
    """The last few days: Ali's sale and expired link in the group, Olga's dollar sale in private."""
    rows = [
        # (creator, chat, days ago, amount, currency, status, method, card)
        (AGENT, GROUP, 3, "200000", "IDR", LinkStatus.PAID, "WALLET", None),
        (OWNER, OWNER, 2, "12.50", "USD", LinkStatus.PAID, "CARD", ("VISA", "411111******1111")),
        (AGENT, GROUP, 1, "50000", "IDR", LinkStatus.EXPIRED, None, None),
    ]
    async with db.sessions() as session, session.begin():
        for creator, chat, days_ago, amount, currency, status, method, card in rows:
            made = _noon(days_ago)
            link = Link(
                merchant_link_id=new_merchant_link_id(),
                payermax_link_id=f"SBX{days_ago}",
                chat_id=chat,
                creator_user_id=creator,
                creator_name=NAMES[creator],
                amount=Decimal(amount),
                currency=currency,
                country="ID",
                description=f"Seeded {days_ago}",
                expires_seconds=3600,
                status=status,
                sandbox=True,
                created_at=made,
                updated_at=made,
                expires_at=made + timedelta(hours=1),
                paid_at=made + timedelta(minutes=5) if method else None,
                next_check_at=None,
            )
            session.add(link)
            await session.flush()
            if method:
                assert link.id is not None
                session.add(
                    Payment(
                        link_id=link.id,
                        out_trade_no=f"T{link.merchant_link_id}",
                        status="SUCCESS",
                        amount=link.amount,
                        currency=currency,
                        payment_method=method,
                        card_org=card[0] if card else None,
                        card_number=card[1] if card else None,
                        source=PaymentSource.PAYBYLINK,
                        completed_at=made + timedelta(minutes=5),
                    )
                )


async def _sell_today(fake: FakeTelegram, people: People) -> None:
    """Olga makes a link and the customer pays it by card on the sandbox's checkout page."""
    card = await people.ask("/link 150000 IDR Winter shoes", OWNER, contains="Winter shoes")
    url = re.search(r"Pay here: (\S+)", card.text or "")
    assert url, card.text
    await pay(url.group(1))
    await fake.wait_for_message(lambda m: m.chat_id == OWNER and (m.text or "").startswith("✅ Paid"), WAIT)


async def _chart_after(fake: FakeTelegram, report: SentMessage) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == report.chat_id and m.kind == "photo" and m.reply_to_message_id == report.message_id,
        WAIT,
    )


async def _document(fake: FakeTelegram, chat_id: int, after: int) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == chat_id and m.kind == "document" and m in fake.sent(chat_id)[after:], WAIT
    )


def _csv_rows(document: SentMessage) -> list[dict[str, str]]:
    assert document.document is not None and document.document.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"), newline="")))
    assert len(header) == len(COLUMNS) and header[0] == "Link id" and header[-1] == "Time zone"
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def _brazilian_rows(document: SentMessage) -> list[dict[str, str]]:
    """The CSV as a spreadsheet in Brazil splits it: on semicolons, under Portuguese headers."""
    assert document.document is not None and document.document.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(document.document.decode("utf-8-sig"), newline=""), delimiter=";"))
    with reading_as(Reader("pt_BR", ZONE)):
        assert table[0] == texts.export_headers()
    assert {len(row) for row in table} == {len(COLUMNS)}
    return [dict(zip(COLUMNS, row, strict=True)) for row in table[1:]]


def _local(moment: datetime | None) -> str:
    return moment.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


async def test_reports_with_their_chart_and_exports_as_each_role_sees_them(database_url: str, tmp_path) -> None:
    async with shop(database_url, tmp_path) as (fake, people, db):
        await _seed_history(db)
        await _sell_today(fake, people)
        week = f"{_today() - timedelta(days=6)}..{_today()}"

        # The owner, in private: the whole team's week, counted in Jakarta's days, then the chart.
        report = await people.ask(f"/report {week}", OWNER, contains="Report")
        text = report.text or ""
        assert "Everyone's links · times in UTC+7" in text, text
        assert "Made 4 · paid 3 · expired 1 · cancelled 0" in text
        assert "Conversion: 75% (3 of the 4 links made in this period are paid)" in text
        assert "IDR\xa0350,000 · 2 payments" in text and "$12.50 · 1 payment" in text
        assert "card: 2 payments · IDR\xa0150,000 · $12.50" in text and "e-wallet: 1 payment · IDR\xa0200,000" in text
        assert "By person" in text and "Ali: made 2 · paid 1 · IDR\xa0200,000" in text
        assert "Olga: made 2 · paid 2 · IDR\xa0150,000 · $12.50" in text
        chart = await _chart_after(fake, report)
        assert "Paid per day" in (chart.text or "")
        assert chart.photo is not None
        image = Image.open(io.BytesIO(chart.photo))
        image.verify()
        assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))

        # The agent, in the group: only the links they made there, and no one else's names.
        mine = await people.ask(f"/report {week}", AGENT, GROUP, contains="Report")
        assert "Your links in this chat" in (mine.text or "")
        assert "Made 2 · paid 1 · expired 1" in (mine.text or "") and "IDR\xa0200,000 · 1 payment" in (mine.text or "")
        assert "By person" not in (mine.text or "") and "Olga" not in (mine.text or "")

        # Support sees the team's figures, but may not take a copy of every payment.
        support = await people.ask(f"/report {week}", SUPPORT, contains="Report")
        assert "Everyone's links" in (support.text or "")
        await _chart_after(fake, support)
        refused = await people.ask(f"/export {week}", SUPPORT, contains="exporting")
        assert "exporting links needs one of these roles: agent, admin, or owner" in (refused.text or "")
        stranger = await people.ask("/report", STRANGER, contains="Sorry")
        assert "reports need one of these roles" in (stranger.text or "")

        # A period that cannot be read is explained, and nothing is counted.
        sent = len(fake.sent(OWNER))
        wrong = await people.ask("/report 2026-02-30", OWNER, contains="2026-02-30")
        assert "“2026-02-30” is not a real date" in (wrong.text or "")
        assert "Yesterday" in ((await people.ask("/report yesterday", OWNER, contains="Report")).text or "")
        assert not [m for m in fake.sent(OWNER)[sent:] if m.kind == "photo"]  # one day: no chart

        # The owner's export: every link of the week, parsed back and compared with the database.
        sent = len(fake.sent(OWNER))
        people.say(f"/export {week}", OWNER)
        document = await _document(fake, OWNER, sent)
        first, last = _today() - timedelta(days=6), _today()
        assert document.file_name == f"links-{first}_{last}.csv"
        assert "4 links made, with their payments. Times are in Asia/Jakarta." in (document.text or "")
        rows = _csv_rows(document)
        async with db.sessions() as session:
            links = list((await session.execute(select(Link).order_by(col(Link.created_at), col(Link.id)))).scalars())
            payments = {p.link_id: p for p in (await session.execute(select(Payment))).scalars()}
        assert [row["link_id"] for row in rows] == [link.merchant_link_id for link in links]
        for row, link in zip(rows, links, strict=True):
            assert link.id is not None
            payment = payments.get(link.id)
            assert (row["status"], Decimal(row["amount"]), row["currency"], row["description"]) == (
                link.status,
                link.amount,
                link.currency,
                link.description,
            )
            assert (row["created_at"], row["paid_at"]) == (_local(link.created_at), _local(link.paid_at))
            assert (row["creator_name"], row["chat_id"], row["time_zone"]) == (
                link.creator_name,
                str(link.chat_id),
                ZONE,
            )
            assert row["order_numbers"] == (payment.out_trade_no if payment else "")
            assert row["cards"] == (" ".join(filter(None, (payment.card_org, payment.card_number))) if payment else "")
            assert row["payment_methods"] == ((payment.payment_method or "") if payment else "")
        paid_today = next(row for row in rows if row["description"] == "Winter shoes")
        assert paid_today["payment_methods"] == "CARD" and "******" in paid_today["cards"]

        # A Brazilian admin's export of the same week: laid out for her spreadsheet (";" and decimal commas), and
        # her caption says so; the same links, amounts she can add up to the same totals.
        sent = len(fake.sent(BRUNA))
        people.say(f"/export {week}", BRUNA)
        document = await _document(fake, BRUNA, sent)
        assert document.file_name == f"links-{first}_{last}.csv"
        with reading_as(Reader("pt_BR", ZONE)):
            caption = texts.export_caption(4, Period(PeriodKind.RANGE, first, last), ZONE, DECIMAL_COMMA)
        assert document.text == visible_text(caption)
        brazilian = _brazilian_rows(document)
        assert [row["link_id"] for row in brazilian] == [link.merchant_link_id for link in links]
        totals: dict[str, Decimal] = {}
        for row, link in zip(brazilian, links, strict=True):
            assert row["amount"] == format(link.amount, "f").replace(".", ",")
            if row["paid_amount"]:
                totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(
                    row["paid_amount"].replace(",", ".")
                )
        assert totals == {"IDR": Decimal(350000), "USD": Decimal("12.50")}  # as Olga's report counted them

        # The agent's export in the group: their two links there, as a reply to their command.
        sent = len(fake.sent(GROUP))
        people.say(f"/export {week}", AGENT, GROUP)
        theirs = _csv_rows(await _document(fake, GROUP, sent))
        assert sorted(row["description"] for row in theirs) == ["Seeded 1", "Seeded 3"]
        assert {row["chat_title"] for row in theirs} == {"Test group"}

        empty = await people.ask("/export 2020-01", OWNER)
        assert "No links were made in this period (January 2020), so there is nothing to export." in (empty.text or "")


async def _set_due_now(db: Database, chat_id: int) -> int:
    """Make the chat's summary due now, as if its time had been chosen yesterday; the reconciler's lease runs out.

    Returns the minute set (a minute ago, in Jakarta).
    """
    local = utcnow().astimezone(JAKARTA)
    minute = max(0, local.hour * 60 + local.minute - 1)
    async with db.sessions() as session, session.begin():
        chat = await session.get(Chat, chat_id)
        assert chat is not None and chat.daily_summary_minute is not None
        chat.daily_summary_minute = minute
        chat.daily_summary_set_at = utcnow() - timedelta(days=1)
        await session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    return minute


def _summaries(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent(chat_id) if (m.text or "").startswith("🗓 Daily summary")]


async def test_the_daily_summary_comes_once_a_day_across_restarts(database_url: str, tmp_path) -> None:
    """Chosen in /settings (buttons in the group, typed in private); sent once when due, never again after restarts."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), DEFAULT_TIMEZONE=ZONE, names=NAMES) as run:
        fake, bot, db, people = run
        await people.add_members({AGENT: "agent"}, added_by=OWNER)
        panel = await people.ask("/settings", OWNER, GROUP, contains="Settings")
        assert "Daily summary: off" in (panel.text or "")
        await people.answer(people.press(panel, "set:summary", OWNER))
        await fake.wait_for_message(
            lambda m: m.message_id == panel.message_id and "summary of this chat's links" in (m.text or ""), WAIT
        )
        answer = await people.answer(people.press(panel, "set:summary:20:00", OWNER))
        assert answer["text"] == "A summary every day at 20:00."
        await fake.wait_for_message(
            lambda m: m.message_id == panel.message_id and "Daily summary: 20:00" in (m.text or ""), WAIT
        )
        typed = await people.ask("/settings summary 21:30", OWNER)
        assert "A summary every day at 21:30." in (typed.text or "")
        wrong = await people.ask("/settings summary 25:00", OWNER)
        assert "“25:00” is not a time of day" in (wrong.text or "")
        refused = await people.ask("/settings summary 09:00", AGENT, GROUP)
        assert "changing the chat's settings needs" in (refused.text or "")

        # Ali sold in the group yesterday and a minute ago.
        async with db.sessions() as session, session.begin():
            for made in (_noon(1), utcnow() - timedelta(minutes=1)):
                link = Link(
                    merchant_link_id=new_merchant_link_id(),
                    chat_id=GROUP,
                    creator_user_id=AGENT,
                    creator_name="Ali",
                    amount=Decimal(100000),
                    currency="IDR",
                    country="ID",
                    description="Seeded",
                    expires_seconds=3600,
                    status=LinkStatus.PAID,
                    sandbox=True,
                    created_at=made,
                    updated_at=made,
                    paid_at=made,
                    next_check_at=None,
                )
                session.add(link)
                await session.flush()
                assert link.id is not None
                session.add(
                    Payment(
                        link_id=link.id,
                        out_trade_no=f"T{link.merchant_link_id}",
                        status="SUCCESS",
                        amount=link.amount,
                        currency="IDR",
                        payment_method="CARD",
                        source=PaymentSource.PAYBYLINK,
                        completed_at=made,
                    )
                )
        assert await bot.stop() == 0

        # The group's time comes while the bot is down; back up, it sends today's summary.
        minute = await _set_due_now(db, GROUP)
        await bot.start()
        summary = await fake.wait_for_message(lambda m: m in _summaries(fake, GROUP), WAIT)
        period = "Yesterday" if minute < 12 * 60 else "Today"
        assert f"🗓 Daily summary: {period}" in (summary.text or ""), summary.text
        assert "Links made in this chat" in (summary.text or "")
        assert "Made 1 · paid 1" in (summary.text or "") and "IDR\xa0100,000 · 1 payment" in (summary.text or "")
        assert await bot.stop() == 0

        # Another restart the same day: the owner's private summary is due now, the group's was sent.
        await _set_due_now(db, OWNER)
        async with db.sessions() as session, session.begin():
            group = await session.get(Chat, GROUP)
            assert group is not None
            group.daily_summary_set_at = utcnow() - timedelta(days=1)  # still due by the clock: only the outbox knows
        await bot.start()
        private = await fake.wait_for_message(lambda m: m in _summaries(fake, OWNER), WAIT)
        assert "Everyone's links" in (private.text or "")
        await people.settled()
        assert len(_summaries(fake, GROUP)) == 1 and len(_summaries(fake, OWNER)) == 1
        async with db.sessions() as session:
            rows = (
                await session.execute(select(OutboxMessage).where(col(OutboxMessage.kind) == "daily_summary"))
            ).scalars()
            assert sorted(row.chat_id for row in rows) == [GROUP, OWNER]
