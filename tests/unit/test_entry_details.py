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


# --- refunds --------------------------------------------------------------------------------

ASKED = detail(
    DetailKind.REFUND,
    amount=Decimal(50000),
    currency="IDR",
    trade="T20261127001",
    refund="RFABCDEFGH234567",
    reason="Box arrived damaged",
    by="Ann Owner",
)


def _audit(action: AuditAction, stored: str, subject: str = "PL1") -> AuditEvent:
    return AuditEvent(actor_user_id=1, actor_name="Ann Owner", action=action, subject=subject, detail=stored)


def _read(entry: LinkEvent | AuditEvent, locale: str) -> str:
    """An entry's detail as a reader of that language sees it."""
    with reading_as(Reader(locale, "Asia/Jakarta")):
        worded = texts.event_detail(entry) if isinstance(entry, LinkEvent) else texts.audit_detail(entry)
        return visible_text(worded)


def test_a_refund_is_stored_as_facts() -> None:
    """No sentence in the row: the amount exactly, the order, our refund number, the reason and name as typed."""
    stored = read_detail(ASKED)
    assert stored is not None and stored.kind == DetailKind.REFUND
    assert dict(stored.fields) == {
        "amount": "50000",
        "currency": "IDR",
        "trade": "T20261127001",
        "refund": "RFABCDEFGH234567",
        "reason": "Box arrived damaged",
        "by": "Ann Owner",
    }


def test_a_refund_reads_in_the_readers_words_on_the_timeline_and_in_the_audit_log() -> None:
    """English readers read the sentence; an Indonesian one the amount as Indonesians write it, never IDR 50,000."""
    timeline = _event(LinkEventKind.REFUND_REQUESTED, ASKED)
    assert _read(timeline, "en") == (
        f"IDR{NBSP}50,000 by Ann Owner, order T20261127001, refund RFABCDEFGH234567 · Box arrived damaged"
    )
    audited = _audit(AuditAction.REFUND, ASKED)  # the audit entry names who did it already
    assert _read(audited, "en") == f"IDR{NBSP}50,000, order T20261127001, refund RFABCDEFGH234567 · Box arrived damaged"
    for entry in (timeline, audited):
        indonesian = _read(entry, "id")
        assert indonesian.startswith(f"Rp{NBSP}50.000"), indonesian  # the amount first
        assert "IDR" not in indonesian and "50,000" not in indonesian
        assert "T20261127001" in indonesian and "RFABCDEFGH234567" in indonesian
        assert indonesian.endswith(" · Box arrived damaged")  # the reason as the person typed it
    without_reason = detail(
        DetailKind.REFUND, amount=Decimal(5), currency="USD", trade="T2", refund="RF2", reason=None, by="Ann"
    )
    assert _read(_event(LinkEventKind.REFUND_REQUESTED, without_reason), "en") == "$5.00 by Ann, order T2, refund RF2"


def test_what_became_of_a_refund_reads_in_the_readers_words() -> None:
    """Accepted, settled, refused, reported again: each the amount first, in the reader's money format."""
    facts = {"amount": Decimal(50000), "currency": "IDR", "refund": "RF1"}
    entries = {
        LinkEventKind.REFUND_ACCEPTED: (
            detail(DetailKind.REFUND_ACCEPTED, **facts, payermax_refund="RSBX9"),
            f"IDR{NBSP}50,000, refund RF1, its id there is RSBX9",
        ),
        LinkEventKind.REFUNDED: (
            detail(DetailKind.REFUND_RESULT, **facts, status="SUCCESS", source="notification"),
            f"IDR{NBSP}50,000, refund RF1, first told by refund notification",
        ),
        LinkEventKind.REFUND_FAILED: (
            detail(DetailKind.REFUND_RESULT, **facts, status="FAILED", source="answer"),
            f"IDR{NBSP}50,000, refund RF1, first told by PayerMax's answer",
        ),
        LinkEventKind.REFUND_REFUSED: (
            detail(DetailKind.REFUND_REFUSED, **facts, code="REFUND_INSUFFICIENT_BALANCE", message="Balance low"),
            f"IDR{NBSP}50,000, refund RF1: REFUND_INSUFFICIENT_BALANCE Balance low",
        ),
    }
    for kind, (stored, english) in entries.items():
        event = _event(kind, stored)
        assert _read(event, "en") == english
        indonesian = _read(event, "id")
        assert indonesian.startswith(f"Rp{NBSP}50.000") and "RF1" in indonesian and "IDR" not in indonesian
    not_sent = detail(DetailKind.REFUND_REFUSED, **facts, code="NOT_SENT", message="anything")
    assert _read(_event(LinkEventKind.REFUND_REFUSED, not_sent), "en") == (
        f"IDR{NBSP}50,000, refund RF1: PayerMax could not be reached in time"
    )
    again = _event(
        LinkEventKind.REFUND_NOTIFICATION, detail(DetailKind.REFUND_REPEATED, refund="RF1", status="SUCCESS")
    )
    assert _read(again, "en") == "refund RF1 (refunded), already recorded"
    assert "(sudah di-refund)" in _read(again, "id")  # the status in the reader's words (already translated)


def test_a_refund_report_that_does_not_match_shows_both_sides_exactly() -> None:
    """Expected and reported amounts (as reported, never rounded), and both orders when they differ."""
    same_order = detail(
        DetailKind.REFUND_MISMATCH,
        refund="RF1",
        status="REFUND_SUCCESS",
        expected_amount=Decimal(50000),
        expected_currency="IDR",
        expected_trade="T1",
        reported_amount=Decimal("150000.5"),
        reported_currency="IDR",
        reported_trade="T1",
    )
    event = _event(LinkEventKind.REFUND_MISMATCH, same_order)
    assert _read(event, "en") == f"expected IDR{NBSP}50,000, reported 150000.5 IDR (order T1, refund RF1)"
    assert f"Rp{NBSP}50.000" in _read(event, "id") and "150000.5 IDR" in _read(event, "id")
    other_order = same_order.replace('"reported_trade":"T1"', '"reported_trade":"T2"')
    assert _read(_event(LinkEventKind.REFUND_MISMATCH, other_order), "en") == (
        f"expected IDR{NBSP}50,000 of order T1, reported 150000.5 IDR of order T2 (refund RF1)"
    )


def test_a_refund_permission_change_names_the_role() -> None:
    """Given or taken, with the person's role in the reader's words; the person is the entry's subject."""
    given = _audit(AuditAction.REFUND_PERMISSION, detail(DetailKind.PERMISSION, allowed=True, name="Pia", role="agent"))
    taken = _audit(
        AuditAction.REFUND_PERMISSION, detail(DetailKind.PERMISSION, allowed=False, name="Pia", role="support")
    )
    assert (_read(given, "en"), _read(taken, "en")) == ("may refund now (agent)", "may not refund any more (support)")
    given.subject = "501"
    with reading_as(Reader("en")):
        line = visible_text(texts.audit_line(given))
    assert "changed the refund permission of Pia (501): may refund now (agent)" in line


def test_old_english_refund_entries_are_shown_as_they_were_written() -> None:
    """Rows written before refunds were stored as facts still read as written."""
    old = "IDR 50,000 of order T1 (RF1), reported by notification"
    assert texts.event_detail(_event(LinkEventKind.REFUNDED, old)) == old
    assert texts.audit_detail(_audit(AuditAction.REFUND_PERMISSION, "granted to Pia (agent)")) == (
        "granted to Pia (agent)"
    )
