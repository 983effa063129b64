"""Refusals and the team: roles in words, invites, joining, removing, the private "Paid" copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from babel.lists import format_list

from bot.botapi.markup import MESSAGE_LIMIT, fit_lines
from bot.chat.texts.base import Markup, _, clip, count, ltr, name_of, ngettext, pgettext, plain, t, when
from bot.i18n.locales import format_locale
from bot.i18n.reader import N_, current
from bot.services.access import GRANTORS, REFUND_GRANTABLE, Action, Refusal, Role
from bot.services.team import TeamError, TeamMember, TeamProblem


def role_name(role: Role) -> str:
    """A role's name as the reader's language calls it."""
    return {
        Role.OWNER: pgettext("role", "owner"),
        Role.ADMIN: pgettext("role", "admin"),
        Role.AGENT: pgettext("role", "agent"),
        Role.SUPPORT: pgettext("role", "support"),
    }[role]


# One whole sentence per action, so each language can build it its own way; {roles} is a list of role names.
_NEEDS = {
    Action.CREATE_LINK: N_("Sorry, making payment links needs one of these roles: {roles}."),
    Action.MANAGE_OWN_LINKS: N_("Sorry, managing links needs one of these roles: {roles}."),
    Action.VIEW_ALL_LINKS: N_("Sorry, seeing all links needs one of these roles: {roles}."),
    Action.CANCEL_ANY_LINK: N_("Sorry, cancelling other people's links needs one of these roles: {roles}."),
    Action.RESEND_LINK: N_("Sorry, sending links again needs one of these roles: {roles}."),
    Action.MANAGE_TEAM: N_("Sorry, managing the team needs one of these roles: {roles}."),
    Action.CHANGE_SETTINGS: N_("Sorry, changing the chat's settings needs one of these roles: {roles}."),
    Action.READ_AUDIT: N_("Sorry, only the bot's owners can read the audit log."),
    Action.CHOOSE_FEED: N_("Sorry, only the bot's owners can choose the payments feed."),
    Action.VIEW_REPORTS: N_("Sorry, reports need one of these roles: {roles}."),
    Action.EXPORT_LINKS: N_("Sorry, exporting links needs one of these roles: {roles}."),
}

# Who can let someone in, keyed by the roles that may grant the weakest role that would do.
_ASK = {
    frozenset({Role.OWNER}): N_("Ask an owner to /invite you (your Telegram user id is {user_id})."),
    frozenset({Role.OWNER, Role.ADMIN}): N_(
        "Ask an owner or an admin to /invite you (your Telegram user id is {user_id})."
    ),
}

_MAY_NOT_INVITE = {
    Role.ADMIN: N_("Only an owner can invite an admin."),
    Role.AGENT: N_("Only an owner or an admin can invite an agent."),
    Role.SUPPORT: N_("Only an owner or an admin can invite someone to support."),
}

_MAY_NOT_REMOVE = {
    Role.ADMIN: N_("Only an owner can remove an admin."),
    Role.AGENT: N_("Only an owner or an admin can remove an agent."),
    Role.SUPPORT: N_("Only an owner or an admin can remove someone from support."),
}

_WELCOME = {
    Role.ADMIN: N_(
        "Welcome! You are an <b>admin</b> here now: you can make and cancel links, see them all, "
        "manage the team and change settings.\n/help shows the commands."
    ),
    Role.AGENT: N_(
        "Welcome! You are an <b>agent</b> here now: you can make payment links and manage your own.\n"
        "/help shows the commands."
    ),
    Role.SUPPORT: N_(
        "Welcome! You are on <b>support</b> here now: you can find any link, see it and send it again.\n"
        "/help shows the commands."
    ),
}


def role_list(roles: Sequence[Role]) -> str:
    """Role names joined the reader's way ("agent, admin, or owner"), weakest first."""
    names = [role_name(role) for role in reversed([role for role in Role if role in roles])]
    return format_list(names, style="or", locale=format_locale(current().locale))


# What a team member's own role is, when it does not allow what they tried.
_YOU_ARE = {
    Role.ADMIN: N_("You are an admin here."),
    Role.AGENT: N_("You are an agent here."),
    Role.SUPPORT: N_("You are on support here."),
}

