"""/report, the daily summary, /export and their periods, in the reader's words, money and calendar."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time

from babel.core import Locale
from babel.dates import format_interval, format_skeleton
from babel.numbers import format_percent

from bot.botapi.markup import MESSAGE_LIMIT, fit_lines
from bot.chat.texts.base import Markup, _, clip, count, join, ltr, money, name_of, ngettext, pgettext, t
from bot.chat.texts.cards import method_name
from bot.i18n import clock
from bot.i18n.locales import format_locale, format_locale_in
from bot.i18n.reader import current
from bot.money import Money, is_rtl, isolate
from bot.services.exports import COLUMNS, DECIMAL_COMMA, DECIMAL_POINT, CsvStyle
from bot.services.link_access import LinkScope
from bot.services.periods import MAX_DAYS, Period, PeriodError, PeriodKind, PeriodProblem
from bot.services.reports import Report, Takings

CAPTION_PERIOD_UNITS = 200


def _locale() -> Locale:
    return format_locale(current().locale)


def _noon(day: date) -> datetime:
    """A date as a moment Babel formats as that very date (noon UTC: no zone shifts it to another day)."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def day_text(day: date) -> str:
    """A date in full, the reader's way ("27 Nov 2026")."""
    return ltr(format_skeleton("yMMMd", _noon(day), tzinfo=UTC, locale=_locale()))


def days_text(first: date, last: date) -> str:
    """A run of days, the reader's way ("1–27 Nov 2026", "Oct 28 – Nov 3, 2026")."""
    if first == last:
        return day_text(first)
    return ltr(format_interval(_noon(first), _noon(last), skeleton="yMMMd", tzinfo=UTC, locale=_locale()))


def chart_day(day: date) -> str:
    """A day under the chart: digits only ("11/27", "27/11"), since the chart's font has no other scripts."""
    return format_skeleton("Md", _noon(day), tzinfo=UTC, locale=_locale())


def period_words() -> dict[str, PeriodKind]:
    """The words for a period in the reader's language, as they may type them after /report or /export."""
    return {
        pgettext("period typed after /report", "today"): PeriodKind.TODAY,
        pgettext("period typed after /report", "yesterday"): PeriodKind.YESTERDAY,
        pgettext("period typed after /report", "week"): PeriodKind.WEEK,
        pgettext("period typed after /report", "month"): PeriodKind.MONTH,
    }


def first_weekday() -> int:
    """The reader's first day of the week (0 = Monday)."""
    return int(_locale().first_week_day)


def period_name(period: Period) -> str:
    """A period for a heading: "Today, 27 Nov 2026", "November 2026", "1–15 Nov 2026" (plain text)."""
    dates = days_text(period.first, period.last)
    match period.kind:
        case PeriodKind.TODAY:
            return _("Today, {date}").format(date=dates)
        case PeriodKind.YESTERDAY:
            return _("Yesterday, {date}").format(date=dates)
        case PeriodKind.WEEK:
            return _("This week, {dates}").format(dates=dates)
        case PeriodKind.MONTH:
            return _("This month, {dates}").format(dates=dates)
        case PeriodKind.CALENDAR_MONTH:
            return ltr(format_skeleton("yMMMM", _noon(period.first), tzinfo=UTC, locale=_locale()))
    return dates


def scope_name(scope: LinkScope) -> str:
    """Whose links a report counts."""
    if scope.all_links:
        return _("Links made in this chat") if scope.chat_id is not None else _("Everyone's links")
    return _("Your links in this chat") if scope.chat_id is not None else _("Your links")


def percent(share: float) -> str:
    """A share as the reader writes percentages ("58%", "%58" in Turkish)."""
    text = format_percent(share, locale=_locale())
    return isolate(text) if is_rtl(current().locale) else text


def _totals(takings: Takings) -> str:
    """Money per currency on one line ("Rp 150.000 · $12.50")."""
    return " · ".join(money(Money(total, currency)) for currency, total, _count in takings.by_currency())


def _money_lines(takings: Takings, *, refunds: bool = False) -> list[Markup]:
    lines = []
    for currency, total, how_many in takings.by_currency():
        template = (
            ngettext("• <b>{amount}</b> · {count} refund", "• <b>{amount}</b> · {count} refunds", how_many)
            if refunds
            else ngettext("• <b>{amount}</b> · {count} payment", "• <b>{amount}</b> · {count} payments", how_many)
        )
        lines.append(t(template, amount=money(Money(total, currency)), count=count(how_many)))
    return lines


