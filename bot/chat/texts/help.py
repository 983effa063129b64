"""/start and /help, and what an unknown command hears."""

from __future__ import annotations

from bot.chat.texts.base import Markup, _, ltr, t


def help_text(currency: str | None) -> Markup:
    """What the bot can do."""
    default = (
        t(_("Without a currency I use {currency}."), currency=ltr(currency))
        if currency
        else t(_("Without a currency I ask which one you mean."))
    )
    return t(
        _(
            "I make PayerMax payment links and tell you the moment they are paid.\n\n"
            "<b>Make a link</b>\n"
            "/link 150000 IDR Winter shoes: all in one message\n"
            "/newlink: I ask for the amount and what it is for\n"
            "{default}\n\n"
            "<b>Find and manage links</b>\n"
            "/links: recent links here (in private: yours), with today's takings\n"
            "/find winter shoes: by link id, order number or words of the description\n"
            "/status PL…: one link's whole story\n"
            "/refund PL… 50000 reason: refund all or part of a payment (owners, admins, and whom an owner allows)\n"
            "The card's buttons refresh, cancel, share, send the QR again and refund.\n\n"
            "<b>Reports</b>\n"
            "/report month: links made and paid, money per currency, with a chart "
            "(also today, yesterday, week, 2026-11 or 2026-11-01..2026-11-15)\n"
            "/export month: those links with their payments as a CSV file\n\n"
            "<b>Team and settings</b>\n"
            "/team · /invite agent · /remove 12345\n"
            "/settings: currency, country, time zone, how long links last, languages, a daily summary\n"
            "/language: the language I answer you in\n"
            "/notifyme on: also get “Paid” for your group links in private\n"
            "/audit: who did what (owners)\n\n"
            "/cancel: stop what we are doing · /help: this message"
        ),
        default=default,
    )


def unknown_command() -> Markup:
    """A command the bot does not know."""
    return t(_("I don't know that command."))
