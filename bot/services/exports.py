"""/export: every link made in a period, one CSV row each with its payments and refunds, written page by page.

Telegram-free. The file is UTF-8 with a byte order mark (so spreadsheet programs read it as
UTF-8), with RFC 4180 quoting, laid out as a spreadsheet in the reader's region opens it on a
double click (:class:`CsvStyle`): where decimals are written with a comma, Excel separates a CSV's
columns with semicolons, so such readers get ``;`` and ``12,50``; everyone else ``,`` and
``12.50``. Links are read a page at a time with keyset paging, each page with its payments and
refunds, and written out before the next is read: a year of a busy team never sits in memory.
Values stay machine-readable (status and method codes, amounts without thousands separators,
times as ``YYYY-MM-DD HH:MM:SS`` in the chat's zone, named in the last column); only the header
row is in the reader's words.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import get_decimal_symbol
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.link_access import LinkScope
from bot.services.periods import Period
from bot.services.reports import storage_scope
from storage import reporting
from storage.db import read_session
from storage.refund_facts import RefundFact, refund_facts

PAGE_SIZE = 500
SEPARATOR = "; "  # between the values of a link's several payments or refunds in one cell
# A cell starting with one of these is a formula to a spreadsheet: a description such as
# "=HYPERLINK(...)" must stay text (OWASP's advice: prefix it with an apostrophe).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# An integer a spreadsheet shows as written: Excel's General format turns 12 digits or more into
# 1.00123E+12 (and past 15 digits drops the last ones), and a leading zero is lost.
_WHOLE_NUMBER = re.compile(r"-?[1-9][0-9]{0,10}")

# The columns, in order; texts gives each its header in the reader's language.
COLUMNS = (
    "link_id",
    "payermax_link_id",
    "status",
    "amount",
    "currency",
    "description",
    "created_at",
    "expires_at",
    "paid_at",
    "creator_id",
    "creator_name",
    "chat_id",
    "chat_title",
    "payments",
    "order_numbers",
    "paid_amount",
    "payment_statuses",
    "payment_methods",
    "cards",
    "payment_times",
    "refund_numbers",
    "refunded_amount",
    "refund_statuses",
    "refund_times",
    "time_zone",
)


@dataclass(frozen=True)
class CsvStyle:
    """How the file separates columns and marks decimals, so the reader's spreadsheet shows columns of numbers."""

    delimiter: str = ","
    decimal: str = "."

    @classmethod
    def for_locale(cls, locale: Locale) -> CsvStyle:
        """What a spreadsheet in ``locale`` expects: ";" and "12,50" where CLDR writes decimals so, else "," and "."."""
        return DECIMAL_COMMA if get_decimal_symbol(locale) == "," else DECIMAL_POINT


DECIMAL_POINT = CsvStyle()
# Excel takes the list separator of the computer's region as a CSV's delimiter; where "," marks
# decimals that separator is ";" (Indonesia, Brazil, Turkey, much of Latin America).
DECIMAL_COMMA = CsvStyle(delimiter=";", decimal=",")


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment in the chat's zone as spreadsheets read it ("2026-11-27 23:19:05"); empty when unknown."""
    if moment is None:
        return ""
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0).isoformat(" ")


def amount_text(amount: Decimal | None, decimal: str = ".") -> str:
    """An amount as a plain number, with no thousands separator and this decimal mark ("150000", "12.50", "12,50")."""
    return format(amount, "f").replace(".", decimal) if amount is not None else ""


