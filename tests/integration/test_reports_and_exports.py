"""A period's figures and its CSV export, read from a real database (SQLite and PostgreSQL).

The history is seeded straight into the tables: links made, paid, expired, cancelled and refused
at chosen moments around the edges of a period in Jakarta's time zone (UTC+7), so the tests see
which side of the chat's midnight each fact falls on.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.services.exports import COLUMNS, ExportService
from bot.services.link_access import LinkScope
from bot.services.periods import Period, PeriodKind
from bot.services.reports import ReportService
from storage.db import create_engine, session_factory
from storage.models import Chat, Link, LinkStatus, Payment, PaymentSource

JAKARTA = ZoneInfo("Asia/Jakarta")
ANN, BOB = 2001, 2002
GROUP = -100_123
PERIOD = Period(PeriodKind.RANGE, date(2026, 11, 1), date(2026, 11, 10))
TRICKY = '=HYPERLINK("http://x") Sepatu “musim”, 2 pasang\nbaru'


def _local(text: str) -> datetime:
    """A Jakarta wall-clock time as an aware UTC moment."""
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA).astimezone(UTC)


def _link(
    key: str,
    *,
    creator: int,
    chat: int,
    made: str,
    status: LinkStatus,
    amount: str = "150000",
    currency: str = "IDR",
    ended: str | None = None,
    description: str | None = None,
) -> Link:
    created = _local(made)
    return Link(
        merchant_link_id=f"PL{key}",
        payermax_link_id=f"SBX{key}" if status != LinkStatus.FAILED else None,
        chat_id=chat,
        creator_user_id=creator,
        creator_name={ANN: "Ann", BOB: "Bob"}[creator],
        amount=Decimal(amount),
        currency=currency,
        country="ID",
        description=description or f"Order {key}",
        expires_seconds=86400,
        status=status,
        sandbox=True,
        created_at=created,
        updated_at=_local(ended) if ended else created,
        expires_at=_local(ended) if ended and status == LinkStatus.EXPIRED else created + timedelta(days=1),
    )


def _payment(link: Link, paid: str, *, method: str, card: tuple[str, str] | None = None) -> Payment:
    assert link.id is not None
    link.paid_at = _local(paid)  # as the payment service marks a paid link
    return Payment(
        link_id=link.id,
        out_trade_no=f"T{link.merchant_link_id}",
        status="SUCCESS",
        amount=link.amount,
        currency=link.currency,
        payment_method=method,
        card_org=card[0] if card else None,
        card_number=card[1] if card else None,
        source=PaymentSource.PAYBYLINK,
        completed_at=_local(paid),
    )


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    sessions = session_factory(engine)
    await _seed(sessions)
    yield sessions
    await engine.dispose()


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Ann sells in the shop's group (IDR), Bob in private (USD); a few facts just outside the period."""
    links = {
        "A1": _link("A1", creator=ANN, chat=GROUP, made="2026-11-02T10:00", status=LinkStatus.PAID, description=TRICKY),
        # Made late on the 3rd, paid half an hour after Jakarta's midnight: paid on the 4th.
        "A2": _link("A2", creator=ANN, chat=GROUP, made="2026-11-03T23:30", status=LinkStatus.PAID, amount="200000"),
        "A3": _link(
            "A3", creator=ANN, chat=GROUP, made="2026-11-05T09:00", status=LinkStatus.EXPIRED, ended="2026-11-06T09:00"
        ),
        "A4": _link("A4", creator=ANN, chat=GROUP, made="2026-11-08T12:00", status=LinkStatus.ACTIVE),
        "A5": _link("A5", creator=ANN, chat=GROUP, made="2026-11-08T12:00", status=LinkStatus.ACTIVE),  # same moment
        "B1": _link(
            "B1", creator=BOB, chat=BOB, made="2026-11-05T08:00", status=LinkStatus.PAID, amount="12.50", currency="USD"
        ),
        "B2": _link(
            "B2",
            creator=BOB,
            chat=BOB,
            made="2026-11-06T08:00",
            status=LinkStatus.CANCELLED,
            amount="5.00",
            currency="USD",
            ended="2026-11-06T10:00",
        ),
        # Made before the period (Jakarta's 31 Oct), paid inside it: paid counts, made does not.
        "B3": _link(
            "B3", creator=BOB, chat=BOB, made="2026-10-31T23:00", status=LinkStatus.PAID, amount="20.00", currency="USD"
        ),
        "B4": _link("B4", creator=BOB, chat=BOB, made="2026-11-07T08:00", status=LinkStatus.FAILED, currency="USD"),
        # Made on the last day, paid the day after the period.
        "B5": _link(
            "B5", creator=BOB, chat=BOB, made="2026-11-10T23:59", status=LinkStatus.PAID, amount="7.00", currency="USD"
        ),
    }
    async with sessions() as session, session.begin():
        session.add(Chat(id=GROUP, type="group", title="Shop team"))
        session.add(Chat(id=BOB, type="private"))
        session.add_all(links.values())
        await session.flush()
        session.add_all(
            [
                _payment(links["A1"], "2026-11-02T11:00", method="CARD", card=("VISA", "411111******1111")),
                _payment(links["A2"], "2026-11-04T00:30", method="WALLET"),
                _payment(links["B1"], "2026-11-05T09:00", method="CARD", card=("MASTERCARD", "555555******4444")),
                _payment(links["B3"], "2026-11-01T01:00", method="CARD", card=("VISA", "400000******0002")),
                _payment(links["B5"], "2026-11-11T00:10", method="CARD"),
            ]
        )


