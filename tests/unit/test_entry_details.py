"""Audit and timeline details are stored without words and worded for each reader; old English ones still show."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from storage.details import DetailKind, detail, read_detail
from storage.models import AuditAction, AuditEvent, LinkEvent, LinkEventKind

NBSP = "\u00a0"
PAID = detail(
    DetailKind.PAID,
    amount=Decimal(150000),
    currency="IDR",
    method="CARD",
    trade="T20261127001",
    source="PAYBYLINK",
)


def _event(kind: LinkEventKind, stored: str) -> LinkEvent:
    return LinkEvent(link_id=1, kind=kind, detail=stored)


def test_a_detail_keeps_facts_not_sentences() -> None:
    """What is stored is the kind and its fields (exact amounts, names as typed), no English words."""
    stored = detail(DetailKind.BY, name="Ahmad الراشد")
    assert read_detail(stored) is not None and read_detail(stored).text("name") == "Ahmad الراشد"
    assert "Ahmad الراشد" in stored  # readable in the database, not escaped
    paid = read_detail(PAID)
    assert paid is not None and paid.kind == DetailKind.PAID and paid.amount("amount") == Decimal(150000)
    until = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert read_detail(detail(DetailKind.INVITE, until=until)).moment("until") == until


def test_the_reader_words_a_payment_in_their_language_and_money_format() -> None:
    """One stored payment reads as English to one person and Indonesian money to another."""
    event = _event(LinkEventKind.PAID, PAID)
    english = visible_text(texts.event_detail(event))
    assert english == f"IDR{NBSP}150,000 by card, order T20261127001, first told by link notification"
    with reading_as(Reader("id", "Asia/Jakarta")):
        indonesian = visible_text(texts.event_detail(event))
    assert f"Rp{NBSP}150.000" in indonesian and "T20261127001" in indonesian and "IDR" not in indonesian


def test_old_english_details_are_shown_as_they_were_written() -> None:
    """Rows written before details were structured (or anything that is not one) read back as text."""
    for legacy in (
        "by Olga",
        "PAYBYLINK for T1 again (already recorded)",
        "{not json",
        '{"kind": "unheard-of"}',
        "[1]",
    ):
        assert read_detail(legacy) is None
        assert texts.event_detail(_event(LinkEventKind.CANCELLED, legacy)) == legacy
    old_audit = AuditEvent(actor_user_id=1, action=AuditAction.CANCEL_LINK, subject="PLX", detail="150000.00 IDR Tea")
    assert texts.audit_detail(old_audit) == "150000.00 IDR Tea"
    assert texts.event_detail(_event(LinkEventKind.CREATED, "")) == ""


def test_a_broken_field_does_not_break_the_entry() -> None:
    """A field of the wrong type words as "?" or as stored, never an exception in /status or /audit."""
    odd = detail(DetailKind.PAID, amount="lots", currency="IDR", method=None, trade="T1", source="SOMEONE")
    worded = visible_text(texts.event_detail(_event(LinkEventKind.PAID, odd)))
    assert "lots IDR" in worded and "unknown method" in worded and "SOMEONE" in worded
    invite = AuditEvent(
        actor_user_id=1, action=AuditAction.INVITE, subject="agent", detail='{"kind":"invite","until":3}'
    )
    assert visible_text(texts.audit_detail(invite)) == "works once, until —"


def test_a_mismatch_shows_the_amount_exactly_as_reported() -> None:
    """Evidence is not rounded: 150000.5 IDR reported for a 150000 IDR link reads as reported."""
    mismatch = detail(
        DetailKind.MISMATCH,
        expected_amount=Decimal(150000),
        expected_currency="IDR",
        reported_amount=Decimal("150000.5"),
        reported_currency="IDR",
        trade="T9",
    )
    worded = visible_text(texts.event_detail(_event(LinkEventKind.MISMATCH, mismatch)))
    assert worded == f"expected IDR{NBSP}150,000, reported 150000.5 IDR (order T9)"
