"""The consumer's shopping pages (H5, mobile-first): cart, checkout, orders and their status.

Every page reads and writes through the same use cases as the API (``services/mall/cart.py``,
``orders.py``, ``payments.py``); money goes through the configured gateway (the sandbox by
default: checkout ends on its payment page, which links back to the order). Forms are plain
POSTs answered by 303 (``forms.submit``: CSRF, a form key replayed through the idempotency
store, one transaction); a refused form re-renders with the message next to its field and
nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.orders import OrderStatus
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.mall.transitions import ORDER
from tokenmall.services.mall import addresses, order_refunds, orders, payments
from tokenmall.services.mall import cart as carts
from tokenmall.services.mall import checkout as checkouts
from tokenmall.services.mall import wallet as wallets
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.api.schemas_wallet import WalletOut
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, pay_channels, rendering, sessions, wechat_jsapi
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.mall import product_context, same_site_path, tenant_or_404
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ORDER_PAGE = 20
ORDER_STATUSES = tuple(OrderStatus)
REFUNDABLE = ORDER.sources("refund")


# --- shared by the consumer's pages (account.py too) ------------------------------------------


def consumer_page(request: Request, tenant_id: str) -> tuple[Tenant, Principal]:
    """The tenant (404 if none) and its logged-in member (else a redirect to log in)."""
    tenant = tenant_or_404(request, tenant_id)
    return tenant, sessions.need_member(request, tenant_id)


def whole_number(form: FormData, name: str) -> int:
    """A form's whole number (ASCII digits only), else a 422 naming the field."""
    text = forms.text_field(form, name).strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput("Enter a whole number.", name)
    return int(text)


def post_form(
    request: Request,
    form: FormData,
    *,
    tenant_id: str,
    caller: Principal,
    action: Callable[[Connection], str],
    refused: Callable[[FormState, int], Response],
    checks: Callable[[], None] | None = None,
    default_field: str = "_form",
) -> Response:
    """CSRF, the form's own checks, then ``action`` once per form key; a refusal re-renders
    the page through ``refused`` with the message next to the field at fault."""
    try:
        csrf.check_csrf(request, caller, form)
        if checks is not None:
            checks()
        location = forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=action)
    except DomainError as exc:
        state = FormState.of(form)
        name = getattr(exc, "field", None) or default_field
        state.errors[str(name)] = str(exc)
        return refused(state, status_of(exc))
    return rendering.redirect(location)


def page(
    request: Request,
    template: str,
    tenant: Tenant,
    caller: Principal,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        template,
        {"tenant": tenant, **context},
        status_code=status_code,
        caller=caller,
    )


# --- cart ---------------------------------------------------------------------------------------


def _cart_context(request: Request, tenant_id: str, caller: Principal) -> dict[str, Any]:
    with sessions.database(request).reading() as uow:
        cart = carts.get_cart(uow, caller, tenant_id)
    return {"cart": cart}


def _cart_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    context = _cart_context(request, tenant.tenant_id, caller)
    if form is not None:
        context["form"] = form
    return page(request, "shop/cart.html", tenant, caller, context, code)


@router.get("/{tenant_id}/cart")
def cart_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    require(caller, tenant_id, carts.BUYERS)
    return _cart_page(request, tenant, caller)


@router.post("/{tenant_id}/cart/add")
async def cart_add(request: Request, tenant_id: str) -> Response:
    """From a product page: put a quantity of one of its options in the cart."""
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    sku_id = forms.text_field(form, "sku_id")

    def refused(state: FormState, code: int) -> Response:
        return _product_again(request, tenant, caller, state, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: answer(
            f"/{tenant_id}/cart?added=1",
            carts.add_line(
                MallUnitOfWork.joining(conn),
                caller,
                tenant_id,
                sku_id,
                whole_number(form, "quantity"),
                utc_now(),
            ),
        ),
        refused=refused,
    )


def answer(location: str, *_: object) -> str:
    """``location``, once the calls given (evaluated before) have run: an action's answer."""
    return location