def report_head(report: Report, scope: LinkScope, *, summary: bool = False) -> list[Markup]:
    """The heading: what the report is, for which period, whose links, and the zone its days are in."""
    period = period_name(report.period)
    title = (
        t(_("🗓 <b>Daily summary: {period}</b>"), period=period)
        if summary
        else t(_("📊 <b>Report: {period}</b>"), period=period)
    )
    now = datetime.now(UTC)
    return [title, t(_("{whose} · times in {zone}"), whose=scope_name(scope), zone=clock.current_zone_label(now))]


def report_text(report: Report, scope: LinkScope, *, summary: bool = False) -> Markup:
    """The /report (or daily summary) message: counts, conversion, money per currency, by person and by method."""
    head = report_head(report, scope, summary=summary)
    if report.is_empty:
        return join([*head, Markup(""), t(_("Nothing happened in this period: no links made, nothing paid."))])
    lines = [
        *head,
        Markup(""),
        t(
            _("Made <b>{made}</b> · paid <b>{paid}</b> · expired <b>{expired}</b> · cancelled <b>{cancelled}</b>"),
            made=count(report.made),
            paid=count(report.paid.count),
            expired=count(report.expired),
            cancelled=count(report.cancelled),
        ),
    ]
    if report.conversion is not None:
        lines.append(
            t(
                ngettext(
                    "Conversion: <b>{percent}</b> ({paid} of the {made} link made in this period is paid)",
                    "Conversion: <b>{percent}</b> ({paid} of the {made} links made in this period are paid)",
                    report.made,
                ),
                percent=percent(float(report.conversion)),
                paid=count(report.made_paid),
                made=count(report.made),
            )
        )
    if report.paid.count:
        lines += [Markup(""), t(_("<b>Paid</b>")), *_money_lines(report.paid)]
    if report.refunded.count:
        lines += [Markup(""), t(_("<b>Refunded</b>")), *_money_lines(report.refunded, refunds=True)]
    if report.methods:
        lines += [Markup(""), t(_("<b>By payment method</b>"))]
        lines += [
            t(
                ngettext(
                    "• {method}: {count} payment · {totals}",
                    "• {method}: {count} payments · {totals}",
                    entry.paid.count,
                ),
                method=method_name(entry.method),
                count=count(entry.paid.count),
                totals=_totals(entry.paid),
            )
            for entry in report.methods
        ]
    people = [
        t(
            _("• {name}: made {made} · paid {paid} · {totals}"),
            name=name_of(person.name, person.user_id),
            made=count(person.made),
            paid=count(person.paid.count),
            totals=_totals(person.paid),
        )
        if person.paid.count
        else t(
            _("• {name}: made {made} · paid {paid}"),
            name=name_of(person.name, person.user_id),
            made=count(person.made),
            paid=count(person.paid.count),
        )
        for person in report.people
    ]
    if not scope.all_links or not people:
        return join(lines)
    return fit_lines(
        [*lines, Markup(""), t(_("<b>By person</b>"))],
        people,
        limit=MESSAGE_LIMIT,
        more=lambda more: t(
            ngettext("… and {count} more person", "… and {count} more people", more), count=count(more)
        ),
    )


def chart_caption(report: Report, shown: int) -> Markup:
    """The chart's words (the image itself has only numbers and currency codes)."""
    caption = t(_("📈 Paid per day, {period}"), period=clip(period_name(report.period), CAPTION_PERIOD_UNITS))
    total = len(report.daily)
    if shown < total:
        more = t(
            _("The chart shows the {shown} currencies with the most payments; the report lists all {total}."),
            shown=count(shown),
            total=count(total),
        )
        return join([caption, more])
    return caption


