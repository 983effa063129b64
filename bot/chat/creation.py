"""Making links: /link in one message, the /newlink conversation, and the questions asked instead of guessing.

An amount is read the reader's way (their digits, separators, local currency signs and words).
Whatever the reading leaves open is asked with buttons, never guessed: which currency when none
was written and the chat has none, which one a sign like "$" means, whether "try" was Turkish lira
or a word, whether "1.500" is fifteen hundred or one and a half. The question is kept in the
person's draft with the request key of the message that asked for the link, so answering it
(twice, or on another replica) makes one link.

The card for a new link is not sent from here: the link service queues it in the outbox in the
same transaction that marks the link ACTIVE, so it appears exactly once even across crashes.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.chat.context import PaylinkContext, actor, arguments, chat_of, message_of, query_of, sender
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.chat.settings_menu import chat_ref
from bot.i18n.locales import payermax_language
from bot.i18n.reader import current
from bot.i18n.regions import likely_currencies
from bot.money import AmountError, AmountReading, Money, is_known_currency, read_amount, read_amount_prefix, settle
from bot.services.access import Action
from bot.services.chat_defaults import ChatDefaults, link_country
from bot.services.drafts import DraftView, Step, summary_request_key
from bot.services.links import LinkOrder, LinkPending, LinkRefused

log = logging.getLogger("paylink.chat")

MAX_DESCRIPTION = 256
ASK_AGAIN = ForceReply(selective=True)
LINK_FLOW, NEWLINK_FLOW = "link", "newlink"  # where a question came from: make the link, or go on to the description


def _description_problem(description: str) -> Markup | None:
    if not description:
        return texts.description_empty()
    if len(description) > MAX_DESCRIPTION:
        return texts.description_too_long(len(description))
    return None


def _format(money: Money) -> str:
    return texts.money(money)


# --- /link ----------------------------------------------------------------------------------------


async def link_command(update: Update, context: PaylinkContext) -> None:
    """Create a link from one message: /link 150000 IDR Winter shoes."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    chat = chat_of(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    typed = arguments(update)
    if not typed:
        await reply(update, context, texts.need_description())
        return
    try:
        reading = read_amount_prefix(typed, locale=current().locale, chat_currency=defaults.currency)
    except AmountError as exc:
        await reply(update, context, texts.amount_problem(exc))
        return
    if not reading.rest and not reading.currency_choices:
        await reply(update, context, texts.need_description())
        return
    problem = _description_problem(reading.rest) if reading.rest else None
    if problem:
        await reply(update, context, problem)
        return
    message = message_of(update)
    request_key = f"msg:{message.chat_id}:{message.message_id}"
    question = {"flow": LINK_FLOW, "description": reading.rest, **_reading_state(reading)}
    await _go_on(update, context, defaults, question, request_key=request_key, asked=False)


def _reading_state(reading: AmountReading) -> dict[str, Any]:
    """What a reading left open, as JSON for the draft."""
    return {
        "text": reading.text,
        "amounts": [str(amount) for amount in reading.amounts],
        "currency": reading.currency,
        "currency_choices": list(reading.currency_choices),
        "token": reading.currency_token,
    }


async def _go_on(
    update: Update,
    context: PaylinkContext,
    defaults: ChatDefaults,
    question: dict[str, Any],
    *,
    request_key: str | None,
    asked: bool,
) -> None:
    """Take the next open point of a reading: ask about it, or settle the amount and go on."""
    chat, user = chat_of(update), sender(update)
    drafts = context.services.drafts
    amounts = question["amounts"]
    currency = question.get("currency")
    if len(amounts) > 1:
        await _ask(
            update,
            context,
            Step.CHOOSE_AMOUNT,
            question,
            request_key,
            _amount_keyboard(amounts, currency),
            texts.ask_which_amount(),
            asked=asked,
        )
        return
    amount = Decimal(amounts[0])
    if currency is None:
        choices = question.get("currency_choices") or []
        token = question.get("token")
        if len(choices) == 1 and token and token.isalpha():
            markup = _did_you_mean_keyboard(amount, choices[0], token, defaults.currency)
            text = texts.did_you_mean(Money(amount, choices[0]), token)
        elif choices:
            markup = _currency_keyboard(choices)
            text = texts.ask_which_currency(texts.plain_amount(amount), token or "")
        else:
            question["remember"] = defaults.currency is None
            offered = likely_currencies(current().locale, defaults.country)
            markup = _currency_keyboard(offered)
            text = Markup("\n\n").join([texts.ask_currency(texts.plain_amount(amount)), texts.other_currency_hint()])
        await _ask(update, context, Step.CHOOSE_CURRENCY, question, request_key, markup, text, asked=asked)
        return
    try:
        money = settle(_reading_of(question), amount, currency)
    except AmountError as exc:
        await _say(update, context, texts.amount_problem(exc), asked=asked)
        await drafts.discard(chat.id, user.id)
        return
    if question["flow"] == NEWLINK_FLOW:
        await drafts.set_amount(chat.id, user.id, money)
        await _say(update, context, texts.ask_description(), asked=asked, buttons=ASK_AGAIN)
        return
    if asked:
        await drafts.discard(chat.id, user.id)
    await _create(update, context, money, question["description"], request_key=request_key or "")


