"""The sandbox gateway's payment page: plain HTML (no JavaScript) with Approve and Fail.

It plays the gateway's own site, so it is drawn here and not with the mall's templates, but in
the mall's looks (its stylesheet, whose address the caller passes) and language: Chinese
first, English with ``lang="en"``. Nothing is inline (no style, no script): its
Content-Security-Policy (``POLICY``) lets the page load only this origin's stylesheet, forms
post only to this origin, and no other site may frame it.
"""

from __future__ import annotations

import html

from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.money import format_money

POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "heading": "沙箱支付",
        "intro": "这是演示用的模拟支付页：不会扣任何真实的钱。",
        "order": "订单",
        "reservation": "抢购预订",
        "deposit": "文交所资金充值",
        "amount": "应付金额",
        "status": "支付状态",
        "approve": "确认支付",
        "fail": "模拟支付失败",
        "failed_before": "上一次支付失败了，可以再试一次。",
        "paid": "支付成功，可以关闭本页。",
        "closed": "这笔支付已关闭。",
        "back": "返回商城",
        "notified": "已通知商城（{event}）。",
        "not_taken": "商城未接受通知（HTTP {code}：{detail}）。",
        "switch": "English",
        "Pay": "支付",
        "Closed": "已关闭",
        "Not found": "未找到",
        "Bad request": "请求有误",
        "no_page": "没有这个页面。",
        "no_payment": "没有这笔支付。",
        "choose": "请选择确认支付或模拟支付失败。",
    },
    "en": {
        "heading": "Sandbox payment",
        "intro": "A simulated payment page for the demo: no real money moves.",
        "order": "Order",
        "reservation": "Drop reservation",
        "deposit": "Market cash deposit",
        "amount": "Amount due",
        "status": "Payment status",
        "approve": "Approve",
        "fail": "Fail",
        "failed_before": "The last attempt failed. You may try again.",
        "paid": "Paid. You may close this page.",
        "closed": "This payment is closed.",
        "back": "Back to the shop",
        "notified": "The shop was notified ({event}).",
        "not_taken": "The shop did not take the notification (HTTP {code}: {detail}).",
        "switch": "中文",
        "Pay": "Pay",
        "Closed": "Closed",
        "Not found": "Not found",
        "Bad request": "Bad request",
        "no_page": "No such page.",
        "no_payment": "No such payment.",
        "choose": "Choose Approve or Fail.",
    },
}
STATUS: dict[str, dict[str, str]] = {
    "zh": {
        PaymentStatus.PENDING: "待支付",
        PaymentStatus.FAILED: "支付失败",
        PaymentStatus.SUCCEEDED: "已支付",
        PaymentStatus.REFUNDED: "已退款",
        PaymentStatus.CLOSED: "已关闭",
    },
    "en": {s.value: s.value for s in PaymentStatus},
}


def text(lang: str, key: str) -> str:
    return TEXT[lang if lang in TEXT else "zh"][key]


def _status(lang: str, status: str) -> str:
    shown = STATUS[lang if lang in STATUS else "zh"].get(status, status)
    return f'<strong class="tag {html.escape(status)}">{html.escape(shown)}</strong>'


def page(title: str, inner: str, *, lang: str = "zh", stylesheet: str, path: str = "") -> str:
    """The whole page around ``inner`` (HTML already escaped); ``title`` is a key of
    ``TEXT``; ``path`` is this page's own path, for the language switch."""
    other = "en" if lang == "zh" else "zh"
    switch = (
        f'<a href="{html.escape(path)}?lang={other}" lang="{"en" if other == "en" else "zh-CN"}">'
        f"{html.escape(text(lang, 'switch'))}</a>"
        if path
        else ""
    )
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(text(lang, title))} · {html.escape(text(lang, 'heading'))}</title>"
        f'<link rel="stylesheet" href="{html.escape(stylesheet)}"></head>'
        '<body class="mall sandbox"><header class="mall-bar">'
        f'<span class="brand">{html.escape(text(lang, "heading"))}</span>'
        f'<span class="lang">{switch}</span></header>'
        f'<main class="mall-main"><p class="note">{html.escape(text(lang, "intro"))}</p>'
        f"{inner}</main></body></html>"
    )