def cell(value: str) -> str:
    """Text a person typed, as a spreadsheet shows it: as text, never run as a formula (ids go through
    :func:`identifier`: a group's id is a negative number, and stays one; amounts are numbers)."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def identifier(value: str) -> str:
    """An id or order number as a spreadsheet keeps it: exactly as written.

    Text starting with a letter ("PL7K…", "T1") and an integer shown in full (a user's id, "-100222333") go as they
    are; anything else a spreadsheet would read as a number or a date and change ("0042", "20240227000000123",
    "-1001234567890", "1E5") starts with an apostrophe, as text, like the formula-looking text of :func:`cell`.
    """
    if not value or value[0].isalpha() or _WHOLE_NUMBER.fullmatch(value):
        return value
    return f"'{value}"


def masked_card(payment: Row[Any]) -> str:
    """The card as PayerMax gave it (brand and masked number); empty for other methods."""
    return " ".join(part for part in (payment.card_org, payment.card_number) if part)


def link_row(
    link: Row[Any],
    payments: Sequence[Row[Any]],
    refunds: Sequence[RefundFact],
    chat_title: str,
    zone: ZoneInfo,
    style: CsvStyle = DECIMAL_POINT,
) -> list[str]:
    """One link's row, in COLUMNS order; the text people typed (description, names, titles) never runs as a formula,
    and ids stay as written."""
    paid = sum((payment.amount for payment in payments), Decimal(0)) if payments else None
    refunded_facts = [refund for refund in refunds if refund.counts_as_refunded]
    refunded = sum((refund.amount for refund in refunded_facts), Decimal(0)) if refunded_facts else None
    return [
        identifier(link.merchant_link_id),
        identifier(link.payermax_link_id or ""),
        str(link.status),
        amount_text(link.amount, style.decimal),
        link.currency,
        cell(link.description),
        local_time(link.created_at, zone),
        local_time(link.expires_at, zone),
        local_time(link.paid_at, zone),
        identifier(str(link.creator_user_id)),
        cell(link.creator_name),
        identifier(str(link.chat_id)),
        cell(chat_title),
        str(len(payments)),
        identifier(SEPARATOR.join(payment.out_trade_no for payment in payments)),
        amount_text(paid, style.decimal),
        SEPARATOR.join(payment.status for payment in payments),
        SEPARATOR.join(payment.payment_method or "" for payment in payments),
        SEPARATOR.join(masked_card(payment) for payment in payments),
        SEPARATOR.join(local_time(payment.completed_at, zone) for payment in payments),
        identifier(SEPARATOR.join(refund.refund_no for refund in refunds)),
        amount_text(refunded, style.decimal),
        SEPARATOR.join(refund.status for refund in refunds),
        SEPARATOR.join(local_time(refund.refunded_at, zone) for refund in refunds),
        zone.key,
    ]


class ExportService:
    """Writes the links of a period as CSV."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, page_size: int = PAGE_SIZE) -> None:
        self._sessions = sessions
        self._page_size = page_size

    async def write_csv(
        self,
        scope: LinkScope,
        period: Period,
        zone: ZoneInfo,
        out: BinaryIO,
        headers: Sequence[str],
        style: CsvStyle = DECIMAL_POINT,
    ) -> int:
        """Write the header, then a row per link made in the period (oldest first), to ``out``; return how many rows."""
        if len(headers) != len(COLUMNS):
            raise ValueError(f"{len(headers)} headers for {len(COLUMNS)} columns")
        where = storage_scope(scope)
        start, end = period.window(zone)
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
        try:
            writer = csv.writer(text, delimiter=style.delimiter)
            writer.writerow([cell(header) for header in headers])
            titles: dict[int, str] = {}
            rows = 0
            after: tuple[datetime, int] | None = None
            while True:
                # A short session per page: no transaction stays open for the whole export.
                async with read_session(self._sessions) as session:
                    links = list(
                        await reporting.links_made_page(session, where, start, end, after=after, limit=self._page_size)
                    )
                    if not links:
                        break
                    ids = [link.id for link in links]
                    payments = await reporting.payments_of_links(session, ids)
                    refunds: dict[int, list[RefundFact]] = {}
                    for refund in await refund_facts(
                        session, chat_id=where.chat_id, creator_user_id=where.creator_user_id, link_ids=ids
                    ):
                        refunds.setdefault(refund.link_id, []).append(refund)
                    unknown = {link.chat_id for link in links} - titles.keys()
                    titles.update(dict.fromkeys(unknown, ""))
                    titles.update(await reporting.chat_titles(session, sorted(unknown)))
                writer.writerows(
                    link_row(
                        link,
                        payments.get(link.id, []),
                        refunds.get(link.id, []),
                        titles.get(link.chat_id, ""),
                        zone,
                        style,
                    )
                    for link in links
                )
                rows += len(links)
                after = (links[-1].created_at, links[-1].id)
                if len(links) < self._page_size:
                    break
        finally:
            text.flush()
            text.detach()  # the caller's file stays open: it is what gets sent
        return rows