def _reading_of(question: dict[str, Any]) -> AmountReading:
    """The reading a question was about, back from the draft."""
    return AmountReading(
        amounts=tuple(Decimal(amount) for amount in question["amounts"]),
        currency=question.get("currency"),
        currency_choices=tuple(question.get("currency_choices") or ()),
        currency_token=question.get("token"),
        rest=question.get("description") or "",
        text=question.get("text") or "",
    )


async def _ask(
    update: Update,
    context: PaylinkContext,
    step: Step,
    question: dict[str, Any],
    request_key: str | None,
    markup: InlineKeyboardMarkup,
    text: Markup,
    *,
    asked: bool,
) -> None:
    """Keep the question in the draft, then ask it (in place of the previous question when one was answered)."""
    chat, user = chat_of(update), sender(update)
    drafts = context.services.drafts
    if question["flow"] == NEWLINK_FLOW:
        await drafts.set_question(chat.id, user.id, step, question)
    else:
        await drafts.ask(chat.id, user.id, step, question, request_key=request_key, description=question["description"])
    await _say(update, context, text, asked=asked, buttons=markup)


async def _say(
    update: Update, context: PaylinkContext, text: Markup, *, asked: bool, buttons: sending.Keyboard = None
) -> None:
    """Answer: by editing the question just answered, or as a reply to the person's message."""
    query = update.callback_query
    if asked and query is not None and isinstance(query.message, Message) and not isinstance(buttons, ForceReply):
        await sending.edit_text(context.bot, query.message.chat.id, query.message.message_id, text, buttons=buttons)
        return
    await reply(update, context, text, buttons=buttons)


def _amount_keyboard(amounts: list[str], currency: str | None) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            texts.amount_button(Decimal(amount), currency), callback_data=keyboards.question_data("a", index)
        )
        for index, amount in enumerate(amounts)
    ]
    return InlineKeyboardMarkup([buttons, [keyboards.question_cancel_button()]])


def _currency_keyboard(codes: list[str]) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(code, callback_data=keyboards.question_data("c", code)) for code in codes]
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    return InlineKeyboardMarkup([*rows, [keyboards.question_cancel_button()]])


def _did_you_mean_keyboard(amount: Decimal, code: str, token: str, chat_currency: str | None) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                texts.yes_currency_button(Money(amount, code)), callback_data=keyboards.question_data("c", code)
            )
        ]
    ]
    if chat_currency:
        label = texts.no_word_button(Money(amount, chat_currency), token)
        rows.append([InlineKeyboardButton(label, callback_data=keyboards.question_data("w", chat_currency))])
    rows.append([keyboards.question_cancel_button()])
    return InlineKeyboardMarkup(rows)


async def question_answered(update: Update, context: PaylinkContext) -> None:
    """A button of a question: settle what it asked and go on (make the link, or ask the description)."""
    query = query_of(update)
    chat, user = chat_of(update), sender(update)
    drafts = context.services.drafts
    draft = await drafts.get(chat.id, user.id)
    parts = (query.data or "").split(":")
    if draft is None or draft.question is None or len(parts) < 2:
        await sending.answer(query, texts.question_gone(), alert=True)
        return
    question, kind, value = dict(draft.question), parts[1], parts[2] if len(parts) > 2 else ""
    if kind == "x":
        await drafts.discard(chat.id, user.id)
        await sending.answer(query)
        await _say(update, context, texts.cancelled(), asked=True)
        return
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    if not _apply_answer(question, kind, value):
        await sending.answer(query, texts.question_gone(), alert=True)
        return
    await sending.answer(query)
    if question.pop("remember", False) and question.get("currency") and defaults.currency is None:
        # The chat had no currency and nobody had chosen one: the answer becomes the chat's.
        defaults = await context.services.chat_defaults.set_currency(
            actor(update), chat_ref(update), question["currency"]
        )
    if question.get("currency") and len(question["amounts"]) == 1 and question["flow"] == LINK_FLOW:
        money = Money(Decimal(question["amounts"][0]), question["currency"])
        await _say(update, context, texts.question_answered(_format(money)), asked=True)
    await _go_on(update, context, defaults, question, request_key=draft.request_key, asked=True)


