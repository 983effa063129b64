"""What an audit or timeline entry's detail says, worded when it is read, in the reader's language.

The services store details as a kind and its fields (``storage.details``); here each kind becomes
words, with amounts in the reader's money format and moments in their zone. An entry written
before details were structured is an English sentence: it is shown as it was written.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_skeleton

from bot.chat.texts.base import Markup, _, clip, expiry_text, ltr, money, name_of, pgettext, short_when, t
from bot.chat.texts.cards import method_name
from bot.chat.texts.refunds import refund_status_name
from bot.chat.texts.team import role_name
from bot.i18n.locales import NATIVE_NAMES, format_locale
from bot.i18n.reader import current
from bot.money import AmountError, Money
from bot.money.currencies import smallest_unit
from bot.services.refunds import NOT_SENT
from storage.details import Detail, DetailKind, RefundSource, read_detail
from storage.models import AuditEvent, LinkEvent, PaymentSource, Role

LEGACY_UNITS = 200  # how much of an old free-text detail an entry shows
REASON_UNITS = 60  # how much of a refund's reason an entry repeats


def source_name(source: PaymentSource | str) -> str:
    """Who reported a payment first."""
    return {
        PaymentSource.PAYBYLINK: _("link notification"),
        PaymentSource.PAYMENT: _("payment notification"),
        PaymentSource.RECONCILE: _("our check with PayerMax"),
    }.get(PaymentSource(source), str(source))


def _amount(detail: Detail, amount: str = "amount", currency: str = "currency") -> str:
    """A stored amount in the reader's money format; as stored when it cannot be written so without change.

    Evidence (a mismatching report) may hold an amount the currency does not allow ("150000.5 IDR"):
    rounding it for display would hide the very difference it records.
    """
    value, code = detail.amount(amount), detail.text(currency)
    as_stored = ltr(f"{detail.text(amount)} {code}".strip()) or "?"
    if value is None or not code:
        return as_stored
    try:
        if value != value.quantize(smallest_unit(code)):
            return as_stored
        return money(Money(value, code))
    except (ValueError, KeyError, ArithmeticError, AmountError):
        return as_stored


def _role(value: str) -> str:
    """A stored role in the reader's words."""
    return role_name(Role(value)) if value in set(Role) else value


def _source(value: str) -> str:
    return source_name(PaymentSource(value)) if value in set(PaymentSource) else value


def _refund_source(value: str) -> str:
    """Who told us first how a refund ended."""
    if value == RefundSource.ANSWER:
        return _("PayerMax's answer")
    if value == RefundSource.NOTIFICATION:
        return _("refund notification")
    return value


def event_detail(event: LinkEvent) -> Markup | str:
    """A timeline entry's detail ("" when it has none)."""
    detail = read_detail(event.detail)
    if detail is None:
        return clip(event.detail, LEGACY_UNITS)
    match detail.kind:
        case DetailKind.REQUESTED:
            if detail.fields.get("chat_title") is None:
                return t(
                    _("{amount} by {person} in a private chat"), amount=_amount(detail), person=_name(detail, "by")
                )
            return t(
                _("{amount} by {person} in {chat}"),
                amount=_amount(detail),
                person=_name(detail, "by"),
                chat=ltr(clip(detail.text("chat_title") or "?", 48)),
            )
        case DetailKind.CREATED:
            return t(_("its id there is <code>{link_id}</code>"), link_id=ltr(detail.text("payermax_link_id")))
        case DetailKind.REFUSED:
            # PayerMax's own code and message, as PayerMax wrote them.
            return t("{code} {message}", code=ltr(detail.text("code")), message=clip(detail.text("message"), 160))
        case DetailKind.PAID:
            return t(
                _("{amount} by {method}, order <code>{trade}</code>, first told by {source}"),
                amount=_amount(detail),
                method=method_name(detail.optional("method")),
                trade=ltr(detail.text("trade")),
                source=_source(detail.text("source")),
            )
        case DetailKind.REPEATED:
            return t(
                _("{source} for order <code>{trade}</code>, already recorded"),
                source=_source(detail.text("notify_type")),
                trade=ltr(detail.text("trade")),
            )
        case DetailKind.MISMATCH:
            return t(
                _("expected {expected}, reported {reported} (order <code>{trade}</code>)"),
                expected=_amount(detail, "expected_amount", "expected_currency"),
                reported=_amount(detail, "reported_amount", "reported_currency"),
                trade=ltr(detail.text("trade")),
            )
        case DetailKind.EXPIRED:
            return t(_("as PayerMax reports"))
        case DetailKind.BY:
            return t(_("by {person}"), person=_name(detail, "name"))
        case DetailKind.REFUND:
            return _refund(detail, with_person=True)
        case DetailKind.REFUND_ACCEPTED:
            return t(
                _("{amount}, refund <code>{refund}</code>, its id there is <code>{number}</code>"),
                **_refund_facts(detail),
                number=ltr(detail.text("payermax_refund")),
            )
        case DetailKind.REFUND_RESULT:
            return t(
                _("{amount}, refund <code>{refund}</code>, first told by {source}"),
                **_refund_facts(detail),
                source=_refund_source(detail.text("source")),
            )
        case DetailKind.REFUND_REFUSED:
            if detail.text("code") == NOT_SENT:
                return t(
                    _("{amount}, refund <code>{refund}</code>: PayerMax could not be reached in time"),
                    **_refund_facts(detail),
                )
            # PayerMax's own code and message, as PayerMax wrote them.
            return t(
                _("{amount}, refund <code>{refund}</code>: {code} {message}"),
                **_refund_facts(detail),
                code=ltr(detail.text("code")),
                message=clip(detail.text("message"), 160),
            )
        case DetailKind.REFUND_REPEATED:
            return t(
                _("refund <code>{refund}</code> ({status}), already recorded"),
                refund=ltr(detail.text("refund")),
                status=refund_status_name(detail.text("status")),
            )
        case DetailKind.REFUND_MISMATCH:
            return _refund_mismatch(detail)
        case _:
            return ""


