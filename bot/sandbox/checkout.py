"""The customer's side of the sandbox: the checkout page, and paying or declining a link.

Plain HTML without JavaScript; every value is escaped. Paying creates a SUCCESS attempt and
queues the PAYBYLINK notification; declining creates a FAILED attempt and queues a PAYMENT
notification with that status (contract §5.2: PayerMax's link notification reports only successes;
the general payment notification, sent here to the link's notifyUrl, reports failures too). The page
speaks the language the link was made with (createPaybylink's ``language``, PayerMax's codes), as
PayerMax's own page does, and writes the amount and the expiry that language's way, in the main
time zone of the link's country.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.i18n.clock import when
from bot.i18n.locales import FALLBACK, from_payermax, is_right_to_left
from bot.i18n.reader import N_, Reader, current, gettext, reading_as
from bot.i18n.regions import zones_of
from bot.money import Money, format_money
from bot.sandbox.errors import CheckoutRefused
from bot.sandbox.notifier import Notifier, new_delivery
from bot.sandbox.payloads import SandboxUrls, paybylink_notification, payment_notification
from bot.sandbox.store import (
    AttemptStatus,
    LinkState,
    PaymentAttempt,
    PaymentLink,
    SandboxStore,
    new_out_trade_no,
    new_trade_token,
)


class PaymentMethod:
    """The methods the sandbox checkout offers."""

    CARD = "CARD"
    WALLET = "WALLET"
    ALL = (CARD, WALLET)


# PayerMax: "some payment methods support only full refunds" (contract §11.1). In the sandbox,
# wallet payments are the ones: a refund of a WALLET payment must be for the whole amount.
FULL_REFUND_ONLY_METHODS = frozenset({PaymentMethod.WALLET})


# A well-known test card number, masked the way PayerMax masks cards.
SANDBOX_CARD_ORG = "VISA"
SANDBOX_CARD_NUMBER = "411111******1111"

# Why a link cannot be paid, in English for the API's callers (the page words them per language).
_REFUSALS = {
    LinkState.PAID: "This link has already been paid. A ONETIME link takes a single payment.",
    LinkState.EXPIRED: "This link has expired and can no longer be paid.",
    LinkState.CANCELLED: "This link was cancelled by the merchant and can no longer be paid.",
}
NOT_FOUND, UNKNOWN_METHOD = "not_found", "unknown_method"

# What the customer reads, per reason.
_SAYS = {
    LinkState.PAID: N_("This link has already been paid. It takes a single payment."),
    LinkState.EXPIRED: N_("This link has expired and can no longer be paid. Ask the shop for a new one."),
    LinkState.CANCELLED: N_("The shop cancelled this link, so it can no longer be paid."),
    NOT_FOUND: N_("There is no payment link with this address. Check the link the shop sent you."),
    UNKNOWN_METHOD: N_("Choose one of the payment methods offered."),
}


class CheckoutDesk:
    """Takes (pretend) payments for links and serves the checkout pages."""

    def __init__(
        self,
        *,
        store: SandboxStore,
        notifier: Notifier,
        urls: SandboxUrls,
        app_id: str,
        merchant_no: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._urls = urls
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._clock = clock

    def routes(self) -> list[Route]:
        """The checkout page routes, relative to the sandbox mount."""
        return [
            Route("/pay/{link_id}", self.show_page, methods=["GET"]),
            Route("/pay/{link_id}", self.submit, methods=["POST"]),
        ]

    def pay(self, link_id: str, method: str = PaymentMethod.CARD) -> PaymentAttempt:
        """Record a successful payment of the link and queue its notification."""
        link = self._payable_link(link_id, method)
        now = self._clock()
        card = method == PaymentMethod.CARD
        attempt = PaymentAttempt(
            out_trade_no=new_out_trade_no(),
            trade_token=new_trade_token(),
            status=AttemptStatus.SUCCESS,
            method=method,
            created_at=now,
            complete_at=now,
            card_org=SANDBOX_CARD_ORG if card else None,
            card_number=SANDBOX_CARD_NUMBER if card else None,
        )
        self._store.add_attempt(link, attempt)
        body = paybylink_notification(
            link, attempt, self._urls, app_id=self._app_id, merchant_no=self._merchant_no, now=now
        )
        self._notifier.submit(
            new_delivery(delivery_id=attempt.out_trade_no, link_id=link.link_id, notify_url=link.notify_url, body=body)
        )
        return attempt

    def decline(self, link_id: str, method: str = PaymentMethod.CARD) -> PaymentAttempt:
        """Record a declined attempt and queue its PAYMENT notification; the link stays payable."""
        link = self._payable_link(link_id, method)
        now = self._clock()
        attempt = PaymentAttempt(
            out_trade_no=new_out_trade_no(),
            trade_token=new_trade_token(),
            status=AttemptStatus.FAILED,
            method=method,
            created_at=now,
            complete_at=now,
        )
        self._store.add_attempt(link, attempt)
        body = payment_notification(link, attempt, app_id=self._app_id, merchant_no=self._merchant_no, now=now)
        self._notifier.submit(
            new_delivery(delivery_id=attempt.out_trade_no, link_id=link.link_id, notify_url=link.notify_url, body=body)
        )
        return attempt

    def _payable_link(self, link_id: str, method: str) -> PaymentLink:
        """The link if it can take a payment by this method, else CheckoutRefused."""
        link = self._store.link_by_id(link_id)
        if link is None:
            raise CheckoutRefused("There is no payment link with this id.", NOT_FOUND)
        state = link.state(self._clock())
        refusal = _REFUSALS.get(state)
        if refusal is not None:
            raise CheckoutRefused(refusal, state)
        if method not in PaymentMethod.ALL:
            choices = ", ".join(PaymentMethod.ALL)
            raise CheckoutRefused(f"Unknown payment method {method!r}; choose one of {choices}.", UNKNOWN_METHOD)
        return link

    async def show_page(self, request: Request) -> HTMLResponse:
        """GET /pay/{link_id}: the amount first, what it is for and until when, then large Pay and Decline buttons."""
        link = self._store.link_by_id(request.path_params["link_id"])
        if link is None:
            return _not_found()
        with reading_as(_customer(link)):
            state = link.state(self._clock())
            amount = _amount(link)
            if state == LinkState.ACTIVE:
                action = _payment_form(amount)
            else:
                action = f'<p class="state">{_e(gettext(_SAYS[state]))}</p>'
            return _page(gettext("Payment"), _link_summary(link, amount) + action, heading=False)

    async def submit(self, request: Request) -> HTMLResponse:
        """POST /pay/{link_id}: pay or decline, then show the result."""
        link_id = request.path_params["link_id"]
        form = await request.form()
        action = str(form.get("action", ""))
        method = str(form.get("method", PaymentMethod.CARD))
        link = self._store.link_by_id(link_id)
        if link is None:
            return _not_found()
        with reading_as(_customer(link)):
            if action not in ("pay", "decline"):
                choose = gettext("Choose Pay or Decline.")
                return _page(gettext("Payment"), f"<p>{_e(choose)}</p>", status_code=400)
            try:
                attempt = self.pay(link_id, method) if action == "pay" else self.decline(link_id, method)
            except CheckoutRefused as refused:
                says = gettext(_SAYS.get(refused.reason, _SAYS[UNKNOWN_METHOD]))
                return _page(gettext("Payment refused"), f'<p class="state">{_e(says)}</p>', status_code=409)
            if attempt.status == AttemptStatus.SUCCESS:
                title = gettext("Payment successful")
                message = gettext("Thank you! Your payment was accepted and the shop has been told.")
            else:
                title = gettext("Payment declined")
                message = gettext("The payment was declined. No money moved; you can still pay this link.")
            reference = gettext("Reference: {reference}").format(reference=f"<code>{_e(attempt.out_trade_no)}</code>")
            return _page(title, f"<p>{_e(message)}</p><p>{reference}</p>")


def _e(text: str) -> str:
    """HTML-escape text, quotes included."""
    return html.escape(text, quote=True)


def _customer(link: PaymentLink) -> Reader:
    """The page's reader: the language the link was made with (PayerMax's codes), in its country's main zone."""
    language = from_payermax(str(link.request.get("language") or "")) or FALLBACK
    zones = zones_of(str(link.request.get("country") or ""))
    return Reader(locale=language, timezone=zones[0] if zones else "UTC")