# Whom a team member can ask for a role that would do, keyed by who may grant it; {people} are named.
_ASK_BY_NAME = {
    frozenset({Role.OWNER}): N_("Only an owner can give you that role: {people}."),
    frozenset({Role.OWNER, Role.ADMIN}): N_("An owner or an admin can give you that role: {people}."),
}

ASKED_AT_MOST = 3  # people named in a refusal (a button's pop-up holds 200 characters)


def handle(name: str, user_id: int, username: str | None) -> str:
    """A person in plain text: name and @username when known, else their Telegram id (kept in one piece)."""
    shown = name_of(name, user_id)
    return f"{shown} ({ltr('@' + username)})" if username else shown


def people_list(members: Sequence[TeamMember]) -> str:
    """A few people named the reader's way ("Olga (@olga) or Ada"), plain text."""
    named = [handle(member.name, member.user_id, member.username) for member in members[:ASKED_AT_MOST]]
    if len(members) > ASKED_AT_MOST:
        named.append(
            plain(
                ngettext("{count} other", "{count} others", len(members) - ASKED_AT_MOST),
                count=count(len(members) - ASKED_AT_MOST),
            )
        )
    return format_list(named, style="or", locale=format_locale(current().locale)) if named else ""


def refusal(refused: Refusal, user_id: int, *, role: Role | None = None, asked: Sequence[TeamMember] = ()) -> str:
    """A sentence for the person refused (plain text): the roles that would do, and whom to ask.

    Someone not on the team learns how to be invited (the team is not named to strangers); a
    member learns that their own role does not allow it, which role would, and who can give it.
    """
    if refused.action == Action.REFUND:
        return refund_refusal(user_id)
    needs = plain(_(_NEEDS[refused.action]), roles=role_list(refused.roles))
    if role is None or role == Role.OWNER:
        if refused.roles == [Role.OWNER]:
            return needs  # owners are named in the configuration: nobody can invite one
        grantors = GRANTORS.get(refused.roles[-1], frozenset({Role.OWNER}))
        return "\n".join((needs, plain(_(_ASK[grantors]), user_id=user_id)))
    lines = [needs, _(_YOU_ARE[role])] if role in _YOU_ARE else [needs]
    if asked:
        if refused.roles == [Role.OWNER]:
            lines.append(plain(_("This bot's owners: {people}."), people=people_list(asked)))
        else:
            grantors = GRANTORS.get(refused.roles[-1], frozenset({Role.OWNER}))
            lines.append(plain(_(_ASK_BY_NAME[grantors]), people=people_list(asked)))
    return "\n".join(lines)


def role_duty(role: Role) -> str:
    """One line on what a role does."""
    return {
        Role.ADMIN: _("everything but the audit log; only owners invite admins"),
        Role.AGENT: _("makes links and manages their own"),
        Role.SUPPORT: _("finds and sees all links and sends them again; can't make or cancel"),
    }.get(role, "")


def invite_usage(roles: Sequence[Role] = (Role.AGENT, Role.SUPPORT, Role.ADMIN)) -> Markup:
    """/invite without a role: the roles this person may invite to, and what each does."""
    if set(roles) == {Role.AGENT, Role.SUPPORT, Role.ADMIN}:
        return t(
            _(
                "Which role? <code>/invite agent</code>, <code>/invite support</code> or <code>/invite admin</code>.\n"
                "• admin: {admin}\n• agent: {agent}\n• support: {support}"
            ),
            admin=role_duty(Role.ADMIN),
            agent=role_duty(Role.AGENT),
            support=role_duty(Role.SUPPORT),
        )
    # An admin: agents and support only (owners invite admins).
    return t(
        _(
            "Which role? <code>/invite agent</code> or <code>/invite support</code>.\n"
            "• agent: {agent}\n• support: {support}"
        ),
        agent=role_duty(Role.AGENT),
        support=role_duty(Role.SUPPORT),
    )


def invite_made(role: Role, url: str, until: datetime) -> Markup:
    """A fresh invite."""
    return t(
        _(
            "Invite for the <b>{role}</b> role:\n{url}\n\n"
            "It works once, until {until}. Whoever opens it first gets the role, so send it only to that person."
        ),
        role=role_name(role),
        url=ltr(url),
        until=when(until),
    )


