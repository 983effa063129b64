"""/start and /help: who you are here, whether money is real, and what you can do (one example each)."""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list

from bot.chat.texts.base import Markup, _, clip, ltr, t
from bot.chat.texts.team import handle
from bot.i18n.locales import format_locale
from bot.i18n.reader import N_, current
from bot.services.team import TeamMember
from storage.models import Role

# Who you are, one whole sentence per role: {name} is the person's first name, {bot} the bot's name.
_YOU_ARE = {
    Role.OWNER: N_("👋 Hi {name}! You are an <b>owner</b> of {bot}: you can do everything here."),
    Role.ADMIN: N_("👋 Hi {name}! You are an <b>admin</b> on the {bot} team: everything but the audit log."),
    Role.AGENT: N_(
        "👋 Hi {name}! You are an <b>agent</b> on the {bot} team: you make payment links and manage your own."
    ),
    Role.SUPPORT: N_(
        "👋 Hi {name}! You are on <b>support</b> for the {bot} team: you find any link, see it and send it again."
    ),
}

# One line per command, with one example; the command names stay as typed in every language.
_LINES = {
    "link": N_("/link 150000 IDR Winter shoes: a payment link in one message"),
    "newlink": N_("/newlink: I ask for the amount and what it is for"),
    "links": N_("/links: recent links and today's takings"),
    "find": N_("/find winter shoes: a link by id, order number or words"),
    "status": N_("/status PL…: one link's whole story"),
    "refund": N_("/refund PL… 50000 damaged box: refund all or part of a payment"),
    "report": N_("/report month: links made and paid, money per currency, with a chart"),
    "export": N_("/export month: those links with their payments as a CSV file"),
    "team": N_("/team: who is on the team, and their roles"),
    "invite": N_("/invite agent: a one-time join link for a new agent"),
    "remove": N_("/remove @username: take someone off the team"),
    "settings": N_("/settings: currency, time zone, validity, languages, reminders and a daily summary here"),
    "language": N_("/language: the language I answer you in"),
    "notifyme": N_("/notifyme on: also get “Paid” here for links you make in groups"),
    "audit": N_("/audit: who did what and when"),
    "cancel": N_("/cancel: stop making a link"),
    "help": N_("/help: this message"),
}

_ENVIRONMENT = {
    "sandbox": N_("🧪 <b>Sandbox</b>: links are for trying things out; no real money moves."),
    "uat": N_("🧪 <b>PayerMax test environment</b> (UAT): no real money moves."),
    "production": N_("💳 <b>Live</b>: links take real money."),
}


def environment_line(environment: str) -> Markup:
    """Whether money is real here."""
    return t(_(_ENVIRONMENT.get(environment, _ENVIRONMENT["sandbox"])))


def _team_run_by(leaders: Sequence[TeamMember]) -> Markup:
    named = [handle(member.name, member.user_id, member.username) for member in leaders[:4]]
    people = format_list(named, locale=format_locale(current().locale))
    return t(_("The team is run by {people}."), people=people)


def welcome(
    *,
    first_name: str,
    user_id: int,
    role: Role | None,
    bot_name: str,
    environment: str,
    leaders: Sequence[TeamMember],
    commands: Sequence[str],
    currency: str | None,
    everyone_owns: bool = False,
) -> Markup:
    """/start and /help: who you are here (role, team, sandbox or live) and what you can do, one example each.

    ``leaders`` are the owners and admins (named to team members, never to strangers); ``commands``
    the names of the commands this person may use in this chat, in menu order.
    """
    name, bot = ltr(clip(first_name or "", 32)) or ltr(str(user_id)), ltr(clip(bot_name, 48))
    if role is None:
        return _stranger(name, bot, user_id, environment, commands)
    lines = [t(_(_YOU_ARE[role]), name=name, bot=bot)]
    others = [member for member in leaders if member.user_id != user_id]
    if role != Role.OWNER and others:
        lines.append(_team_run_by(others))
    if everyone_owns:
        lines.append(
            t(_("Nobody is named in ADMIN_USER_IDS, so in this sandbox everyone who writes to me is an owner."))
        )
    lines += [environment_line(environment), Markup(""), t(_("<b>What you can do</b>"))]
    for command in commands:
        if command in _LINES:
            lines.append(t(_(_LINES[command])))
        if command == "newlink":  # after the ways of making a link: what an amount without a currency means
            lines.append(
                t(_("Without a currency I use {currency}."), currency=ltr(currency))
                if currency
                else t(_("Without a currency I ask which one you mean."))
            )
        if command == "status" and "link" in commands:
            lines.append(
                t(_("The card's buttons refresh, cancel, share, send the QR again and refund."))
                if "refund" in commands
                else t(_("The card's buttons refresh, cancel, share and send the QR again."))
            )
    return Markup("\n").join(lines)


def _stranger(name: str, bot: str, user_id: int, environment: str, commands: Sequence[str]) -> Markup:
    """The welcome of someone not on the team: what the bot is, and how to get a link or join."""
    lines = [
        t(
            _(
                "👋 Hi {name}! I make PayerMax payment links for the {bot} team and tell them the moment "
                "a link is paid. You are not on the team."
            ),
            name=name,
            bot=bot,
        ),
        environment_line(environment),
        Markup(""),
        t(_("<b>Want to pay for something?</b> Ask the seller to make a link for you; you pay on its page.")),
        t(
            _(
                "<b>Joining the team?</b> Ask its owner or an admin for an invite link and open it. "
                "Your Telegram user id is <code>{user_id}</code>."
            ),
            user_id=ltr(str(user_id)),
        ),
        Markup(""),
    ]
    lines += [t(_(_LINES[command])) for command in commands if command in _LINES]
    return Markup("\n").join(lines)


def unknown_command() -> Markup:
    """A command the bot does not know."""
    return t(_("I don't know that command."))
