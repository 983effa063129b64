"""/links, /find and /status: lists of links and a link's whole story, fitted to one message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from bot.botapi.keyboard_rows import display_units
from bot.botapi.markup import MESSAGE_LIMIT, fit_lines, visible_text
from bot.chat.texts.base import (
    BUTTON_DESCRIPTION_UNITS,
    NAME_UNITS,
    QUERY_UNITS,
    Markup,
    _,
    clip,
    count,
    join,
    ltr,
    money,
    money_of,
    name_of,
    ngettext,
    plain,
    plain_amount,
    short_when,
    t,
    when,
)
from bot.chat.texts.cards import STATUS_EMOJI, method_name, payment_method, status_text
from bot.chat.texts.details import after_colon, event_detail, source_name
from bot.chat.texts.refunds import timeline_refund
from bot.chat.texts.team import person
from bot.i18n import clock
from bot.money import Money
from bot.payermax.models import STATUS_CLOSED
from bot.services.link_queries import FoundLink, LinkPage, Matched, Timeline
from bot.services.link_search import MIN_FRAGMENT
from storage.models import Chat, FailedAttempt, Link, LinkEventKind, LinkStatus, utcnow

# A list line on a phone 390 points wide: about 40 characters before it wraps, the amount and status first.
PHONE_LINE_UNITS = 40
PHONE_DESCRIPTION_UNITS = 10  # the least of the description a line shows, however long the amount
PHONE_NAME_UNITS = 10


def filter_name(status_filter: str) -> str:
    """A /links filter button's word."""
    return {
        "all": _("All"),
        "active": _("Waiting"),
        "paid": _("Paid"),
        "expired": _("Expired"),
        "cancelled": _("Cancelled"),
    }[status_filter]


def previous_button() -> str:
    """The page of newer links (lists run newest first)."""
    return _("‹ Newer")


def next_button() -> str:
    """The page of older links."""
    return _("Older ›")


def link_button_label(link: Link) -> str:
    """A link on a button (plain text): status, amount, the start of the description."""
    return (
        f"{STATUS_EMOJI[LinkStatus(link.status)]} {money_of(link)} · {clip(link.description, BUTTON_DESCRIPTION_UNITS)}"
    )


def _link_line(number: int, link: Link, *, with_creator: bool, now: datetime) -> Markup:
    """One link in a list, one line on a phone: number, status, amount, as much of the description as fits, who or when.

    Lists of everyone's links say who made each; lists of one's own, when it was made.
    """

    def line(description: str) -> Markup:
        values = {
            "number": count(number),
            "emoji": STATUS_EMOJI[LinkStatus(link.status)],
            "amount": money_of(link),
            "description": description,
        }
        if with_creator:
            return t(
                _("{number}. {emoji} <b>{amount}</b> · {description} · {name}"),
                name=clip(person_name(link), PHONE_NAME_UNITS),
                **values,
            )
        return t(
            _("{number}. {emoji} <b>{amount}</b> · {description} · {made}"),
            made=clock.moment_in_list(link.created_at, now),
            **values,
        )

    room = PHONE_LINE_UNITS - display_units(visible_text(line("")))
    return line(clip(link.description, max(PHONE_DESCRIPTION_UNITS, room)))


def paid_totals(totals: dict[str, Decimal], now: datetime) -> Markup:
    """Today's takings per currency (today in the reader's zone), or that there are none."""
    zone = clock.current_zone_label(now)
    if not totals:
        return t(_("Nothing paid yet today ({zone})."), zone=zone)
    amounts = join([t("<b>{amount}</b>", amount=money(Money(amount, code))) for code, amount in totals.items()], " · ")
    return t(_("Paid today ({zone}): {totals}"), zone=zone, totals=amounts)