def joined(role: Role) -> Markup:
    """Welcome to a new member: their role and what it lets them do."""
    return t(_(_WELCOME[role]))


def already_owner() -> Markup:
    """An owner opened an invite."""
    return t(_("You are an owner of this bot already. I left the invite unused for the person it was meant for."))


def team_problem(error: TeamError) -> Markup:
    """Why a team change could not be made, for the person who asked."""
    user = ltr(str(error.user_id or ""))
    match error.problem:
        case TeamProblem.OWNER_NOT_INVITABLE:
            return t(_("Owners are named in the bot's configuration (ADMIN_USER_IDS), not invited."))
        case TeamProblem.MAY_NOT_INVITE if error.role in _MAY_NOT_INVITE:
            return t(_(_MAY_NOT_INVITE[error.role]))
        case TeamProblem.INVITER_LOST_RIGHTS:
            return t(
                _(
                    "This invite no longer works: the person who made it can't grant that role any more. "
                    "Ask for a new one."
                )
            )
        case TeamProblem.INVITE_USED:
            return t(_("This invite has already been used. Ask for a new one."))
        case TeamProblem.INVITE_UNKNOWN:
            return t(_("I don't know this invite. Check the link, or ask for a new one."))
        case TeamProblem.INVITE_EXPIRED:
            return t(_("This invite has expired (invites work for 24 hours). Ask for a new one."))
        case TeamProblem.OWNER_NOT_REMOVABLE:
            return t(
                _("{user_id} is an owner. Owners are named in ADMIN_USER_IDS and can't be removed from chat."),
                user_id=user,
            )
        case TeamProblem.NOT_ON_TEAM:
            return t(_("{user_id} is not on the team. /team shows who is."), user_id=user)
        case TeamProblem.MAY_NOT_REMOVE if error.role in _MAY_NOT_REMOVE:
            return t(_(_MAY_NOT_REMOVE[error.role]))
        case TeamProblem.MAY_NOT_GRANT_REFUNDS:
            return t(_("Only an owner can give or take the refund permission."))
        case TeamProblem.REFUNDS_BY_ROLE:
            return t(
                _("{user_id} is {role}, and can refund by that role. The permission is given to agents and support."),
                user_id=user,
                role=role_name(error.role or Role.ADMIN),
            )
        case _:
            return t(
                _(
                    "Private “Paid” messages are for team members who joined by invite. Owners named in "
                    "ADMIN_USER_IDS and people not on the team can't turn them on."
                )
            )


def person(name: str, user_id: int, username: str | None = None) -> Markup:
    """A person for lists: their (clipped) name, @username when known, and Telegram id."""
    at = ltr("@" + username) if username else ""
    if name and at:
        return t("{name} ({at}, <code>{user_id}</code>)", name=name_of(name), at=at, user_id=ltr(str(user_id)))
    if name or at:
        return t("{name} (<code>{user_id}</code>)", name=name_of(name) if name else at, user_id=ltr(str(user_id)))
    return t("<code>{user_id}</code>", user_id=ltr(str(user_id)))


def _member_line(member: TeamMember) -> Markup:
    """One person in /team: role, name and id, and what they have switched on or been given."""
    granted = member.can_refund and member.role in REFUND_GRANTABLE
    if granted and member.notify_private:
        template = _("• <b>{role}</b> · {person} · may refund · also gets “Paid” in private")
    elif granted:
        template = _("• <b>{role}</b> · {person} · may refund")
    elif member.notify_private:
        template = _("• <b>{role}</b> · {person} · also gets “Paid” in private")
    else:
        template = _("• <b>{role}</b> · {person}")
    return t(template, role=role_name(member.role), person=person(member.name, member.user_id, member.username))


def team_list(members: Sequence[TeamMember]) -> Markup:
    """The /team answer: one line per person, owners first; a team too big for a message says how many more."""
    return fit_lines(
        [t(_("<b>Team</b> ({count})"), count=count(len(members)))],
        [_member_line(member) for member in members],
        limit=MESSAGE_LIMIT,
        more=lambda more: t(ngettext("… and {count} more", "… and {count} more", more), count=count(more)),
        tail=[
            Markup(""),
            t(_("/invite agent adds someone; /remove @username or /remove 123456789 takes them out at once.")),
            t(
                _(
                    "Owners and admins can refund. <code>/team refund 123456789 on</code> lets an agent or "
                    "support person refund too (owners only)."
                )
            ),
        ],
    )


