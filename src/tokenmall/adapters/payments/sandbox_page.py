"""The sandbox gateway's payment page: plain HTML (no JavaScript) with Approve and Fail.

It plays the gateway's own site, so it is drawn here and not with the mall's templates. Its
one inline stylesheet is allowed by hash in its Content-Security-Policy (``POLICY``); nothing
else loads, forms post only to this origin, and no other site may frame it.
"""

from __future__ import annotations

import base64
import hashlib
import html

from tokenmall.domain.mall.orders import Order
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.money import format_money

STYLE = (
    "body{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em}"
    "button{font-size:1.1em;margin:.3em;padding:.4em 1.2em}"
    ".ok{color:#17692b}.bad{color:#a11}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, inner: str) -> str:
    """The whole page around ``inner`` (HTML already escaped)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>Sandbox payment</h1>{inner}</body></html>"
    )


def describe(payment: Payment, order: Order, payable: bool, ref: str, message: str = "") -> str:
    """The payment, its order and, while it can be paid, the Approve and Fail buttons;
    ``message`` (HTML) says what the last press did."""
    safe = html.escape(ref)
    parts = [
        f"<p>Order <code>{html.escape(order.order_id)}</code>: "
        f"<strong>{format_money(payment.amount_fen)}</strong></p>",
        f'<p id="status">Payment status: <strong>{html.escape(payment.status)}</strong></p>',
    ]
    if message:
        parts.append(f"<p>{message}</p>")
    if payable:
        if payment.status == PaymentStatus.FAILED:
            parts.append('<p class="bad">The last attempt failed. You may try again.</p>')
        for outcome, label in (("approve", "Approve"), ("fail", "Fail")):
            parts.append(
                f'<form method="post" action="/sandbox/pay/{safe}">'
                f'<input type="hidden" name="outcome" value="{outcome}">'
                f'<button type="submit">{label}</button></form>'
            )
    elif payment.status == PaymentStatus.SUCCEEDED:
        parts.append('<p class="ok">Paid. You may close this page.</p>')
    else:
        parts.append("<p>This payment is closed.</p>")
    back = f"/{html.escape(order.tenant_id)}/orders/{html.escape(order.order_id)}"
    parts.append(f'<p><a id="back" href="{back}">Back to the shop</a></p>')
    return "".join(parts)


def describe_reservation(
    tenant_id: str,
    reservation_id: str,
    amount_fen: int,
    status: str,
    payable: bool,
    ref: str,
    message: str = "",
) -> str:
    """A drop reservation's payment, as ``describe`` draws an order's."""
    safe = html.escape(ref)
    parts = [
        f"<p>Reservation <code>{html.escape(reservation_id)}</code>: "
        f"<strong>{format_money(amount_fen)}</strong></p>",
        f'<p id="status">Payment status: <strong>{html.escape(status)}</strong></p>',
    ]
    if message:
        parts.append(f"<p>{message}</p>")
    if payable:
        for outcome, label in (("approve", "Approve"), ("fail", "Fail")):
            parts.append(
                f'<form method="post" action="/sandbox/pay/{safe}">'
                f'<input type="hidden" name="outcome" value="{outcome}">'
                f'<button type="submit">{label}</button></form>'
            )
    elif status == PaymentStatus.SUCCEEDED:
        parts.append('<p class="ok">Paid. You may close this page.</p>')
    else:
        parts.append("<p>This payment is closed.</p>")
    back = f"/{html.escape(tenant_id)}/nfg/reservations/{html.escape(reservation_id)}"
    parts.append(f'<p><a id="back" href="{back}">Back to the shop</a></p>')
    return "".join(parts)


def notified(event: str) -> str:
    """The message after the shop took the event."""
    return f'<span class="ok">The shop was notified ({html.escape(event)}).</span>'


def not_taken(code: int, detail: str) -> str:
    """The message after the shop refused the event (or could not be reached)."""
    return (
        f'<span class="bad">The shop did not take the notification (HTTP {code}: '
        f"{html.escape(detail)}).</span>"
    )


def describe_deposit(
    tenant_id: str, deposit_id: str, amount_fen: int, paid: bool, ref: str, message: str = ""
) -> str:
    """A deposit of market cash, as ``describe`` draws an order's."""
    safe = html.escape(ref)
    status = "succeeded" if paid else "pending"
    parts = [
        f"<p>Market cash deposit <code>{html.escape(deposit_id)}</code>: "
        f"<strong>{format_money(amount_fen)}</strong></p>",
        f'<p id="status">Payment status: <strong>{status}</strong></p>',
    ]
    if message:
        parts.append(f"<p>{message}</p>")
    if not paid:
        for outcome, label in (("approve", "Approve"), ("fail", "Fail")):
            parts.append(
                f'<form method="post" action="/sandbox/pay/{safe}">'
                f'<input type="hidden" name="outcome" value="{outcome}">'
                f'<button type="submit">{label}</button></form>'
            )
    else:
        parts.append('<p class="ok">Paid. You may close this page.</p>')
    parts.append(
        f'<p><a id="back" href="/{html.escape(tenant_id)}/market">Back to the shop</a></p>'
    )
    return "\n".join(parts)