TEAM = LinkScope(user_id=1, all_links=True)


async def test_a_period_counts_what_happened_in_the_chats_days(sessions: async_sessionmaker[AsyncSession]) -> None:
    report = await ReportService(sessions).build(TEAM, PERIOD, JAKARTA)
    # Made: A1-A5, B1, B2, B5 (B3 before the period, B4 refused by PayerMax); paid now: A1, A2, B1, B5.
    assert (report.made, report.made_paid, report.expired, report.cancelled) == (8, 4, 1, 1)
    assert report.conversion == Fraction(4, 8)
    # Paid in the period: A1, A2, B1 and B3 (B5 was paid on the 11th).
    assert report.paid.by_currency() == [("IDR", Decimal(350000), 2), ("USD", Decimal("32.50"), 2)]
    assert report.daily == {
        "IDR": {date(2026, 11, 2): Decimal(150000), date(2026, 11, 4): Decimal(200000)},
        "USD": {date(2026, 11, 1): Decimal("20.00"), date(2026, 11, 5): Decimal("12.50")},
    }
    assert [(p.name, p.made, p.paid.count, p.paid.totals) for p in report.people] == [
        ("Ann", 5, 2, {"IDR": Decimal(350000)}),
        ("Bob", 3, 2, {"USD": Decimal("32.50")}),
    ]
    assert [(m.method, m.paid.totals) for m in report.methods] == [
        ("CARD", {"IDR": Decimal(150000), "USD": Decimal("32.50")}),
        ("WALLET", {"IDR": Decimal(200000)}),
    ]
    assert report.refunded.count == 0  # nothing comes through the refunds seam yet


async def test_a_report_sees_only_its_scope(sessions: async_sessionmaker[AsyncSession]) -> None:
    reports = ReportService(sessions)
    group = await reports.build(TEAM.in_chat(GROUP), PERIOD, JAKARTA)
    assert (group.made, group.paid.by_currency(), [p.name for p in group.people]) == (
        5,
        [("IDR", Decimal(350000), 2)],
        ["Ann"],
    )
    own = await reports.build(LinkScope(BOB, all_links=False), PERIOD, JAKARTA)
    assert (own.made, own.cancelled, own.expired, own.paid.by_currency()) == (3, 1, 0, [("USD", Decimal("32.50"), 2)])
    nothing = await reports.build(LinkScope(BOB, all_links=False).in_chat(GROUP), PERIOD, JAKARTA)
    assert nothing.is_empty and nothing.conversion is None


async def test_the_same_moments_fall_on_other_days_in_another_zone(sessions: async_sessionmaker[AsyncSession]) -> None:
    """In UTC, A2's payment (00:30 in Jakarta on the 4th) happened on the 3rd."""
    report = await ReportService(sessions).build(TEAM, PERIOD, ZoneInfo("UTC"))
    assert date(2026, 11, 3) in report.daily["IDR"] and date(2026, 11, 4) not in report.daily["IDR"]


async def test_days_in_a_half_hour_zone_split_at_its_own_midnight(sessions: async_sessionmaker[AsyncSession]) -> None:
    """India is UTC+5:30: a minute before and after its midnight are two days."""
    kolkata = ZoneInfo("Asia/Kolkata")
    async with sessions() as session, session.begin():
        for key, paid in (("K1", "2026-11-08T23:59"), ("K2", "2026-11-09T00:01")):
            link = _link(key, creator=BOB, chat=BOB, made="2026-11-08T08:00", status=LinkStatus.PAID, currency="INR")
            session.add(link)
            await session.flush()
            moment = datetime.fromisoformat(paid).replace(tzinfo=kolkata)
            payment = _payment(link, "2026-11-08T08:00", method="UPI")
            payment.completed_at = moment.astimezone(UTC)
            session.add(payment)
    report = await ReportService(sessions).build(TEAM, PERIOD, kolkata)
    assert report.daily["INR"] == {date(2026, 11, 8): Decimal(150000), date(2026, 11, 9): Decimal(150000)}