def remove_usage() -> Markup:
    """/remove without whom."""
    return t(
        _(
            "Whom? Send <code>/remove @username</code> or <code>/remove 123456789</code> with their Telegram "
            "user id (see /team), or reply <code>/remove</code> to one of their messages."
        )
    )


def unknown_username(username: str) -> Markup:
    """/remove @name for a name the bot has never seen."""
    return t(
        _(
            "I haven't seen {username} yet, so I don't know who that is. Use their Telegram user id "
            "from /team, or reply <code>/remove</code> to one of their messages."
        ),
        username=ltr("@" + clip(username, 32)),
    )


def removed(name: str, user_id: int, role: Role, username: str | None = None) -> Markup:
    """Someone was taken off the team."""
    return t(
        _("{person} is no longer {role} and can't use the bot from now on. I've told them."),
        person=person(name, user_id, username),
        role=role_name(role),
    )


def invite_used(name: str, user_id: int, username: str | None, role: Role, was: Role | None) -> Markup:
    """To the inviter: who used their invite, and as what."""
    if was is not None and was != role:
        return t(
            _("👋 {person} used your invite and is now <b>{role}</b> (was {was})."),
            person=person(name, user_id, username),
            role=role_name(role),
            was=role_name(was),
        )
    return t(
        _("👋 {person} used your invite and joined the team as <b>{role}</b>."),
        person=person(name, user_id, username),
        role=role_name(role),
    )


def you_were_removed(role: Role, by: str) -> Markup:
    """To a member taken off the team, once."""
    return t(
        _(
            "{by} took you off the team: you are no longer {role} and can't use the bot from now on. "
            "If that is a mistake, ask an owner or an admin for a new invite."
        ),
        by=name_of(by) if by else "?",
        role=role_name(role),
    )


def notify_state(on: bool) -> Markup:
    """/notifyme without on/off."""
    message = (
        _(
            "When a link you made in a group is paid, I also tell you here in private. "
            "<code>/notifyme off</code> stops that."
        )
        if on
        else _(
            "When a link you made in a group is paid, I tell only the group. "
            "<code>/notifyme on</code> also tells you here in private."
        )
    )
    return t(message)


def notify_on() -> Markup:
    return t(_("Done: when a link you made in a group is paid, I'll tell you here in private too."))


def notify_off() -> Markup:
    return t(_("Done: “Paid” for your group links goes to the group only."))


def notify_usage() -> Markup:
    return t(_("Send <code>/notifyme on</code> or <code>/notifyme off</code>."))


# --- the refund permission (/team) ----------------------------------------------------------------


def refund_refusal(user_id: int) -> str:
    """A person without the refund permission (plain text): who has it, and who can grant it."""
    return plain(
        _(
            "Sorry, refunds need the refund permission. Owners and admins have it; an owner can give it to "
            "{roles} in /team. Ask an owner (your Telegram user id is {user_id})."
        ),
        roles=role_list(list(REFUND_GRANTABLE)),
        user_id=user_id,
    )


def refund_grant_usage() -> Markup:
    """/team refund without whom or on/off."""
    return t(
        _(
            "Send <code>/team refund 123456789 on</code> to let an agent or support person refund, "
            "<code>/team refund 123456789 off</code> to stop it. Owners and admins can always refund."
        )
    )


def refund_granted(name: str, user_id: int, allowed: bool) -> Markup:
    """An owner gave or took someone's refund permission."""
    who = person(name, user_id)
    if allowed:
        return t(_("Done: {person} can refund paid links now."), person=who)
    return t(_("Done: {person} can no longer refund."), person=who)


def grant_button(name: str, user_id: int, allowed: bool) -> str:
    """A /team button that gives or takes someone's refund permission (plain text)."""
    who = clip(name, 24) if name else str(user_id)
    return plain(_("↩️ Let {name} refund") if not allowed else _("✖️ Stop {name} refunding"), name=who)