def _refund_facts(detail: Detail) -> dict[str, str]:
    """What every refund line names: the amount and our refund number."""
    return {"amount": _amount(detail), "refund": ltr(detail.text("refund"))}


def _refund(detail: Detail, *, with_person: bool) -> Markup:
    """A confirmed refund: the amount, who asked (on a timeline), the order, our refund number, the reason."""
    if with_person:
        worded = t(
            _("{amount} by {person}, order <code>{trade}</code>, refund <code>{refund}</code>"),
            **_refund_facts(detail),
            person=_name(detail, "by"),
            trade=ltr(detail.text("trade")),
        )
    else:  # the audit entry names who did it already
        worded = t(
            _("{amount}, order <code>{trade}</code>, refund <code>{refund}</code>"),
            **_refund_facts(detail),
            trade=ltr(detail.text("trade")),
        )
    if not detail.optional("reason"):
        return worded
    # The reason as the person typed it.
    return t("{refund} · {reason}", refund=worded, reason=clip(detail.text("reason"), REASON_UNITS))


def _refund_mismatch(detail: Detail) -> Markup:
    """A refund report that does not match our refund: what we asked for and what was reported, exactly."""
    expected = _amount(detail, "expected_amount", "expected_currency")
    reported = _amount(detail, "reported_amount", "reported_currency")
    if detail.text("expected_trade") == detail.text("reported_trade"):
        return t(
            _("expected {expected}, reported {reported} (order <code>{trade}</code>, refund <code>{refund}</code>)"),
            expected=expected,
            reported=reported,
            trade=ltr(detail.text("expected_trade")),
            refund=ltr(detail.text("refund")),
        )
    return t(
        _(
            "expected {expected} of order <code>{expected_trade}</code>, reported {reported} of order "
            "<code>{reported_trade}</code> (refund <code>{refund}</code>)"
        ),
        expected=expected,
        reported=reported,
        expected_trade=ltr(detail.text("expected_trade")),
        reported_trade=ltr(detail.text("reported_trade")),
        refund=ltr(detail.text("refund")),
    )


def audit_detail(event: AuditEvent) -> Markup | str:
    """An audit entry's detail ("" when it has none)."""
    detail = read_detail(event.detail)
    if detail is None:
        return clip(event.detail, LEGACY_UNITS)
    match detail.kind:
        case DetailKind.INVITE:
            return t(_("works once, until {when}"), when=short_when(detail.moment("until")))
        case DetailKind.JOIN:
            inviter = name_of(detail.text("invited_by_name"), detail.number("invited_by"))
            if detail.optional("was"):
                return t(_("invited by {person}, was {role} before"), person=inviter, role=_role(detail.text("was")))
            return t(_("invited by {person}"), person=inviter)
        case DetailKind.REMOVE:
            return t(_("was {role}"), role=_role(detail.text("was")))
        case DetailKind.LINK:
            return t(
                "{amount} · {description}",
                amount=_amount(detail),
                description=clip(detail.text("description"), 60),
            )
        case DetailKind.SETTING:
            return t(
                "{old} → {new}",
                old=_setting_value(event.subject, detail.fields.get("old")),
                new=_setting_value(event.subject, detail.fields.get("new")),
            )
        case DetailKind.REFUND:
            return _refund(detail, with_person=False)
        case DetailKind.PERMISSION:
            if detail.fields.get("allowed") is True:
                return t(_("may refund now ({role})"), role=_role(detail.text("role")))
            return t(_("may not refund any more ({role})"), role=_role(detail.text("role")))
        case _:
            return ""


def after_colon(worded: Markup | str) -> Markup | str:
    """A worded detail as it follows its entry (": …"), or nothing."""
    return Markup(": {detail}").format(detail=worded) if worded else ""


def _name(detail: Detail, field: str) -> str:
    """A person's name stored in a detail, clipped and kept in one piece."""
    return name_of(detail.text(field)) if detail.text(field) else "?"


def _setting_value(setting: str, value: object) -> str:
    """A setting's stored value for people: a validity as a length of time, a language by its name."""
    if value is None and setting == "reminders":
        return reminder_short(None)
    if value is None and setting in {"daily summary", "payments feed"}:
        return pgettext("daily summary", "off")
    if value is None or value == "":
        return "—"
    if setting == "expiry" and isinstance(value, int):
        return expiry_text(value)
    if setting == "reminders" and isinstance(value, int):
        return reminder_short(value)
    if setting == "daily summary" and isinstance(value, int):
        return summary_time(value)
    if setting in {"language", "customer language"}:
        return NATIVE_NAMES.get(str(value), str(value))
    return ltr(clip(str(value), 48))


def reminder_short(seconds: int | None) -> str:
    """A chat's reminder setting in a word or two, for its button ("auto", "off", "6 hours")."""
    if seconds is None:
        return pgettext("reminders", "auto")
    if seconds == 0:
        return pgettext("reminders", "off")
    return expiry_text(seconds)


def summary_time(minute: int | None) -> str:
    """The daily summary's time as the reader writes times ("18:30", "18.30"), or that there is none."""
    if minute is None:
        return pgettext("daily summary", "off")
    moment = datetime(2000, 1, 1, minute // 60, minute % 60)
    return ltr(format_skeleton("Hm", moment, locale=format_locale(current().locale)))