def _not_found() -> HTMLResponse:
    """An unknown link: there is no language to follow, so English."""
    return _page(gettext("Link not found"), f"<p>{_e(gettext(_SAYS[NOT_FOUND]))}</p>", status_code=404)


def _amount(link: PaymentLink) -> str:
    """The link's amount as the customer's language writes it."""
    return format_money(Money(Decimal(link.total_amount), link.currency), current().locale)


def _link_summary(link: PaymentLink, amount: str) -> str:
    """The amount as the page's heading, then what it is for, until when, and the shop's contact, as HTML."""
    contact = (link.request.get("merchantInfo") or {}).get("contactEmail")
    rows = [(gettext("Pay before"), when(link.expires_at))]
    if contact:
        rows.append((gettext("Shop contact"), contact))
    facts = "".join(f"<div><dt>{_e(name)}</dt><dd>{_e(value)}</dd></div>" for name, value in rows)
    purpose = gettext("For")  # outside the f-string, where pybabel finds it
    return (
        f'<h1 class="amount">{_e(amount)}</h1>'
        f'<p class="for"><span class="label">{_e(purpose)}</span> {_e(link.description)}</p>'
        f"<dl>{facts}</dl>"
    )


def _payment_form(amount: str) -> str:
    """How to pay (one large choice per method) and Pay/Decline; no action attribute: it posts to the page's own URL."""
    methods = {PaymentMethod.CARD: gettext("Card"), PaymentMethod.WALLET: gettext("E-wallet")}
    choices = "".join(
        f'<label class="method"><input type="radio" name="method" value="{_e(method)}"'
        f"{' checked' if method == PaymentMethod.CARD else ''}> {_e(methods[method])}</label>"
        for method in PaymentMethod.ALL
    )
    pay = gettext("Pay {amount}").format(amount=amount)
    decline = gettext("Decline")
    # What the two buttons do on a test page, for whoever plays the customer.
    explained = gettext("A test page: nothing is charged. Decline shows what happens when a bank says no.")
    # As FULL_REFUND_ONLY_METHODS has it: wallets are refunded only in full.
    pay_with = gettext("Pay with")
    refunds = gettext("Test refunds: a card payment can be refunded in parts, an e-wallet payment only in full.")
    return (
        '<form method="post">'
        f"<fieldset><legend>{_e(pay_with)}</legend>{choices}</fieldset>"
        f'<button class="pay" type="submit" name="action" value="pay">{_e(pay)}</button>'
        f'<button class="decline" type="submit" name="action" value="decline">{_e(decline)}</button>'
        "</form>"
        f'<p class="note">{_e(explained)}</p><p class="note">{_e(refunds)}</p>'
    )


