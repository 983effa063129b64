"""What every text needs: gettext in the reader's language, Markup templates, and values written the reader's way.

``t(_("…"), name=value)`` is the one way a sentence becomes a message: the template is translated
first (``_`` runs at call time, in the reader's language), then its ``format`` escapes every value
that is not itself Markup, so nothing a person typed can become markup. Money, times, counts and
identifiers are written for the reader here: their locale's formats, their zone, and in a
right-to-left language every identifier isolated (FSI … PDI) so it keeps its order in the sentence.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.botapi.markup import Markup, clip, join
from bot.i18n import clock
from bot.i18n.reader import current, gettext, ngettext, pgettext
from bot.i18n.regions import currency_of, markets, zones_of
from bot.money import Money, format_money, format_number, is_rtl, isolate
from storage.models import Link

__all__ = ["Markup", "_", "clip", "join", "ngettext", "pgettext", "t"]

_ = gettext

# How much of a person's own text a list or card shows (UTF-16 units).
NAME_UNITS = 48
LIST_DESCRIPTION_UNITS = 60
BUTTON_DESCRIPTION_UNITS = 28
QUERY_UNITS = 64  # how much of a search text an answer repeats


def t(message: str, /, **values: object) -> Markup:
    """A translated template filled in: the template is trusted markup, every value is escaped."""
    return Markup(message).format(**values)


def plain(message: str, /, **values: object) -> str:
    """A translated sentence for plain-text places (button pop-ups, inline titles): no markup at all."""
    return message.format(**values)


def ltr(text: str) -> str:
    """An identifier, URL, code or Latin name kept in one piece inside right-to-left text."""
    return isolate(text) if text and is_rtl(current().locale) else text


def money(value: Money) -> str:
    """An amount as the reader writes it, with PayerMax's decimals (isolated in right-to-left text)."""
    return format_money(value, current().locale)


def money_of(link: Link) -> str:
    """The link's amount as the reader writes it."""
    return money(Money(link.amount, link.currency))


def plain_amount(value: Decimal) -> str:
    """A bare amount (no currency yet) as the reader writes numbers."""
    return ltr(format_number(value, current().locale))


def local_examples() -> dict[str, str]:
    """Example values for the reader's market ("IDR", "Asia/Jakarta", "ID" for Indonesian), for typed-command hints."""
    country = markets(current().locale)[0]
    zones = zones_of(country)
    return {"currency": currency_of(country) or "USD", "zone": zones[0] if zones else "UTC", "country": country}


def count(value: int) -> str:
    """A number as the reader writes it."""
    return format_number(value, current().locale)


def when(moment: datetime | None) -> str:
    """A moment in the reader's zone and language, with the zone named."""
    return clock.when(moment)


def short_when(moment: datetime | None) -> str:
    """A moment in a list: day, month and time in the reader's zone."""
    return clock.short_when(moment)


def name_of(name: str, user_id: int | None = None) -> str:
    """A person's name as lists show it: clipped and kept in one piece, or their id when they have none."""
    return ltr(clip(name, NAME_UNITS)) if name else ltr(str(user_id or "?"))


def expiry_text(seconds: int) -> str:
    """A validity period for people: "24 hours", "7 days", "90 minutes" (in the reader's language)."""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("{count} day", "{count} days", days).format(count=count(days))
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("{count} hour", "{count} hours", hours).format(count=count(hours))
    minutes = seconds // 60
    return ngettext("{count} minute", "{count} minutes", minutes).format(count=count(minutes))


def sandbox_banner() -> Markup:
    """The line that marks every message about a sandbox link."""
    return t(_("🧪 <b>SANDBOX</b> test link: no real money moves."))


def sandboxed(link: Link, text: Markup) -> Markup:
    """Mark a message about a sandbox link as such (every one of them says so)."""
    return join([sandbox_banner(), text]) if link.sandbox else text