def _apply_answer(question: dict[str, Any], kind: str, value: str) -> bool:
    """Fold a button's answer into the question; False if the button does not belong to it."""
    if kind == "a":
        try:
            chosen = question["amounts"][int(value)]
        except (ValueError, IndexError):
            return False
        question["amounts"] = [chosen]
        return True
    if kind in {"c", "w"} and is_known_currency(value):
        offered = set(question.get("currency_choices") or []) | {question.get("currency")}
        if kind == "w":
            # The "currency" was a word of the description: it goes back in front of the rest.
            question["description"] = " ".join(
                part for part in (question.get("token"), question["description"]) if part
            )
        elif offered - {None} and value not in offered and not question.get("remember"):
            return False
        question["currency"] = value
        question["currency_choices"] = []
        return True
    return False


# --- /newlink ----------------------------------------------------------------------------------


async def new_link(update: Update, context: PaylinkContext) -> None:
    """Start the conversation: ask for the amount."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    chat = chat_of(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    await context.services.drafts.start(chat.id, sender(update).id)
    await reply(update, context, texts.ask_amount(defaults.currency), buttons=ASK_AGAIN)


async def draft_step(update: Update, context: PaylinkContext) -> None:
    """Route a plain message to the step of the sender's /newlink draft, if there is one."""
    chat, user = chat_of(update), sender(update)
    draft = await context.services.drafts.get(chat.id, user.id)
    if draft is None:
        if chat.type == ChatType.PRIVATE:
            await reply(update, context, texts.no_draft())
        return
    if draft.step == Step.AMOUNT:
        await amount_step(update, context)
    elif draft.step == Step.DESCRIPTION:
        await description_step(update, context, draft.money)
    elif draft.step in (Step.CHOOSE_AMOUNT, Step.CHOOSE_CURRENCY):
        await amount_step(update, context)  # typing the amount again answers the question too
    else:
        await reply(update, context, texts.press_create())