# Sized for a phone first: the amount leads, every control is a full-width target at least 48 px
# high (the 44 px guideline, with room), nothing is wider than the screen; on a computer the page
# stays a narrow column.
_STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;font-size:1.05rem;line-height:1.4;max-width:30rem;margin:0 auto;"
    "padding:0 1rem 2rem;color:#111;overflow-wrap:anywhere}"
    ".banner{background:#b00020;color:#fff;padding:.5rem .75rem;font-weight:bold;text-align:center;"
    "margin:0 -1rem;font-size:.95rem}"
    "h1{font-size:1.6rem;margin:1.25rem 0 .75rem}"
    "h1.amount{font-size:2.4rem;margin:1.25rem 0 .25rem}"
    ".for{font-size:1.2rem;margin:0 0 .75rem}.label{color:#555}"
    "dl{margin:0 0 1rem}dl div{display:flex;gap:.5rem;flex-wrap:wrap}dt{color:#555}dd{margin:0}"
    "fieldset{border:0;padding:0;margin:0 0 1rem;display:flex;gap:.5rem}"
    "legend{color:#555;margin-bottom:.4rem;padding:0}"
    ".method{flex:1;display:flex;align-items:center;gap:.5rem;min-height:3rem;padding:0 .9rem;"
    "border:1px solid #999;border-radius:.6rem}"
    ".method input{width:1.25rem;height:1.25rem;margin:0}"
    "button{display:block;width:100%;min-height:3.25rem;font-size:1.15rem;font-weight:bold;border-radius:.6rem;"
    "margin:0 0 .75rem;cursor:pointer}"
    ".pay{background:#1a7f37;border:0;color:#fff}.decline{background:#fff;border:2px solid #555;color:#111}"
    ".state{font-weight:bold}.note{color:#555;font-size:.9rem;margin:.5rem 0}"
)


def _page(title: str, body_html: str, *, status_code: int = 200, heading: bool = True) -> HTMLResponse:
    """A complete HTML page in the reader's language and direction, with the SANDBOX banner (body already escaped)."""
    language = current().locale
    direction = "rtl" if is_right_to_left(language) else "ltr"
    banner = gettext("SANDBOX: a test payment, no real money moves")
    document = (
        f'<!DOCTYPE html><html lang="{_e(language.replace("_", "-"))}" dir="{direction}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>SANDBOX · {_e(title)}</title><style>{_STYLE}</style></head><body>"
        f'<div class="banner">{_e(banner)}</div>'
        f"{f'<h1>{_e(title)}</h1>' if heading else ''}{body_html}</body></html>"
    )
    return HTMLResponse(document, status_code=status_code)