async def _export(sessions: async_sessionmaker[AsyncSession], scope: LinkScope, page_size: int) -> bytes:
    out = io.BytesIO()
    rows = await ExportService(sessions, page_size=page_size).write_csv(scope, PERIOD, JAKARTA, out, list(COLUMNS))
    data = out.getvalue()
    assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) == rows + 1
    return data


@pytest.mark.parametrize("page_size", [2, 500])
async def test_the_export_parses_back_to_what_the_database_holds(
    sessions: async_sessionmaker[AsyncSession], page_size: int
) -> None:
    data = await _export(sessions, TEAM, page_size)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, for spreadsheet programs
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert header == list(COLUMNS)
    exported = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows}
    async with sessions() as session:
        links = (await session.execute(select(Link).order_by(col(Link.created_at), col(Link.id)))).scalars().all()
        payments = {p.link_id: p for p in (await session.execute(select(Payment))).scalars()}
    made = [link for link in links if link.merchant_link_id not in ("PLB3", "PLB4")]
    # One row per link made in the period, oldest first, even across pages and for links made at the same moment.
    assert [row[0] for row in rows] == [link.merchant_link_id for link in made]
    for link in made:
        row = exported[link.merchant_link_id]
        assert link.id is not None
        payment = payments.get(link.id)
        assert row["payermax_link_id"] == (link.payermax_link_id or "")
        assert (row["status"], Decimal(row["amount"]), row["currency"]) == (link.status, link.amount, link.currency)
        assert row["created_at"] == link.created_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S")
        assert (row["creator_id"], row["creator_name"], row["chat_id"]) == (
            str(link.creator_user_id),
            link.creator_name,
            str(link.chat_id),
        )
        assert row["chat_title"] == ("Shop team" if link.chat_id == GROUP else "")
        assert row["paid_at"] == (
            link.paid_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S") if link.paid_at else ""
        )
        assert row["time_zone"] == "Asia/Jakarta"
        assert row["refund_numbers"] == row["refunded_amount"] == ""  # the refunds seam gives nothing yet
        if payment is None:
            assert (row["payments"], row["order_numbers"], row["paid_amount"], row["cards"]) == ("0", "", "", "")
            continue
        assert (row["payments"], row["order_numbers"], Decimal(row["paid_amount"])) == (
            "1",
            payment.out_trade_no,
            payment.amount,
        )
        assert (row["payment_statuses"], row["payment_methods"]) == ("SUCCESS", payment.payment_method)
        assert row["cards"] == " ".join(part for part in (payment.card_org, payment.card_number) if part)
        assert payment.completed_at is not None
        assert row["payment_times"] == payment.completed_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S")
    # A description that a spreadsheet would run as a formula stays text; quotes, commas and the newline survive.
    assert exported["PLA1"]["description"] == "'" + TRICKY
    assert exported["PLA2"]["paid_at"] == "2026-11-04 00:30:00"


async def test_an_export_holds_only_its_scope(sessions: async_sessionmaker[AsyncSession]) -> None:
    own = await _export(sessions, LinkScope(BOB, all_links=False), 2)
    ids = [row[0] for row in list(csv.reader(io.StringIO(own.decode("utf-8-sig"))))[1:]]
    assert ids == ["PLB1", "PLB2", "PLB5"]
    nothing = await _export(sessions, LinkScope(BOB, all_links=False).in_chat(GROUP), 2)
    assert list(csv.reader(io.StringIO(nothing.decode("utf-8-sig")))) == [list(COLUMNS)]


