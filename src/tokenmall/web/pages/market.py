"""The market's consumer pages (文交所, H5): the market's collections, a collection's page
(floor, highest bid, last price, 24 h volume, holders, the daily K-line with its table, the
depth of the book, the open listings with their buy form, the bid form and the forms on one's
own tokens), and one's orders with their cancel and the agreements offered to one with their
accept and decline.

The forms are the actions the tenant's profile offers (``TOKEN_ACTIONS``, ``ORDER_ACTIONS``:
one entry each, with its template ``market/_act_<name>.html``); each calls the same use case as
the API (``services/market/orders.py``, ``trading.py``). A form's preview of fee, royalty and
what the seller receives comes from ``services/market_pages`` (the domain's ``fees.split``):
as a partial for HTMX as a price is typed or, without JavaScript, from the form's own
"preview" button; a listing's buy form and an agreement offered to one show theirs at once.
Forms are plain POSTs answered by 303 (CSRF, a form key replayed through the idempotency
store, one transaction; a take, an accept, or a bid or a listing that crosses the book, as the
API's, one unit of the tenant's writer);
a refusal re-renders the page with the refusal's sentence (``message_of``: the market's code
in Chinese first) next to the action it refused, and nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.market.fees import Split
from tokenmall.domain.money import format_money, format_rate
from tokenmall.domain.nfg.metadata import display_serial
from tokenmall.services import market_pages
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import batched, orders, queries, trading
from tokenmall.services.market.admin import price_fen
from tokenmall.services.nfg import registry
from tokenmall.web.errors import message_of, status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.i18n import locale_of
from tokenmall.web.pages.shop import consumer_page, page, whole_number

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# The services' field names → the form's.
FORM_FIELDS = {
    "to_user_id": "to",
    "serial": "_form",
    "collection_id": "_form",
    "order_id": "_form",
    "order": "_form",
}
DONE = (
    "listed", "offered", "gifted", "cancelled", "bid", "bought", "accepted", "declined",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Act:
    """One posted action: who, where, and the form."""

    request: Request
    unit: MallUnitOfWork
    caller: Principal
    tenant_id: str
    form: FormData

    @property
    def config(self) -> LogConfig:
        found: LogConfig = self.request.app.state.log_config
        return found

    def price(self) -> int:
        return price_fen(forms.text_field(self.form, "price").strip())

    def valid_days(self) -> int | None:
        if not forms.text_field(self.form, "valid_days").strip():
            return None
        return whole_number(self.form, "valid_days")

    def to(self) -> str:
        return market_pages.recipient(self.unit, self.tenant_id, forms.text_field(self.form, "to"))


@dataclass(frozen=True, slots=True)
class TokenAction:
    """A form on one of the caller's tokens (``where`` "token": its ``serial``), on the
    collection ("collection") or on one of its listings ("listing": its ``order``): offered
    when ``offered(terms)``; ``run`` calls its use case and may name what it did (else
    ``done``) in the redirect."""

    name: str
    offered: Callable[[market_pages.Terms], bool]
    run: Callable[[Act, str, int], str | None]
    done: str
    priced: bool = True  # shows the preview of fee, royalty and what the seller receives
    where: str = "token"


def _list(a: Act, collection_id: str, serial: int) -> None:
    orders.list_token(
        a.unit, a.caller, a.tenant_id, collection_id, serial, a.price(), now=utc_now(),
        config=a.config, valid_days=a.valid_days(),
    )  # fmt: skip


def _offer(a: Act, collection_id: str, serial: int) -> None:
    orders.offer(
        a.unit, a.caller, a.tenant_id, collection_id, serial, a.to(), a.price(), now=utc_now(),
        config=a.config, valid_days=a.valid_days(),
    )  # fmt: skip


def _gift(a: Act, collection_id: str, serial: int) -> None:
    orders.gift(
        a.unit, a.caller, a.tenant_id, collection_id, serial, a.to(), now=utc_now(),
        config=a.config,
    )  # fmt: skip


def _bid(a: Act, collection_id: str, _serial: int) -> str:
    placed = trading.bid(
        a.unit, a.caller, a.tenant_id, collection_id, a.price(), now=utc_now(), config=a.config,
        valid_days=a.valid_days(),
    )  # fmt: skip
    return "bought" if placed.trades else "bid"


def _take(a: Act, _collection_id: str, _serial: int) -> None:
    order_id = whole_number(a.form, "order")
    trading.take(a.unit, a.caller, a.tenant_id, order_id, now=utc_now(), config=a.config)


TOKEN_ACTIONS: dict[str, TokenAction] = {
    a.name: a
    for a in (
        TokenAction("list", lambda t: t.listings, _list, "listed"),
        TokenAction("offer", lambda t: t.agreements, _offer, "offered"),
        TokenAction("gift", lambda t: True, _gift, "gifted", priced=False),
        TokenAction("bid", lambda t: t.listings, _bid, "bid", where="collection"),
        TokenAction("take", lambda t: t.listings, _take, "bought", priced=False, where="listing"),
    )
}


def _cancel(a: Act, order_id: int) -> None:
    orders.cancel(a.unit, a.caller, a.tenant_id, order_id, now=utc_now(), config=a.config)


def _accept(a: Act, order_id: int) -> None:
    trading.accept(a.unit, a.caller, a.tenant_id, order_id, now=utc_now(), config=a.config)


def _decline(a: Act, order_id: int) -> None:
    orders.decline(a.unit, a.caller, a.tenant_id, order_id, now=utc_now(), config=a.config)


# An action on one of one's orders (or on an order named to one): name → (use case, done).
ORDER_ACTIONS: dict[str, tuple[Callable[[Act, int], None], str]] = {
    "cancel": (_cancel, "cancelled"),
    "accept": (_accept, "accepted"),
    "decline": (_decline, "declined"),
}


# --- reading ------------------------------------------------------------------------------------


def _money(fen: int | None) -> str | None:
    return None if fen is None else format_money(fen)


def _rate(rate: Any) -> str | None:
    return None if rate is None else format_rate(rate)


def terms_view(t: market_pages.Terms) -> dict[str, Any]:
    return {
        "t": t,
        "fee_rate": _rate(t.fee_rate),
        "royalty_rate": _rate(t.royalty_rate),
        "band": _rate(t.band),
        "reference": _money(t.reference),
        "band_low": _money(t.band_low),
        "band_high": _money(t.band_high),
    }


def _data(d: queries.MarketData) -> dict[str, Any]:
    candles = [
        {
            "day": str(c.key),
            "open": format_money(c.open),
            "high": format_money(c.high),
            "low": format_money(c.low),
            "close": format_money(c.close),
            "volume": format_money(c.volume),
            "trades": c.trades,
        }
        for c in d.candles
    ]
    return {
        "floor": _money(d.floor),
        "highest_bid": _money(d.highest_bid),
        "last_price": _money(d.last_price),
        "volume_24h": format_money(d.volume_24h),
        "holders": d.holders,
        "candles": candles,
        # The chart's data, read by static/market_chart.js from a JSON block (no inline script).
        "chart": json.dumps(
            [{k: c[k] for k in ("day", "open", "high", "low", "close")} for c in candles]
        ),
        "asks": [(format_money(p), n) for p, n in d.depth.asks],
        "bids": [(format_money(p), n) for p, n in d.depth.bids],
    }


def _offered(t: market_pages.Terms) -> list[TokenAction]:
    return [a for a in TOKEN_ACTIONS.values() if a.offered(t)]


def split_view(s: Split) -> dict[str, str]:
    """A split's figures as the pages show them (the domain's ``fees.split``, formatted)."""
    return {
        "price": format_money(s.price),
        "fee": format_money(s.fee),
        "royalty": format_money(s.royalty),
        "proceeds": format_money(s.proceeds),
    }


def _collection_context(
    request: Request, tenant_id: str, caller: Principal, collection_id: str
) -> dict[str, Any]:
    now = utc_now()
    with sessions.database(request).reading() as unit:
        collection = registry.get(unit, caller, tenant_id, collection_id)
        data = queries.data(unit, caller, tenant_id, collection_id, now)
        terms = market_pages.terms(unit, caller, tenant_id, collection_id, now)
        mine = market_pages.my_tokens(unit, caller, tenant_id, collection_id)
        listed = market_pages.listings(unit, caller, tenant_id, collection_id, now)
        cash = market_pages.cash(unit, caller, tenant_id, shown=0)
    offered = _offered(terms)
    tokens: list[dict[str, Any]] = [
        {"t": t, "display": display_serial(t.serial, collection.edition_size)} for t in mine
    ]
    listings: list[dict[str, Any]] = [
        {
            "o": x.order,
            "row": f"take-{x.order.order_id}",
            "display": display_serial(x.order.serial or 0, collection.edition_size),
            "pv": split_view(x.split),
            "mine": x.mine,
        }
        for x in listed
    ]
    # The rows of the forms this page shows (a refusal of another one is shown with the rules).
    held = [t.serial for t in mine if t.state == "held"]
    rows = {f"{a.name}-{serial}" for a in offered if a.where == "token" for serial in held}
    rows |= {a.name for a in offered if a.where == "collection"}
    if any(a.name == "take" for a in offered):
        rows |= {x["row"] for x in listings if not x["mine"]}
    return {
        "collection": collection,
        "primary": registry.price_text(collection),
        **_data(data),
        **terms_view(terms),
        "tokens": tokens,
        "token_actions": [a for a in offered if a.where == "token"],
        "collection_actions": [a for a in offered if a.where == "collection"],
        "can_take": any(a.name == "take" for a in offered),
        "listings": listings,
        "cash": format_money(cash.available),
        "reserved": format_money(cash.reserved),
        "rows": rows,
        "done": _done(request),
        "previews": {},
    }


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


def _collection_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    collection_id: str,
    form: FormState | None = None,
    code: int = 200,
    previews: dict[str, Any] | None = None,
) -> Response:
    context = _collection_context(request, tenant.tenant_id, caller, collection_id)
    if form is not None:
        context["form"] = form
        if form.errors and form.get("row") not in context["rows"]:
            # The form refused is not offered here (the profile forbids it, or the token
            # moved): its refusal is shown with the rules of what is offered instead.
            context["unoffered"] = next(iter(form.errors.values()))
    if previews:
        context["previews"] = previews
    return page(request, "market/collection.html", tenant, caller, context, code)


@router.get("/{tenant_id}/market")
def market_index(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    with sessions.database(request).reading() as unit:
        found = market_pages.overview(unit, caller, tenant_id, utc_now())
    rows = [
        {
            "c": s.collection,
            "floor": _money(s.data.floor),
            "last_price": _money(s.data.last_price),
            "volume_24h": format_money(s.data.volume_24h),
            "holders": s.data.holders,
        }
        for s in found
    ]
    return page(request, "market/index.html", tenant, caller, {"rows": rows})


def _orders_context(request: Request, tenant_id: str, caller: Principal) -> dict[str, Any]:
    """One's orders (each with its cancel while open), the agreements offered to one (each
    with its split, accept and decline) and one's market cash."""
    with sessions.database(request).reading() as unit:
        found = queries.my_orders(unit, caller, tenant_id)
        offers = market_pages.offers_to_me(unit, caller, tenant_id, utc_now())
        cash = market_pages.cash(unit, caller, tenant_id, shown=0)
        named = [o.to_user_id for o in found if o.to_user_id] + [x.order.user_id for x in offers]
        names = market_pages.user_names(unit, caller, tenant_id, named)
    rows = [
        {
            "o": o,
            "price": format_money(o.price),
            "to": names.get(o.to_user_id or "", ""),
            "actions": ["cancel"] if o.status == "open" else [],
        }
        for o in found
    ]
    to_me = [
        {
            "o": x.order,
            "row": f"to-{x.order.order_id}",
            "collection": x.collection,
            "display": display_serial(x.order.serial or 0, x.collection.edition_size),
            "seller": names.get(x.order.user_id, ""),
            "pv": split_view(x.split),
            "short": x.split.price > cash.available,
        }
        for x in offers
    ]
    return {"orders": rows, "offers": to_me, "cash": format_money(cash.available)}