def links_title(*, in_group: bool, own_only: bool, team: bool, name: str) -> Markup:
    """Whose links a /links message lists; in a group, also whom the list is for (each person has their own)."""
    if in_group:
        if own_only:
            return t(_("<b>Links in this chat</b> (only yours), for {name}"), name=name_of(name))
        return t(_("<b>Links in this chat</b>, for {name}"), name=name_of(name))
    if team:
        return t(_("<b>The team's links</b>"))
    return t(_("<b>Your links</b>"))


def links_page(
    page: LinkPage,
    *,
    title: Markup,
    status_filter: str,
    totals: dict[str, Decimal],
    with_creators: bool,
    none_made_yet: bool,
    now: datetime,
) -> Markup:
    """The /links message: title, today's totals, one numbered line per link, where the list stands.

    ``none_made_yet``: an empty list of one's own links, for someone who can see everyone's.
    """
    lines = [title, paid_totals(totals, now), Markup("")]
    if not page.links:
        if none_made_yet and status_filter == "all":
            lines.append(
                t(_("You haven't made any links yourself. /find looks up any link by id, order number or description."))
            )
        else:
            lines.append(t(_("No links to show.")))
    else:
        first = page.page * page.size
        lines += [
            _link_line(first + index + 1, link, with_creator=with_creators, now=now)
            for index, link in enumerate(page.links)
        ]
        lines += [Markup(""), t(_("Tap a number to open that link's card."))]
    lines.append(
        t(
            ngettext(
                "{filter} · page {page} of {pages} · {total} link",
                "{filter} · page {page} of {pages} · {total} links",
                page.total,
            ),
            filter=filter_name(status_filter),
            page=count(page.page + 1),
            pages=count(page.pages),
            total=count(page.total),
        )
    )
    return join(lines)


def list_for_you() -> str:
    """The pop-up when someone presses a filter on another person's list: theirs comes as a new message."""
    return _("Here is your own list: the one you pressed stays as it was.")


def find_usage() -> Markup:
    """/find without words."""
    return t(
        _(
            "What should I look for? Send <code>/find</code> with an amount (<code>{amount}</code>), "
            "a link id or order number (6 characters of it are enough), or words from the description, "
            "for example <code>/find winter shoes</code>."
        ),
        amount=plain_amount(Decimal(150000)),
    )


def find_none(text: str, *, own_only: bool, short_id: bool = False) -> Markup:
    """Nothing matched the search (and, for a short piece of an id, that 6 characters are needed)."""
    quoted = clip(text, QUERY_UNITS)
    if short_id:
        return t(
            _("Nothing found for <b>{text}</b>. To find a link by part of its id, send at least {count} characters."),
            text=quoted,
            count=count(MIN_FRAGMENT),
        )
    if own_only:
        return t(_("Nothing found for <b>{text}</b>. You can see only the links you made."), text=quoted)
    return t(_("Nothing found for <b>{text}</b>."), text=quoted)


def _matched(matched: Matched) -> str:
    return {
        Matched.LINK_ID: _("link id"),
        Matched.PAYERMAX_ID: _("PayerMax link id"),
        Matched.ORDER: _("order number"),
        Matched.PART_OF_LINK_ID: _("part of the link id"),
        Matched.PART_OF_ORDER: _("part of an order number"),
        Matched.AMOUNT: _("amount"),
        Matched.DESCRIPTION: _("description"),
    }[matched]


