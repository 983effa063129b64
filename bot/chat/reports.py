"""/report (a period's figures, with a chart of paid totals per day) and /export (the period's links as CSV).

Whose links count follows the person's view of links: owners, admins and support see everyone's
(in a group: that chat's), an agent their own. Periods are days of the chat's calendar, typed
in English or in the reader's language; without one, today.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.constants import ChatAction, ChatType

from bot import charts
from bot.botapi import sending
from bot.chat import texts
from bot.chat.context import PaylinkContext, arguments, chat_of, message_of, sender
from bot.chat.guards import refuse, refuse_unless
from bot.chat.reply import reply
from bot.i18n import clock
from bot.i18n.reader import current
from bot.services.access import Action, refusal_of
from bot.services.chat_defaults import market_country
from bot.services.link_access import LinkScope
from bot.services.periods import Period, PeriodError, parse_period
from bot.services.reports import Report
from storage.models import utcnow

log = logging.getLogger("paylink.chat.reports")

TELEGRAM_FILE_LIMIT = 50 * 1024 * 1024  # what a bot may send as a document


async def _scope_here(update: Update, context: PaylinkContext, action: Action) -> LinkScope | None:
    """The links this person's report or export covers here; None (after saying why) if they may not."""
    if await refuse_unless(update, context, action):
        return None
    scope = await context.services.link_access.scope_for(sender(update).id)
    if scope is None:  # a role with the action but no view of links: none today, refused all the same
        await refuse(update, context, refusal_of(action))
        return None
    chat = chat_of(update)
    return scope if chat.type == ChatType.PRIVATE else scope.in_chat(chat.id)


def _today(zone: ZoneInfo) -> date:
    """Today in the reader's calendar."""
    return utcnow().astimezone(zone).date()


async def _period(update: Update, context: PaylinkContext, zone: ZoneInfo) -> Period | None:
    """The period typed after the command (today without one); None after explaining what is wrong with it."""
    today = _today(zone)
    try:
        return parse_period(
            arguments(update), today=today, first_weekday=texts.first_weekday(), words=texts.period_words()
        )
    except PeriodError as exc:
        await reply(update, context, texts.period_problem(exc, today))
        return None


def chart_series(report: Report, today: date) -> tuple[list[str], list[charts.DailySeries]]:
    """The chart's day labels and one series per currency (most payments first), or nothing worth a chart.

    A one-day period is a single point, and a period with no payment a flat line: neither gets a chart.
    """
    if report.period.day_count < 2 or not report.paid.count:
        return [], []
    days = report.period.days_until(today)
    currencies = sorted(report.daily, key=lambda code: (-report.paid.counts.get(code, 0), code))
    series = [
        charts.DailySeries(code, [report.daily[code].get(day, Decimal(0)) for day in days])
        for code in currencies[: charts.MAX_PANELS]
    ]
    return [texts.chart_day(day) for day in days], series


async def report_command(update: Update, context: PaylinkContext) -> None:
    """Send the period's figures, then the chart of paid totals per day as a reply to them."""
    scope = await _scope_here(update, context, Action.VIEW_REPORTS)
    if scope is None:
        return
    zone = clock.zone(current().timezone)
    period = await _period(update, context, zone)
    if period is None:
        return
    report = await context.services.reports.build(scope, period, zone)
    sent = await reply(update, context, texts.report_text(report, scope))
    labels, series = chart_series(report, _today(zone))
    if not series:
        return
    png = await charts.render(labels, series)
    await sending.send_photo(
        context.bot, sent.chat_id, png, texts.chart_caption(report, len(series)), reply_to=sent.message_id
    )


async def export_command(update: Update, context: PaylinkContext) -> None:
    """Send every link made in the period, with its payments and refunds, as a CSV document."""
    scope = await _scope_here(update, context, Action.EXPORT_LINKS)
    if scope is None:
        return
    zone = clock.zone(current().timezone)
    period = await _period(update, context, zone)
    if period is None:
        return
    chat = chat_of(update)
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    style = texts.export_style(market_country(await context.services.chat_defaults.defaults_for(chat.id)))
    # On disk, not in memory: a long period's file is sent from there, read as it uploads.
    with tempfile.TemporaryFile(prefix="paylink-export-") as file:
        rows = await context.services.exports.write_csv(scope, period, zone, file, texts.export_headers(), style)
        if rows == 0:
            await reply(update, context, texts.export_empty(period))
            return
        size = file.tell()
        if size > TELEGRAM_FILE_LIMIT:
            log.info("export of %d rows (%d bytes) is too large to send", rows, size, extra={"chat": chat.id})
            await reply(update, context, texts.export_too_large())
            return
        file.seek(0)
        document = InputFile(file, filename=texts.export_file_name(period), read_file_handle=False)
        quoted = message_of(update).message_id if chat.type != ChatType.PRIVATE else None
        await sending.send_document(
            context.bot, chat.id, document, texts.export_caption(rows, period, zone.key, style), reply_to=quoted
        )
    log.info("exported %d links", rows, extra={"chat": chat.id, "user": sender(update).id})