def _product_again(
    request: Request, tenant: Tenant, caller: Principal, state: FormState, code: int
) -> Response:
    """The product page again with the add-to-cart message (the product named by the form)."""
    try:
        context = product_context(request, tenant.tenant_id, caller, state.get("product_id"))
    except DomainError:
        return _cart_page(request, tenant, caller, state, code)
    state.values["row"] = state.get("sku_id")
    return page(request, "mall/product.html", tenant, caller, {**context, "form": state}, code)


CartChange = Callable[[MallUnitOfWork, Principal, str, FormData], object]


async def _cart_line_post(request: Request, tenant_id: str, change: CartChange) -> Response:
    """A change to one line of the cart (``change(uow, caller, sku_id, form)``), then the
    cart; a refusal shows the cart with the message on that line."""
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    sku_id = forms.text_field(form, "sku_id")

    def refused(state: FormState, code: int) -> Response:
        state.values["row"] = sku_id
        return _cart_page(request, tenant, caller, state, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: answer(
            f"/{tenant_id}/cart", change(MallUnitOfWork.joining(conn), caller, sku_id, form)
        ),
        refused=refused,
    )


@router.post("/{tenant_id}/cart/set")
async def cart_set(request: Request, tenant_id: str) -> Response:
    return await _cart_line_post(
        request,
        tenant_id,
        lambda uow, caller, sku_id, form: carts.set_line(
            uow, caller, tenant_id, sku_id, whole_number(form, "quantity"), utc_now()
        ),
    )


@router.post("/{tenant_id}/cart/remove")
async def cart_remove(request: Request, tenant_id: str) -> Response:
    return await _cart_line_post(
        request,
        tenant_id,
        lambda uow, caller, sku_id, _form: carts.remove_line(uow, caller, tenant_id, sku_id),
    )


# --- checkout -----------------------------------------------------------------------------------


def _buy_now(values: Mapping[str, Any]) -> tuple[str, int] | None:
    """立即购买: the one SKU and quantity a product page sent straight to checkout (None: the
    cart's lines); a quantity that is not a whole number from 1 is a 422 naming it."""
    sku_id = str(values.get("sku_id") or "")[:40]
    if not sku_id:
        return None
    text = str(values.get("quantity") or "1").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput("Enter a whole number.", "quantity")
    return sku_id, carts.line_quantity(int(text), "quantity")


def _buy_now_cart(uow: MallUnitOfWork, caller: Principal, tenant_id: str, buy: Any) -> Any:
    sku, product = carts.sellable(uow.catalogue, tenant_id, buy[0], "sku_id")
    return carts.Cart(caller.subject_id, (carts.PricedLine(sku, product, buy[1], utc_now()),))


def _checkout_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
    buy: tuple[str, int] | None = None,
    back: str | None = None,
) -> Response:
    with sessions.database(request).read() as conn:
        uow = MallUnitOfWork.joining(conn)
        try:
            cart = (
                carts.get_cart(uow, caller, tenant.tenant_id)
                if buy is None
                else _buy_now_cart(uow, caller, tenant.tenant_id, buy)
            )
        except DomainError as exc:
            form = form or FormState({})
            form.errors["_form"] = str(exc)
            cart, code, buy = carts.Cart(caller.subject_id, ()), status_of(exc), None
        mine = WalletOut.of(wallets.wallet(uow, caller, tenant.tenant_id, utc_now())).model_dump()
        book = addresses.list_addresses(uow, caller, tenant.tenant_id)
    groups: dict[str, list[carts.PricedLine]] = {}
    for line in cart.lines:
        groups.setdefault(line.product.merchant_id, []).append(line)
    state = form or FormState({"payment_method": "money"})
    # The address shown chosen: the one just sent, else one just added (?address=), else the
    # default (listed first).
    ids = [a.address_id for a in book]
    asked = [state.get("address_id"), request.query_params.get("address") or ""]
    chosen = next((x for x in asked if x in ids), ids[0] if ids else None)
    return page(
        request,
        "shop/checkout.html",
        tenant,
        caller,
        {
            "cart": cart,
            "groups": list(groups.values()),
            "wallet": mine,
            "form": state,
            "addresses": book,
            "chosen_address": chosen,
            "buy": buy,
            # 立即购买's way back: the product page it came from (a same-site path only).
            "back": same_site_path(tenant.tenant_id, back),
        },
        code,
    )