async def amount_step(update: Update, context: PaylinkContext) -> None:
    """Read the amount, or explain what is wrong with it and ask again."""
    chat = chat_of(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    try:
        reading = read_amount(message_of(update).text or "", locale=current().locale, chat_currency=defaults.currency)
    except AmountError as exc:
        await reply(update, context, texts.amount_problem(exc), buttons=ASK_AGAIN)
        return
    question = {"flow": NEWLINK_FLOW, "description": None, **_reading_state(reading)}
    await _go_on(update, context, defaults, question, request_key=None, asked=False)


async def description_step(update: Update, context: PaylinkContext, money: Money | None) -> None:
    """Read the description and show the summary with Create / Cancel."""
    chat, user = chat_of(update), sender(update)
    description = (message_of(update).text or "").strip()
    problem = _description_problem(description)
    if problem or money is None:
        await reply(update, context, problem or texts.description_empty(), buttons=ASK_AGAIN)
        return
    # The token is in the draft before the summary leaves: a press can come before the send is answered.
    token = await context.services.drafts.set_description(chat.id, user.id, description)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    summary = texts.confirm(_format(money), description, defaults.expires_seconds)
    await reply(update, context, summary, buttons=keyboards.confirm_keyboard(token))


def _pressed_summary(chat_id: int, query: CallbackQuery, summary: MaybeInaccessibleMessage) -> str:
    """The request key of the link the pressed summary makes: named by the token its button carries.

    Not by the summary's message id: the bot learns that id only when the Bot API answers the send,
    and Telegram lets the seller press Create before then. (A summary sent before buttons carried a
    token is still named by its message id.)
    """
    token = keyboards.summary_token(query.data)
    if token is None:
        return f"cb:{summary.chat.id}:{summary.message_id}"
    return summary_request_key(chat_id, token)


def _is_current(draft: DraftView, chat_id: int, query: CallbackQuery, summary: MaybeInaccessibleMessage) -> bool:
    """Whether the pressed summary is the draft's current one: an older one may show other words or be done."""
    if draft.step != Step.CONFIRM:
        return False
    token = keyboards.summary_token(query.data)
    if token is None:
        # A draft from before tokens knows its summary by message id; a draft with a token accepts only
        # its token, so a token-less press cannot make a second link under another request key.
        return draft.request_key is None and draft.summary_message_id == summary.message_id
    return draft.request_key == summary_request_key(chat_id, token)


async def confirm_create(update: Update, context: PaylinkContext) -> None:
    """Create the link the summary shows; a second tap finds the first link, never an error."""
    query = query_of(update)
    services = context.services
    chat, user = chat_of(update), sender(update)
    summary = query.message
    if summary is None:
        await sending.answer(query, texts.stale_summary(), alert=True)
        return
    # Keyed by the summary's own chat: a summary of a group that became a supergroup names its link as it did.
    request_key = _pressed_summary(summary.chat.id, query, summary)
    # The draft first: a first press that finishes between the two reads has made the link, so the
    # second press hears "already being made" rather than "out of date".
    draft = await services.drafts.get(chat.id, user.id)
    if await services.links.exists(request_key):
        await sending.answer(query, texts.already_requested())
        return
    current = draft is not None and _is_current(draft, summary.chat.id, query, summary)
    if draft is None or not current or draft.money is None or not draft.description:
        await sending.answer(query, texts.stale_summary(), alert=True)
        return
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    await sending.answer(query, texts.creating())
    # Buttons off before the slow part: a second press while PayerMax answers has nothing to press.
    await sending.edit_buttons(context.bot, summary.chat.id, summary.message_id, None)
    made = await _create(update, context, draft.money, draft.description, request_key=request_key)
    await services.drafts.discard(chat.id, user.id)
    outcome = texts.summary_created if made else texts.summary_refused
    await sending.edit_text(
        context.bot, summary.chat.id, summary.message_id, outcome(_format(draft.money), draft.description)
    )


async def abort_create(update: Update, context: PaylinkContext) -> None:
    """Drop the draft behind the summary, and say on the summary that nothing was made."""
    query = query_of(update)
    chat, user = chat_of(update), sender(update)
    draft = await context.services.drafts.get(chat.id, user.id)
    summary = query.message
    if draft is None or summary is None or not _is_current(draft, summary.chat.id, query, summary):
        await sending.answer(query, texts.stale_summary(), alert=True)
        return
    await context.services.drafts.discard(chat.id, user.id)
    await sending.answer(query)
    if draft.money is not None and draft.description:
        text = texts.summary_cancelled(_format(draft.money), draft.description)
    else:
        text = texts.cancelled()
    await sending.edit_text(context.bot, summary.chat.id, summary.message_id, text)


async def cancel(update: Update, context: PaylinkContext) -> None:
    """Leave the /newlink conversation (or a question)."""
    had_draft = await context.services.drafts.discard(chat_of(update).id, sender(update).id)
    await reply(update, context, texts.cancelled() if had_draft else texts.nothing_to_cancel())


async def _create(update: Update, context: PaylinkContext, money: Money, description: str, *, request_key: str) -> bool:
    """Ask the link service for the link (the card follows from the outbox); False if PayerMax refused it."""
    chat, user = chat_of(update), sender(update)
    services = context.services
    defaults = await services.chat_defaults.defaults_for(chat.id)
    customers = await services.readers.customers_of(chat.id)
    order = LinkOrder(
        chat_id=chat.id,
        chat_type=chat.type,
        chat_title=chat.title if chat.type != ChatType.PRIVATE else None,
        user_id=user.id,
        user_name=user.full_name,
        money=money,
        description=description,
        country=link_country(defaults, money.currency),
        language=payermax_language(customers.locale),
        expires_seconds=defaults.expires_seconds,
        request_key=request_key,
    )
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    try:
        result = await services.links.create(order)
    except LinkRefused as exc:
        await reply(update, context, texts.sandboxed(exc.link, texts.refused(exc.code, exc.msg)))
        return False
    except LinkPending as exc:
        await reply(update, context, texts.sandboxed(exc.link, texts.pending(exc.link.merchant_link_id)))
        return True
    if not result.created:
        log.info("repeated request for an existing link", extra={"link": result.link.merchant_link_id, "chat": chat.id})
    return True