def found_links(text: str, found: Sequence[FoundLink]) -> Markup:
    """The /find answer: each link with its state, how it was paid, and what matched."""
    items: list[Markup] = []
    for item in found:
        link = item.link
        lines = [
            Markup(""),
            t(
                "{emoji} <b>{state}</b> · <b>{amount}</b> · {description}",
                emoji=STATUS_EMOJI[LinkStatus(link.status)],
                state=status_text(link),
                amount=money_of(link),
                description=clip(link.description, 80),
            ),
        ]
        if item.payment is not None:
            payment = item.payment
            lines.append(
                t(
                    _("    paid {when} · {method} · order <code>{trade}</code>"),
                    when=when(payment.completed_at),
                    method=payment_method(payment),
                    trade=ltr(payment.out_trade_no),
                )
            )
        lines.append(
            t(
                _("    link <code>{link_id}</code> · made by {name}, {when} · found by {matched}"),
                link_id=ltr(link.merchant_link_id),
                name=person_name(link),
                when=when(link.created_at),
                matched=_matched(item.matched),
            )
        )
        items.append(join(lines))
    head = t(
        ngettext(
            "Found {count} link for <b>{text}</b>, newest first:",
            "Found {count} links for <b>{text}</b>, newest first:",
            len(found),
        ),
        count=count(len(found)),
        text=clip(text, QUERY_UNITS),
    )
    return fit_lines(
        [head],
        items,
        limit=MESSAGE_LIMIT,
        more=lambda more: t(ngettext("… {count} more not shown", "… {count} more not shown", more), count=count(more)),
        tail=[Markup(""), t(_("/status with a link id shows its whole story."))],
    )


def person_name(link: Link) -> str:
    """Who made a link, for lists."""
    return ltr(clip(link.creator_name, NAME_UNITS)) if link.creator_name else ltr(str(link.creator_user_id))


def status_usage() -> Markup:
    """/status without an id."""
    return t(
        _(
            "Which link? Send <code>/status</code> with our link id (<code>PL…</code>), PayerMax's link id "
            "or an order number."
        )
    )


def status_none(text: str) -> Markup:
    """No link has that id."""
    return t(_("No link has the id <b>{text}</b>. /find also searches descriptions."), text=clip(text, QUERY_UNITS))


def _place(link: Link, chat: Chat | None) -> Markup:
    """Where a link was made, for people."""
    if chat is None or chat.type == "private":
        return t(_("a private chat (<code>{chat_id}</code>)"), chat_id=ltr(str(link.chat_id)))
    return t(
        _("{title} (group <code>{chat_id}</code>)"),
        title=ltr(clip(chat.title or "?", NAME_UNITS)),
        chat_id=ltr(str(link.chat_id)),
    )


def event_kind(kind: LinkEventKind | str) -> str:
    """A timeline entry's kind in words."""
    return {
        LinkEventKind.REQUESTED: _("asked for"),
        LinkEventKind.CREATED: _("made by PayerMax"),
        LinkEventKind.FAILED: _("refused by PayerMax"),
        LinkEventKind.PAID: _("paid"),
        LinkEventKind.NOTIFICATION: _("payment reported again"),
        LinkEventKind.MISMATCH: _("payment that does not match"),
        LinkEventKind.EXPIRED: _("expired"),
        LinkEventKind.CANCELLED: _("cancelled"),
        LinkEventKind.REFRESHED: _("checked with PayerMax"),
        LinkEventKind.REFUND_REQUESTED: _("refund asked for"),
        LinkEventKind.REFUND_ACCEPTED: _("refund accepted by PayerMax"),
        LinkEventKind.REFUNDED: _("refunded"),
        LinkEventKind.REFUND_FAILED: _("refund failed"),
        LinkEventKind.REFUND_REFUSED: _("refund refused by PayerMax"),
        LinkEventKind.REFUND_NOTIFICATION: _("refund reported again"),
        LinkEventKind.REFUND_MISMATCH: _("refund report that does not match"),
    }.get(LinkEventKind(kind), str(kind))


def attempt_outcome(attempt: FailedAttempt) -> str:
    """What became of an attempt that did not go through, in a few words: "card declined", "payment not completed"."""
    if attempt.status == STATUS_CLOSED:
        return _("payment not completed")
    if attempt.payment_method:
        return plain(_("{method} declined"), method=method_name(attempt.payment_method))
    return _("payment declined")


def _at(moment: datetime, now: datetime) -> str:
    """A moment for "declined at …": the time alone today, the day and time before."""
    return clock.time_of_day(moment) if moment >= clock.today_starts(now) else short_when(moment)