@router.get("/{tenant_id}/checkout")
def checkout_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    require(caller, tenant_id, carts.BUYERS)
    asked = {
        "sku_id": request.query_params.get("sku"),
        "quantity": request.query_params.get("quantity"),
    }
    back = request.query_params.get("back")
    try:
        buy = _buy_now(asked)
    except DomainError as exc:
        state = FormState({})
        state.errors["_form"] = str(exc)
        return _checkout_page(request, tenant, caller, state, status_of(exc), back=back)
    return _checkout_page(request, tenant, caller, buy=buy, back=back)


def _after_checkout(tenant_id: str, done: checkouts.Checkout, in_wechat: bool = False) -> str:
    """Where checkout goes next: the gateway's page when one order has money to pay, the
    order when nothing is left to pay (or when it is paid by scanning the QR code drawn on
    it, or through WeChat Pay inside WeChat, whose page offers JSAPI), else the list of the
    checkout's orders."""
    if len(done.orders) == 1:
        order = done.orders[0]
        payment = done.payments.get(order.order_id)
        here = f"/{tenant_id}/orders/{order.order_id}"
        if payment is None:
            return here
        scan = payment.redirect_url.startswith(pay_channels.QR_SCHEME)
        scan = scan or (in_wechat and payment.gateway == "wechat")
        return f"{here}#pay" if scan else payment.redirect_url
    return f"/{tenant_id}/orders?checkout={done.checkout_id}"


def _checkout(
    request: Request,
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    buy: tuple[str, int] | None,
    method: str,
    stable: str,
    address_id: str,
) -> checkouts.Checkout:
    uow = MallUnitOfWork.joining(conn)
    return checkouts.checkout(
        uow,
        caller,
        tenant_id,
        lines=None if buy is None else [buy],
        payment_method=method,
        stable_amount=(stable or None) if method == "mixed" else None,
        gateway=order_gateway(request, tenant_id, uow=uow),
        now=utc_now(),
        address_id=address_id,
    )


@router.post("/{tenant_id}/checkout")
async def checkout_post(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    method = forms.text_field(form, "payment_method")
    stable = forms.text_field(form, "stable_amount").strip()
    address_id = forms.text_field(form, "address_id").strip()
    back = forms.text_field(form, "back") or None

    def need_address() -> None:
        # The API may check out without an address; the mall's own checkout ships somewhere.
        if not address_id:
            raise InvalidInput("Choose a shipping address.", "address_id")

    try:
        buy = _buy_now(
            {
                "sku_id": forms.text_field(form, "sku_id"),
                "quantity": forms.text_field(form, "quantity"),
            }
        )
    except DomainError as exc:
        state = FormState.of(form)
        state.errors["_form"] = str(exc)
        return _checkout_page(request, tenant, caller, state, status_of(exc), back=back)

    def refused(state: FormState, code: int) -> Response:
        state.move_errors({"method": "payment_method", "lines": "_form"})
        state.move_errors({name: "_form" for name in state.errors if name.startswith("lines.")})
        return _checkout_page(request, tenant, caller, state, code, buy, back)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: _after_checkout(
            tenant_id,
            _checkout(request, conn, caller, tenant_id, buy, method, stable, address_id),
            wechat_jsapi.in_wechat(request),
        ),
        refused=refused,
        checks=need_address,
        default_field="_form",
    )


# --- orders -------------------------------------------------------------------------------------


@router.get("/{tenant_id}/orders")
def orders_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    status = request.query_params.get("status") or None
    if status is not None and status not in ORDER_STATUSES:
        status = None
    after = request.query_params.get("after") or None
    checkout_id = request.query_params.get("checkout") or None
    with sessions.database(request).reading() as uow:
        found = orders.list_orders(
            uow,
            caller,
            tenant_id,
            status=status,
            after=after,
            limit=ORDER_PAGE + 1,
            checkout_id=checkout_id,
        )
    more = len(found) > ORDER_PAGE
    found = found[:ORDER_PAGE]
    return page(
        request,
        "shop/orders.html",
        tenant,
        caller,
        {
            "orders": found,
            "status": status,
            "statuses": ORDER_STATUSES,
            "next_after": found[-1].order_id if more and found else None,
            "checkout_id": checkout_id,
        },
    )