def period_problem(error: PeriodError, today: date) -> Markup:
    """Why a typed period cannot be used, with examples that work."""
    month = f"{today:%Y-%m}"
    first, last = today.replace(day=1).isoformat(), today.isoformat()
    value = clip(error.value, 32)
    match error.problem:
        case PeriodProblem.BAD_DATE:
            return t(
                _("“{value}” is not a real date. Write dates as year-month-day, for example <code>{day}</code>."),
                value=value,
                day=ltr(last),
            )
        case PeriodProblem.BACKWARDS:
            return t(
                _("That range ends before it starts. Put the earlier day first: <code>{first}..{last}</code>."),
                first=ltr(first),
                last=ltr(last),
            )
        case PeriodProblem.TOO_LONG:
            return t(
                _("That period is longer than {days} days. Choose a shorter one, for example <code>{month}</code>."),
                days=count(MAX_DAYS),
                month=ltr(month),
            )
        case PeriodProblem.NOT_YET:
            return t(_("“{value}” hasn't started yet, so there is nothing to count."), value=value)
    return t(
        _(
            "I can't read “{value}” as a period. Try <code>today</code>, <code>yesterday</code>, <code>week</code>, "
            "<code>month</code>, a month such as <code>{month}</code>, or days such as <code>{first}..{last}</code>."
        ),
        value=value,
        month=ltr(month),
        first=ltr(first),
        last=ltr(last),
    )


def export_headers() -> list[str]:
    """The CSV's header row in the reader's language, in the export's column order."""
    names: Mapping[str, str] = {
        "link_id": pgettext("export column", "Link id"),
        "payermax_link_id": pgettext("export column", "PayerMax link id"),
        "status": pgettext("export column", "Status"),
        "amount": pgettext("export column", "Amount"),
        "currency": pgettext("export column", "Currency"),
        "description": pgettext("export column", "Description"),
        "created_at": pgettext("export column", "Made at"),
        "expires_at": pgettext("export column", "Expires at"),
        "paid_at": pgettext("export column", "Paid at"),
        "creator_id": pgettext("export column", "Made by (user id)"),
        "creator_name": pgettext("export column", "Made by"),
        "chat_id": pgettext("export column", "Chat id"),
        "chat_title": pgettext("export column", "Chat"),
        "payments": pgettext("export column", "Payments"),
        "order_numbers": pgettext("export column", "Order numbers"),
        "paid_amount": pgettext("export column", "Amount paid"),
        "payment_statuses": pgettext("export column", "Payment statuses"),
        "payment_methods": pgettext("export column", "Payment methods"),
        "cards": pgettext("export column", "Cards (masked)"),
        "payment_times": pgettext("export column", "Paid at (each payment)"),
        "refund_numbers": pgettext("export column", "Refund numbers"),
        "refunded_amount": pgettext("export column", "Amount refunded"),
        "refund_statuses": pgettext("export column", "Refund statuses"),
        "refund_times": pgettext("export column", "Refunded at"),
        "time_zone": pgettext("export column", "Time zone"),
    }
    return [names[column] for column in COLUMNS]


def export_file_name(period: Period) -> str:
    """The CSV's file name: the period in digits, the same in every language ("links-2026-11.csv")."""
    if period.kind == PeriodKind.CALENDAR_MONTH:
        return f"links-{period.first:%Y-%m}.csv"
    if period.first == period.last:
        return f"links-{period.first.isoformat()}.csv"
    return f"links-{period.first.isoformat()}_{period.last.isoformat()}.csv"


def export_style(country: str | None) -> CsvStyle:
    """The CSV laid out for the reader's spreadsheet: their language's decimal mark (Spanish's: the country's)."""
    return CsvStyle.for_locale(format_locale_in(current().locale, country))


def export_caption(rows: int, period: Period, zone: str, style: CsvStyle) -> Markup:
    """What the CSV holds, and how its columns and decimals are marked (for a spreadsheet set to another region)."""
    holds = t(
        ngettext(
            "{period}: <b>{count}</b> link made, with its payments. Times are in {zone}.",
            "{period}: <b>{count}</b> links made, with their payments. Times are in {zone}.",
            rows,
        ),
        count=count(rows),
        period=clip(period_name(period), CAPTION_PERIOD_UNITS),
        zone=ltr(zone),
    )
    if style == DECIMAL_COMMA:
        layout = t(_("Columns are separated by semicolons (;) and amounts have a decimal comma."))
    elif style == DECIMAL_POINT:
        layout = t(_("Columns are separated by commas (,) and amounts have a decimal point."))
    else:
        return holds
    return join([holds, layout], " ")


def export_empty(period: Period) -> Markup:
    """No link was made in the period."""
    return t(
        _("No links were made in this period ({period}), so there is nothing to export."), period=period_name(period)
    )


def export_too_large() -> Markup:
    """The file is over what a bot may send."""
    return t(_("That export is over Telegram's 50 MB limit for files. Choose a shorter period."))
