"""The customer's side of the sandbox: the checkout page, and paying or declining a link.

Plain HTML without JavaScript; every value is escaped. Paying creates a SUCCESS attempt and
queues the PAYBYLINK notification; declining creates a CLOSED attempt and notifies nobody,
because PayerMax only notifies successful link payments (contract §5.1).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.money import Money, format_money
from bot.sandbox.errors import CheckoutRefused
from bot.sandbox.notifier import Notifier, new_delivery
from bot.sandbox.payloads import SandboxUrls, format_seconds, paybylink_notification
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

_REFUSALS = {
    LinkState.PAID: "This link has already been paid. A ONETIME link takes a single payment.",
    LinkState.EXPIRED: "This link has expired and can no longer be paid.",
    LinkState.CANCELLED: "This link was cancelled by the merchant and can no longer be paid.",
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
        """Record a declined attempt; the link stays payable and nobody is notified."""
        link = self._payable_link(link_id, method)
        attempt = PaymentAttempt(
            out_trade_no=new_out_trade_no(),
            trade_token=new_trade_token(),
            status=AttemptStatus.CLOSED,
            method=method,
            created_at=self._clock(),
        )
        self._store.add_attempt(link, attempt)
        return attempt

    def _payable_link(self, link_id: str, method: str) -> PaymentLink:
        """The link if it can take a payment by this method, else CheckoutRefused."""
        link = self._store.link_by_id(link_id)
        if link is None:
            raise CheckoutRefused("There is no payment link with this id.")
        refusal = _REFUSALS.get(link.state(self._clock()))
        if refusal is not None:
            raise CheckoutRefused(refusal)
        if method not in PaymentMethod.ALL:
            choices = ", ".join(PaymentMethod.ALL)
            raise CheckoutRefused(f"Unknown payment method {method!r}; choose one of {choices}.")
        return link

    async def show_page(self, request: Request) -> HTMLResponse:
        """GET /pay/{link_id}: the link's amount, description and expiry, with Pay/Decline buttons."""
        link = self._store.link_by_id(request.path_params["link_id"])
        if link is None:
            return _page("Link not found", "<p>There is no payment link with this id.</p>", status_code=404)
        state = link.state(self._clock())
        if state == LinkState.ACTIVE:
            action = _PAYMENT_FORM
        else:
            action = f'<p class="state">{_e(state)}: {_e(_REFUSALS[state])}</p>'
        return _page("Checkout", _link_summary(link) + action)

    async def submit(self, request: Request) -> HTMLResponse:
        """POST /pay/{link_id}: pay or decline, then show the result."""
        link_id = request.path_params["link_id"]
        form = await request.form()
        action = str(form.get("action", ""))
        method = str(form.get("method", PaymentMethod.CARD))
        if self._store.link_by_id(link_id) is None:
            return _page("Link not found", "<p>There is no payment link with this id.</p>", status_code=404)
        if action not in ("pay", "decline"):
            return _page("Bad request", "<p>Choose Pay or Decline.</p>", status_code=400)
        try:
            attempt = self.pay(link_id, method) if action == "pay" else self.decline(link_id, method)
        except CheckoutRefused as refused:
            return _page("Payment refused", f'<p class="state">{_e(str(refused))}</p>', status_code=409)
        if attempt.status == AttemptStatus.SUCCESS:
            title, message = "Payment successful", "The payment was accepted. The merchant is being notified."
        else:
            title = "Payment declined"
            message = "The payment was declined. No money moved; the link can still be paid."
        return _page(title, f"<p>{_e(message)}</p><p>Reference: <code>{_e(attempt.out_trade_no)}</code></p>")


def _e(text: str) -> str:
    """HTML-escape text, quotes included."""
    return html.escape(text, quote=True)


def _link_summary(link: PaymentLink) -> str:
    """The amount, description, expiry and merchant contact of a link, as HTML."""
    contact = (link.request.get("merchantInfo") or {}).get("contactEmail")
    amount = format_money(Money(Decimal(link.total_amount), link.currency))
    rows = [
        ("Amount", amount),
        ("Description", link.description),
        ("Expires", format_seconds(link.expires_at).replace("T", " ").replace("Z", " UTC")),
    ]
    if contact:
        rows.append(("Merchant contact", contact))
    cells = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows)
    return f'<p class="amount">{_e(amount)}</p><table>{cells}</table>'


# No action attribute: the form posts back to the page's own URL, wherever the sandbox is mounted.
_PAYMENT_FORM = (
    '<form method="post">'
    '<label>Method <select name="method">'
    + "".join(f'<option value="{_e(m)}">{_e(m)}</option>' for m in PaymentMethod.ALL)
    + "</select></label> "
    '<button type="submit" name="action" value="pay">Pay (SANDBOX)</button> '
    '<button type="submit" name="action" value="decline">Decline</button>'
    "</form>"
    + '<p class="note">Refunds: '
    + "; ".join(
        f"a {_e(m)} payment can be refunded {'only in full' if m in FULL_REFUND_ONLY_METHODS else 'in parts'}"
        for m in PaymentMethod.ALL
    )
    + ".</p>"
)

_STYLE = (
    "body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    ".banner{background:#b00020;color:#fff;padding:.6rem;font-weight:bold;text-align:center}"
    ".amount{font-size:2rem;margin:1rem 0}th{text-align:left;padding-right:1rem}"
    ".state{font-weight:bold}button{font-size:1rem;margin:.5rem .3rem 0 0}.note{color:#555;font-size:.9rem}"
)


def _page(title: str, body_html: str, *, status_code: int = 200) -> HTMLResponse:
    """A complete HTML page with the SANDBOX banner; ``body_html`` must already be escaped."""
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>SANDBOX {_e(title)}</title><style>{_STYLE}</style></head><body>"
        '<div class="banner">SANDBOX — test payments only, no real money moves</div>'
        f"<h1>{_e(title)}</h1>{body_html}</body></html>"
    )
    return HTMLResponse(document, status_code=status_code)