def _order_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    order_id: str,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        found = orders.get_order(uow, caller, tenant.tenant_id, order_id)
    if found.order.status == OrderStatus.CREATED and pay_channels.refreshed(
        request, caller, tenant.tenant_id, found.payments
    ):
        with sessions.database(request).reading() as uow:
            found = orders.get_order(uow, caller, tenant.tenant_id, order_id)
    inside = wechat_jsapi.order_context(request, caller, tenant.tenant_id, found)
    if isinstance(inside, str):  # inside WeChat, the openid not known yet: OAuth first
        return rendering.redirect(inside)
    order = found.order
    pending_refund = next(
        (r for r in found.refunds if r.status in ("requested", "processing", "failed")), None
    )
    context: dict[str, Any] = {
        "view": found,
        "order": order,
        "can_refund": (
            order.redemption is None and order.status in REFUNDABLE and pending_refund is None
        ),
        "pending_refund": pending_refund,
        "paid": request.query_params.get("paid") == "1",
        "channels": pay_channels.choices(request, tenant.tenant_id),
        "qr_code": pay_channels.qr_code(found.payments),
        **inside,
    }
    if form is not None:
        context["form"] = form
    return page(request, "shop/order.html", tenant, caller, context, code)


@router.get("/{tenant_id}/orders/{order_id}")
def order_page(request: Request, tenant_id: str, order_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _order_page(request, tenant, caller, order_id)


OrderAction = Callable[[MallUnitOfWork, Principal, FormData], str]


async def order_post(
    request: Request,
    tenant_id: str,
    order_id: str,
    action: OrderAction,
    default_field: str = "_form",
) -> Response:
    """A buyer's form on their order page: ``action(uow, caller, form)`` once per form key
    answers where to go next; a refusal shows the order page with the message."""
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)

    def refused(state: FormState, code: int) -> Response:
        return _order_page(request, tenant, caller, order_id, state, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: action(MallUnitOfWork.joining(conn), caller, form),
        refused=refused,
        default_field=default_field,
    )


@router.post("/{tenant_id}/orders/{order_id}/pay")
async def order_pay(request: Request, tenant_id: str, order_id: str) -> Response:
    """The order's open payment on the chosen channel's page (a new one if the last was
    closed, or went through another channel)."""

    def act(uow: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        chosen = forms.text_field(form, "channel").strip() or None
        gateway = order_gateway(request, tenant_id, chosen, uow)
        found, _ = payments.start_payment(uow, caller, tenant_id, order_id, gateway, utc_now())
        if found.redirect_url.startswith(pay_channels.QR_SCHEME):
            return f"/{tenant_id}/orders/{order_id}#pay"  # the QR code is drawn on the order
        return found.redirect_url

    return await order_post(request, tenant_id, order_id, act)


@router.post("/{tenant_id}/orders/{order_id}/cancel")
async def order_cancel(request: Request, tenant_id: str, order_id: str) -> Response:
    here = f"/{tenant_id}/orders/{order_id}"
    return await order_post(
        request,
        tenant_id,
        order_id,
        lambda uow, caller, _form: answer(
            here,
            orders.cancel(
                uow,
                caller,
                tenant_id,
                order_id,
                None,
                utc_now(),
                order_gateway(request, tenant_id, uow=uow),
            ),
        ),
    )


@router.post("/{tenant_id}/orders/{order_id}/confirm")
async def order_confirm(request: Request, tenant_id: str, order_id: str) -> Response:
    here = f"/{tenant_id}/orders/{order_id}"
    return await order_post(
        request,
        tenant_id,
        order_id,
        lambda uow, caller, _form: answer(
            here, orders.confirm_receipt(uow, caller, tenant_id, order_id, utc_now())
        ),
    )


@router.post("/{tenant_id}/orders/{order_id}/refund")
async def order_refund(request: Request, tenant_id: str, order_id: str) -> Response:
    here = f"/{tenant_id}/orders/{order_id}"
    return await order_post(
        request,
        tenant_id,
        order_id,
        lambda uow, caller, form: answer(
            here,
            order_refunds.request_refund(
                uow,
                caller,
                tenant_id,
                order_id,
                forms.text_field(form, "reason").strip(),
                utc_now(),
            ),
        ),
        default_field="reason",
    )