def message_page(lang: str, key: str) -> str:
    """A page's body that only says ``TEXT[key]``."""
    return f"<p>{html.escape(text(lang, key))}</p>"


def _buttons(ref: str, lang: str) -> str:
    target = f"/sandbox/pay/{html.escape(ref)}" + ("?lang=en" if lang == "en" else "")
    parts = []
    for outcome, css in (("approve", "button wide"), ("fail", "button secondary wide")):
        parts.append(
            f'<form method="post" action="{target}">'
            f'<input type="hidden" name="outcome" value="{outcome}">'
            f'<button type="submit" class="{css}" data-outcome="{outcome}">'
            f"{html.escape(text(lang, outcome))}</button></form>"
        )
    return '<div class="stack">' + "".join(parts) + "</div>"


def _draw(
    lang: str,
    kind: str,
    ident: str,
    amount_fen: int,
    status: str,
    payable: bool,
    ref: str,
    message: str,
    back: str,
) -> str:
    parts = [
        '<section class="box">',
        f'<h1>{html.escape(text(lang, kind))}</h1><p class="note mono">{html.escape(ident)}</p>',
        f'<dl class="facts"><dt>{html.escape(text(lang, "amount"))}</dt>'
        f'<dd class="price">¥{format_money(amount_fen)}</dd>'
        f"<dt>{html.escape(text(lang, 'status'))}</dt>"
        f'<dd id="status">{_status(lang, status)}</dd></dl>',
    ]
    if message:
        parts.append(f"<p>{message}</p>")
    if payable:
        if status == PaymentStatus.FAILED:
            parts.append(f'<p class="error">{html.escape(text(lang, "failed_before"))}</p>')
        parts.append(_buttons(ref, lang))
    elif status == PaymentStatus.SUCCEEDED:
        parts.append(f'<p class="flash">{html.escape(text(lang, "paid"))}</p>')
    else:
        parts.append(f"<p>{html.escape(text(lang, 'closed'))}</p>")
    suffix = "?lang=en" if lang == "en" else ""
    parts.append(
        f'<p><a id="back" href="{html.escape(back)}{suffix}" class="button secondary">'
        f"{html.escape(text(lang, 'back'))}</a></p></section>"
    )
    return "".join(parts)


def describe(payment: Payment, payable: bool, ref: str, message: str = "", lang: str = "zh") -> str:
    """The payment, its order and, while it can be paid, the Approve and Fail buttons;
    ``message`` (HTML) says what the last press did."""
    back = f"/{payment.tenant_id}/orders/{payment.order_id}"
    return _draw(
        lang,
        "order",
        payment.order_id,
        payment.amount_fen,
        payment.status,
        payable,
        ref,
        message,
        back,
    )


def describe_reservation(
    tenant_id: str,
    reservation_id: str,
    amount_fen: int,
    status: str,
    payable: bool,
    ref: str,
    message: str = "",
    lang: str = "zh",
) -> str:
    """A drop reservation's payment, as ``describe`` draws an order's."""
    back = f"/{tenant_id}/nfg/reservations/{reservation_id}"
    return _draw(
        lang, "reservation", reservation_id, amount_fen, status, payable, ref, message, back
    )


def describe_deposit(
    tenant_id: str,
    deposit_id: str,
    amount_fen: int,
    paid: bool,
    ref: str,
    message: str = "",
    lang: str = "zh",
) -> str:
    """A deposit of market cash, as ``describe`` draws an order's."""
    status = PaymentStatus.SUCCEEDED if paid else PaymentStatus.PENDING
    back = f"/{tenant_id}/market"
    return _draw(lang, "deposit", deposit_id, amount_fen, status, not paid, ref, message, back)


def notified(event: str, lang: str = "zh") -> str:
    """The message after the shop took the event."""
    said = text(lang, "notified").format(event=event)
    return f'<span class="flash">{html.escape(said)}</span>'


def not_taken(code: int, detail: str, lang: str = "zh") -> str:
    """The message after the shop refused the event (or could not be reached)."""
    said = text(lang, "not_taken").format(code=code, detail=detail)
    return f'<span class="error">{html.escape(said)}</span>'