def _orders_page(
    request: Request, tenant: Tenant, caller: Principal, form: FormState | None = None,
    code: int = 200,
) -> Response:  # fmt: skip
    context: dict[str, Any] = {
        **_orders_context(request, tenant.tenant_id, caller),
        "done": _done(request),
    }
    if form is not None:
        context["form"] = form
        rows = {str(r["o"].order_id) for r in context["orders"]}
        rows |= {r["row"] for r in context["offers"]}
        if form.errors and form.get("row") not in rows:
            # The order refused is not on this page (not one's own, or no longer offered).
            context["unplaced"] = next(iter(form.errors.values()))
    return page(request, "market/orders.html", tenant, caller, context, code)


@router.get("/{tenant_id}/market/orders")
def my_orders(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _orders_page(request, tenant, caller)


@router.get("/{tenant_id}/market/{collection_id}")
def collection_page(request: Request, tenant_id: str, collection_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _collection_page(request, tenant, caller, collection_id)


def _preview(
    request: Request, tenant_id: str, caller: Principal, collection_id: str, price: str
) -> dict[str, Any]:
    """The preview's figures for ``price``; raises the refusal of a bad price."""
    with sessions.database(request).reading() as unit:
        found = market_pages.preview(unit, caller, tenant_id, collection_id, price, utc_now())
    return {**split_view(found.split), "in_band": found.in_band}


@router.get("/{tenant_id}/market/{collection_id}/preview")
def preview_partial(request: Request, tenant_id: str, collection_id: str) -> Response:
    """The preview box of one form (``row``) for the price typed, for HTMX."""
    tenant, caller = consumer_page(request, tenant_id)
    row = request.query_params.get("row", "")
    if len(row) > 40 or not row.replace("-", "").isalnum():
        raise HTTPException(404)
    price = request.query_params.get("price", "")
    form = FormState({"row": row, "price": price})
    shown = None
    if price.strip():
        try:
            shown = _preview(request, tenant_id, caller, collection_id, price)
        except DomainError as exc:
            form.errors["price"] = refusal_text(request, exc)
    return page(
        request, "market/_preview.html", tenant, caller,
        {"row": row, "pv": shown, "form": form},
    )  # fmt: skip


def refusal_text(request: Request, exc: DomainError) -> str:
    """A refusal in the page's language: the market's Chinese sentence first (``message_of``),
    English alone on an English page."""
    return str(exc) if locale_of(request) == "en" else message_of(request, exc)


def _refused(request: Request, form: FormData, exc: DomainError) -> FormState:
    state = FormState.of(form)
    state.errors[str(getattr(exc, "field", None) or "_form")] = refusal_text(request, exc)
    state.move_errors(FORM_FIELDS)
    return state


def _act(
    request: Request, form: FormData, tenant_id: str, caller: Principal,
    run: Callable[[Act], str],
) -> str:  # fmt: skip
    """CSRF, then ``run`` once per form key in one transaction; its redirect."""
    csrf.check_csrf(request, caller, form)

    def action(conn: Connection) -> str:
        return run(Act(request, MallUnitOfWork.joining(conn), caller, tenant_id, form))

    return forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=action)


def _trade(
    request: Request, form: FormData, tenant_id: str, caller: Principal, action: str,
    order_of: Callable[[], int], location: str,
) -> str:  # fmt: skip
    """CSRF, then a take or an accept once per form key through the tenant's writer, as the
    API settles them (``batched``); its redirect."""
    csrf.check_csrf(request, caller, form)
    order_id = order_of()
    key, request_hash = forms.keyed(request, form)
    once = batched.Once(key, request_hash, status=303, scope_prefix=forms.PAGE_SCOPE)
    return batched.settle_batched(
        sessions.database(request), caller, tenant_id, order_id, action, now=utc_now(),
        config=request.app.state.log_config, answer=lambda *_: location, once=once,
    ).body  # fmt: skip


def _place(
    request: Request, form: FormData, tenant_id: str, caller: Principal, collection_id: str,
    name: str,
) -> str:  # fmt: skip
    """CSRF, then a bid or a listing (``name``) once per form key, through the tenant's writer
    when it crosses the book (``batched.place_batched``), as the API places them; its
    redirect."""
    csrf.check_csrf(request, caller, form)
    serial = whole_number(form, "serial") if name == "list" else 0
    price = price_fen(forms.text_field(form, "price").strip())
    dated = forms.text_field(form, "valid_days").strip()
    days = whole_number(form, "valid_days") if dated else None
    config = request.app.state.log_config

    def place(unit: MallUnitOfWork, now: datetime, wait: bool) -> orders.Placed:
        if name == "bid":
            return trading.bid(
                unit, caller, tenant_id, collection_id, price, now=now, config=config,
                valid_days=days, wait=wait,
            )  # fmt: skip
        return orders.list_token(
            unit, caller, tenant_id, collection_id, serial, price, now=now, config=config,
            valid_days=days, wait=wait,
        )  # fmt: skip

    def answer(_unit: MallUnitOfWork, placed: orders.Placed) -> str:
        done = "bought" if name == "bid" and placed.trades else TOKEN_ACTIONS[name].done
        return f"/{tenant_id}/market/{collection_id}?done={done}"

    key, request_hash = forms.keyed(request, form)
    once = batched.Once(key, request_hash, status=303, scope_prefix=forms.PAGE_SCOPE)
    return batched.place_batched(
        sessions.database(request), caller, tenant_id, (collection_id, name, price), place,
        now=utc_now(), answer=answer, once=once,
    ).body  # fmt: skip


def _batched(request: Request) -> bool:
    return sessions.settings(request).group_commit


@router.post("/{tenant_id}/market/{collection_id}/{name}")
async def token_action(request: Request, tenant_id: str, collection_id: str, name: str) -> Response:
    found = TOKEN_ACTIONS.get(name)
    if found is None:
        raise HTTPException(404)
    action: TokenAction = found
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    if forms.text_field(form, "do") == "preview" and action.priced:
        row = forms.text_field(form, "row")
        try:
            csrf.check_csrf(request, caller, form)
            price = forms.text_field(form, "price")
            shown = _preview(request, tenant_id, caller, collection_id, price)
        except DomainError as exc:
            return _collection_page(
                request, tenant, caller, collection_id, _refused(request, form, exc),
                status_of(exc),
            )  # fmt: skip
        return _collection_page(
            request, tenant, caller, collection_id, FormState.of(form), previews={row: shown}
        )

    def run(a: Act) -> str:
        serial = whole_number(form, "serial") if action.where == "token" else 0
        done = action.run(a, collection_id, serial) or action.done
        return f"/{tenant_id}/market/{collection_id}?done={done}"

    try:
        if action.name == "take" and _batched(request):
            location = _trade(
                request, form, tenant_id, caller, "take", lambda: whole_number(form, "order"),
                f"/{tenant_id}/market/{collection_id}?done={action.done}",
            )  # fmt: skip
        elif action.name in ("bid", "list") and _batched(request):
            location = _place(request, form, tenant_id, caller, collection_id, action.name)
        else:
            location = _act(request, form, tenant_id, caller, run)
    except DomainError as exc:
        return _collection_page(
            request, tenant, caller, collection_id, _refused(request, form, exc), status_of(exc)
        )
    return rendering.redirect(location)


@router.post("/{tenant_id}/market/orders/{order_id}/{name}")
async def order_action(request: Request, tenant_id: str, order_id: str, name: str) -> Response:
    found = ORDER_ACTIONS.get(name)
    if found is None or not order_id.isascii() or not order_id.isdigit() or len(order_id) > 15:
        raise HTTPException(404)
    use_case, done = found
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)

    def run(a: Act) -> str:
        use_case(a, int(order_id))
        return f"/{tenant_id}/market/orders?done={done}"

    try:
        if name == "accept" and _batched(request):
            location = _trade(
                request, form, tenant_id, caller, "accept", lambda: int(order_id),
                f"/{tenant_id}/market/orders?done={done}",
            )  # fmt: skip
        else:
            location = _act(request, form, tenant_id, caller, run)
    except DomainError as exc:
        return _orders_page(request, tenant, caller, _refused(request, form, exc), status_of(exc))
    return rendering.redirect(location)