def last_failed_attempt(attempt: FailedAttempt, now: datetime) -> Markup:
    """The head of /status for an unpaid link: what the customer will say happened ("card declined at 16:20")."""
    return t(
        _("⚠️ Last attempt: {outcome} at {time} ({zone})"),
        outcome=attempt_outcome(attempt),
        time=_at(attempt.attempted_at, now),
        zone=clock.current_zone_label(now),
    )


def _attempt_entry(attempt: FailedAttempt) -> Markup:
    """A failed attempt in the timeline: what happened, PayerMax's reason, the order."""
    reason = t(": {reason}", reason=clip(attempt.result_msg, 120)) if attempt.result_msg else Markup("")
    return t(
        _("{when} · {outcome}{reason} · order <code>{trade}</code>"),
        when=short_when(attempt.attempted_at),
        outcome=attempt_outcome(attempt),
        reason=reason,
        trade=ltr(attempt.out_trade_no),
    )


def timeline(view: Timeline, now: datetime | None = None) -> Markup:
    """The /status answer: the link, where and by whom it was made, its payments and every event."""
    link = view.link
    emoji, state = STATUS_EMOJI[LinkStatus(link.status)], status_text(link)
    if link.status == LinkStatus.PAID:
        status = t(_("Status: {emoji} <b>{state}</b>, {when}"), emoji=emoji, state=state, when=when(link.paid_at))
    else:
        status = t(_("Status: {emoji} <b>{state}</b>"), emoji=emoji, state=state)
    ids = t(_("Link <code>{link_id}</code>"), link_id=ltr(link.merchant_link_id))
    if link.payermax_link_id:
        ids = t(_("{ids} · PayerMax <code>{payermax}</code>"), ids=ids, payermax=ltr(link.payermax_link_id))
    head = [
        t("<b>{amount}</b> · {description}", amount=money_of(link), description=link.description),
        ids,
        status,
        t(
            _("Made by {person} in {place}, {when}"),
            person=person(link.creator_name, link.creator_user_id),
            place=_place(link, view.chat),
            when=when(link.created_at),
        ),
    ]
    if link.expires_at and link.status == LinkStatus.ACTIVE:
        head.append(t(_("Valid until {when}"), when=when(link.expires_at)))
    last_try = view.last_failed_attempt
    if last_try is not None and link.status != LinkStatus.PAID:
        head.append(last_failed_attempt(last_try, now or utcnow()))
    if link.failure_code:
        head.append(
            t(
                _("PayerMax refused it: {code} {message}"),
                code=ltr(link.failure_code),
                message=clip(link.failure_message or "", 200),
            )
        )
    payments = [
        t(
            _("• {amount} · {method} · order <code>{trade}</code> · {when} (first told by {source})"),
            amount=money(Money(p.amount, p.currency)),
            method=payment_method(p),
            trade=ltr(p.out_trade_no),
            when=when(p.completed_at),
            source=source_name(p.source),
        )
        for p in view.payments[:10]
    ]
    if payments:
        head += [Markup(""), t(_("<b>Payments</b>")), *payments]
    if view.refunds:
        head += [Markup(""), t(_("<b>Refunds</b>")), *(timeline_refund(refund) for refund in view.refunds[-10:])]
    head += [Markup(""), t(_("<b>Timeline</b>"))]
    entries = [
        (
            event.created_at,
            t(
                "{when} · {kind}{detail}",
                when=short_when(event.created_at),
                kind=event_kind(event.kind),
                detail=after_colon(event_detail(event)),
            ),
        )
        for event in view.events
    ]
    entries += [(attempt.attempted_at, _attempt_entry(attempt)) for attempt in view.failed_attempts]
    events = [entry for _moment, entry in sorted(entries, key=lambda pair: pair[0])]
    return fit_lines(
        head,
        events,
        limit=MESSAGE_LIMIT,
        more=lambda more: t(ngettext("… {count} more event …", "… {count} more events …", more), count=count(more)),
        keep_first=5,
    )