async def test_many_small_amounts_add_up_exactly(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A thousand payments of 0.10 are 100.00, not 99.99999…; three-decimal currencies too (summed by the database)."""
    async with sessions() as session, session.begin():
        made = []
        for index in range(1000):
            for currency, amount in (("USD", "0.10"), ("KWD", "0.125")):
                link = _link(
                    f"S{currency}{index}",
                    creator=BOB,
                    chat=BOB,
                    made="2026-11-09T08:00",
                    status=LinkStatus.PAID,
                    amount=amount,
                    currency=currency,
                )
                session.add(link)
                made.append((link, f"2026-11-09T{8 + index % 12:02d}:{index % 60:02d}"))
        await session.flush()  # one batch of INSERTs gives every link its id
        session.add_all(_payment(link, paid, method="CARD") for link, paid in made)
    report = await ReportService(sessions).build(LinkScope(BOB, all_links=False), PERIOD, JAKARTA)
    totals = {currency: (total, count) for currency, total, count in report.paid.by_currency()}
    assert totals["KWD"] == (Decimal("125.000"), 1000)
    assert totals["USD"] == (Decimal("100.00") + Decimal("32.50"), 1002)
    assert report.daily["USD"][date(2026, 11, 9)] == Decimal("100.00")


SUPERGROUP = -1001234567890  # how Telegram numbers today's groups: 13 digits, past what a spreadsheet shows whole
DIGITS_ORDER = "0420240227000000123"  # an order number of digits only, with a leading zero
EVERYTHING = Period(PeriodKind.RANGE, date(2026, 10, 1), date(2026, 11, 30))  # every link of the history made and paid


@pytest.mark.parametrize(
    ("language", "delimiter", "decimal"),
    [("id", ";", ","), ("pt_BR", ";", ","), ("tr", ";", ","), ("en", ",", "."), ("th", ",", ".")],
)
async def test_the_export_opens_in_columns_of_numbers_that_add_up_to_the_report(
    sessions: async_sessionmaker[AsyncSession], language: str, delimiter: str, decimal: str
) -> None:
    """Read as the reader's spreadsheet reads it: split on its list separator, amounts with its decimal mark."""
    async with sessions() as session, session.begin():
        session.add(Chat(id=SUPERGROUP, type="supergroup", title="Loja"))
        # Cents above a thousand: a thousands separator or the other decimal mark would show here.
        big = _link(
            "C1", creator=ANN, chat=SUPERGROUP, made="2026-11-09T09:00", status=LinkStatus.PAID, amount="1234.56"
        )
        big.currency = "USD"
        session.add(big)
        await session.flush()
        payment = _payment(big, "2026-11-09T09:05", method="CARD")
        payment.out_trade_no = DIGITS_ORDER
        session.add(payment)
    with reading_as(Reader(language, JAKARTA.key)):
        style = texts.export_style(None)
        headers = texts.export_headers()
    out = io.BytesIO()
    count = await ExportService(sessions, page_size=2).write_csv(TEAM, EVERYTHING, JAKARTA, out, headers, style)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")  # still UTF-8 with a byte order mark
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    assert [len(row) for row in table] == [len(COLUMNS)] * (count + 1)  # every row in its columns
    assert table[0] == headers
    rows = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in table[1:]}
    assert sorted(rows) == ["PLA1", "PLA2", "PLA3", "PLA4", "PLA5", "PLB1", "PLB2", "PLB3", "PLB5", "PLC1"]  # B4 failed
    # Amounts are numbers to that spreadsheet: digits and its decimal mark only, nothing it could take for grouping.
    number = re.compile(rf"[0-9]+(?:{re.escape(decimal)}[0-9]+)?")
    paid: dict[str, Decimal] = {}
    for row in rows.values():
        for column in ("amount", "paid_amount", "refunded_amount"):
            assert row[column] == "" or number.fullmatch(row[column]), (column, row[column])
        if row["paid_amount"]:
            paid[row["currency"]] = paid.get(row["currency"], Decimal(0)) + Decimal(
                row["paid_amount"].replace(decimal, ".")
            )
    assert rows["PLC1"]["amount"] == f"1234{decimal}56"
    report = await ReportService(sessions).build(TEAM, EVERYTHING, JAKARTA)
    assert paid == {currency: total for currency, total, _count in report.paid.by_currency()}
    assert paid == {"IDR": Decimal(350000), "USD": Decimal("1274.06")}
    # Ids a spreadsheet would turn into 1.00123E+12 or strip of a leading zero stay text, as written.
    assert (rows["PLC1"]["chat_id"], rows["PLC1"]["order_numbers"]) == (f"'{SUPERGROUP}", f"'{DIGITS_ORDER}")
    assert (rows["PLA1"]["chat_id"], rows["PLA1"]["order_numbers"]) == (str(GROUP), "TPLA1")
    assert rows["PLA1"]["description"] == "'" + TRICKY  # and text that looks like a formula stays text
    assert rows["PLC1"]["created_at"] == "2026-11-09 09:00:00"  # times as spreadsheets read them, in any locale
