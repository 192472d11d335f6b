"""The consumer's account pages (H5): wallet, sell and convert with a preview, leaderboard,
referral (invite link and QR code), withdrawals, and the password and sessions page.

Every figure comes from the use cases the API calls (``services/mall/wallet.py``,
``referrals.py``, ``withdrawals.py``): no arithmetic here. Every quota or point value is shown
beside what backs it (``wallet.backed_by``: the backing pool, the dividend pool, the quota
outstanding across the tenant). The preview of a sell or a conversion is ``wallet.preview``,
the very command the form would run, applied to a throw-away book.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal
from urllib.parse import urlencode

import qrcode  # type: ignore[import-untyped]
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services import lookups
from tokenmall.services.mall import accounts, referrals, withdrawals
from tokenmall.services.mall import wallet as wallets
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web import limits
from tokenmall.web.api.schemas_wallet import (
    DividendDay,
    LeaderboardEntry,
    PriceHistoryOut,
    ReferralsOut,
    TradeOut,
    WalletOut,
)
from tokenmall.web.deps import SESSION_COOKIE
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, figures, forms, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import redirect, render
from tokenmall.web.pages.shop import answer, consumer_page, page, post_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Kind = Literal["sell", "convert"]
KINDS: tuple[Kind, ...] = ("sell", "convert")
CHART_DAYS = 30
DIVIDEND_DAYS = 14
LEADERBOARD_SIZE = 50
WITHDRAWALS_SHOWN = 20
RECEIPT_FIELDS = ("points", "price", "value_at_price", "fee", "fee_rate", "receive", "journal")


# --- wallet -------------------------------------------------------------------------------------


def _chart(request: Request, tenant_id: str, caller: Principal) -> tuple[str, str]:
    """The price chart's data and what its points are: the daily closes of the last 30 days
    (``wallet.price_history``); while those are fewer than two days, the price at each settled
    business day the ledger recorded (the console's series)."""
    with sessions.database(request).read() as conn:
        uow = MallUnitOfWork.joining(conn)
        found = wallets.price_history(uow, caller, tenant_id, CHART_DAYS, utc_now())
        history = PriceHistoryOut.of(found)
        labels = [row.date for row in history.series]
        prices = [row.close for row in history.series]
        basis = "daily"
        if len(prices) < 2:
            settled = figures.price_history(conn, tenant_id, CHART_DAYS)
            if len(settled) >= 2:
                labels = [p.label for p in settled]
                prices = [p.price for p in settled]
                basis = "settled"
    return json.dumps({"labels": labels, "prices": prices}), basis


def _wallet(view: wallets.WalletView) -> dict[str, Any]:
    """The wallet as the pages show it: the API's figures."""
    return WalletOut.of(view).model_dump()


def _quota_share(mine: dict[str, Any]) -> tuple[str, str]:
    """The quota bar's value and maximum (decimal strings of yuan, for <progress>)."""
    return mine["quota_used"], mine["quota_total"]


@router.get("/{tenant_id}/wallet")
def wallet_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    with sessions.database(request).reading() as uow:
        mine = _wallet(wallets.wallet(uow, caller, tenant_id, utc_now()))
        paid = [
            DividendDay.of(d).model_dump()
            for d in wallets.dividends(uow, caller, tenant_id, DIVIDEND_DAYS)
        ]
    chart, basis = _chart(request, tenant_id, caller)
    used, total = _quota_share(mine)
    return page(
        request,
        "account/wallet.html",
        tenant,
        caller,
        {
            "w": mine,
            "b": mine["backed_by"],
            "dividends": paid,
            "chart": chart,
            "chart_basis": basis,
            "quota_used": used,
            "quota_total": total,
        },
    )


# --- sell and convert ---------------------------------------------------------------------------


def _kind(kind: str) -> Kind:
    if kind == "sell":
        return "sell"
    if kind == "convert":
        return "convert"
    raise StarletteHTTPException(404)


def _receipt_signature(request: Request, caller: Principal, kind: str, values: list[str]) -> str:
    key = sessions.settings(request).secret_key.get_secret_value().encode()
    text = "\x1f".join(["receipt", caller.subject_id, kind, *values])
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def _receipt_location(
    request: Request, tenant_id: str, caller: Principal, kind: Kind, outcome: dict[str, Any]
) -> str:
    """Where a done sell or conversion goes: its page with what was received, signed so the
    figures shown are the ones the ledger returned (a replayed form answers the same)."""
    values = [
        str(outcome["journal_id"] if name == "journal" else outcome[name])
        for name in RECEIPT_FIELDS
    ]
    query = dict(zip(RECEIPT_FIELDS, values, strict=True))
    query["sig"] = _receipt_signature(request, caller, kind, values)
    return f"/{tenant_id}/wallet/{kind}?{urlencode(query)}"


def _receipt(request: Request, caller: Principal, kind: Kind) -> dict[str, str] | None:
    params = request.query_params
    if "sig" not in params:
        return None
    values = [params.get(name, "") for name in RECEIPT_FIELDS]
    expected = _receipt_signature(request, caller, kind, values)
    if not hmac.compare_digest(expected, params.get("sig", "")):
        return None
    return dict(zip(RECEIPT_FIELDS, values, strict=True))


def _trade(trade: wallets.Trade) -> dict[str, Any]:
    """A sell's or a conversion's figures as the API gives them (a preview has no journal)."""
    return TradeOut.of(trade).model_dump(exclude_none=trade.journal_id is None)


def _preview(
    request: Request, tenant_id: str, caller: Principal, kind: Kind, points: str
) -> tuple[dict[str, Any] | None, FormState]:
    state = FormState({"points": points})
    if not points.strip():
        return None, state
    try:
        with sessions.database(request).reading() as uow:
            found = wallets.preview(uow, caller, tenant_id, kind, points.strip())
            return _trade(found), state
    except DomainError as exc:
        state.errors["points"] = str(exc)
        return None, state


def _trade_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    kind: Kind,
    form: FormState,
    preview: dict[str, Any] | None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        mine = _wallet(wallets.wallet(uow, caller, tenant.tenant_id, utc_now()))
    return page(
        request,
        "account/trade.html",
        tenant,
        caller,
        {
            "kind": kind,
            "w": mine,
            "b": mine["backed_by"],
            "form": form,
            "preview": preview,
            "receipt": _receipt(request, caller, kind),
        },
        code,
    )


@router.get("/{tenant_id}/wallet/{kind}")
def trade_page(request: Request, tenant_id: str, kind: str) -> Response:
    chosen = _kind(kind)
    tenant, caller = consumer_page(request, tenant_id)
    points = (request.query_params.get("preview_points") or "")[:40]
    preview, state = _preview(request, tenant_id, caller, chosen, points)
    return _trade_page(request, tenant, caller, chosen, state, preview)


@router.get("/{tenant_id}/wallet/{kind}/preview")
def trade_preview(request: Request, tenant_id: str, kind: str) -> Response:
    """The preview alone (HTMX refreshes it as the amount is typed)."""
    chosen = _kind(kind)
    tenant, caller = consumer_page(request, tenant_id)
    points = (request.query_params.get("points") or "")[:40]
    preview, state = _preview(request, tenant_id, caller, chosen, points)
    return render(
        request,
        "account/_trade_preview.html",
        {"tenant": tenant, "kind": chosen, "preview": preview, "form": state},
        caller=caller,
    )


@router.post("/{tenant_id}/wallet/{kind}")
async def trade_post(request: Request, tenant_id: str, kind: str) -> Response:
    """``do=preview`` shows what the amount would give (nothing changes); ``do=execute`` runs
    the sell or conversion through the ledger and shows what was received."""
    chosen = _kind(kind)
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    points = forms.text_field(form, "points").strip()
    if forms.text_field(form, "do") != "execute":
        try:
            csrf.check_csrf(request, caller, form)
        except DomainError as exc:
            state = FormState.of(form, exc)
            return _trade_page(request, tenant, caller, chosen, state, None, status_of(exc))
        preview, state = _preview(request, tenant_id, caller, chosen, points)
        if not points:
            state.errors["points"] = "Enter the points."
        code = 422 if state.errors else 200
        return _trade_page(request, tenant, caller, chosen, state, preview, code)

    def refused(state: FormState, code: int) -> Response:
        if "_form" in state.errors and "points" not in state.errors:
            state.errors["points"] = state.errors.pop("_form")
        return _trade_page(request, tenant, caller, chosen, state, None, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: _receipt_location(
            request,
            tenant_id,
            caller,
            chosen,
            _trade(
                wallets.execute(MallUnitOfWork.joining(conn), caller, tenant_id, chosen, points)
            ),
        ),
        refused=refused,
        default_field="points",
    )


# --- leaderboard --------------------------------------------------------------------------------


@router.get("/{tenant_id}/leaderboard")
def leaderboard_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    with sessions.database(request).reading() as uow:
        rows = [
            LeaderboardEntry.of(r).model_dump()
            for r in wallets.leaderboard(uow, caller, tenant_id, LEADERBOARD_SIZE)
        ]
        mine = _wallet(wallets.wallet(uow, caller, tenant_id, utc_now()))
    return page(
        request,
        "account/leaderboard.html",
        tenant,
        caller,
        {"rows": rows, "w": mine, "b": mine["backed_by"]},
    )


# --- referral -----------------------------------------------------------------------------------


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as an inline SVG (one path; no script, no image request)."""
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    size = len(matrix)
    cells = "".join(
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" class="qr" role="img" aria-label="QR">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{cells}" fill="#000"/></svg>'
    )


@router.get("/{tenant_id}/referral")
def referral_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    with sessions.database(request).reading() as uow:
        found = referrals.referrals(uow, caller, tenant_id, str(request.base_url))
    return page(
        request,
        "account/referral.html",
        tenant,
        caller,
        {"r": ReferralsOut.of(found), "qr": qr_svg(found.invite_url)},
    )


# --- withdrawals --------------------------------------------------------------------------------


def _withdrawals_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).read() as conn:
        uow = MallUnitOfWork.joining(conn)
        mine = _wallet(wallets.wallet(uow, caller, tenant.tenant_id, utc_now()))
        listed = withdrawals.list_withdrawals(
            uow,
            caller,
            tenant.tenant_id,
            status=None,
            user_id=None,
            after=None,
            limit=WITHDRAWALS_SHOWN,
        )
        rules = lookups.withdrawal_rules(conn, tenant.tenant_id)
        kyc = lookups.kyc_status(conn, tenant.tenant_id, caller.subject_id)
    context: dict[str, Any] = {
        "w": mine,
        "withdrawals": listed,
        "rules": rules,
        "kyc": kyc,
        "requested": request.query_params.get("requested") == "1",
    }
    if form is not None:
        context["form"] = form
    return page(request, "account/withdrawals.html", tenant, caller, context, code)


@router.get("/{tenant_id}/withdrawals")
def withdrawals_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _withdrawals_page(request, tenant, caller)


@router.post("/{tenant_id}/withdrawals")
async def withdrawals_post(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form: FormData = await forms.read_form(request)
    amount = forms.text_field(form, "amount").strip()

    def refused(state: FormState, code: int) -> Response:
        if "kyc_status" in state.errors:
            state.errors.pop("kyc_status")
            state.errors["amount"] = "Withdrawals need real-name (KYC) verification first."
        state.move_errors({"_form": "amount"})
        return _withdrawals_page(request, tenant, caller, state, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: answer(
            f"/{tenant_id}/withdrawals?requested=1",
            withdrawals.request(MallUnitOfWork.joining(conn), caller, tenant_id, amount, utc_now()),
        ),
        refused=refused,
        default_field="amount",
    )


# --- password and sessions ----------------------------------------------------------------------


@router.get("/{tenant_id}/account/password")
def password_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    changed = request.query_params.get("changed") == "1"
    return page(request, "account/password.html", tenant, caller, {"changed": changed})


@router.post("/{tenant_id}/account/password")
async def password_post(request: Request, tenant_id: str) -> Response:
    """Change one's password with the current one; every other session is signed out. The
    hashes run in the thread pool (the bounded pool of ``passwords``), never on the loop."""
    tenant, caller = consumer_page(request, tenant_id)
    form: FormData = await forms.read_form(request)
    new_password = forms.text_field(form, "new_password")

    def checks() -> None:
        if new_password != forms.text_field(form, "new_password_again"):
            raise InvalidInput("the two passwords differ", "new_password_again")

    def refused(state: FormState, code: int) -> Response:
        context = {"form": state}
        return page(request, "account/password.html", tenant, caller, context, code)

    return await run_in_threadpool(
        post_form,
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=lambda conn: answer(
            f"/{tenant_id}/account/password?changed=1",
            accounts.change_password(
                MallUnitOfWork.joining(conn),
                caller,
                tenant_id,
                old_password=forms.text_field(form, "old_password"),
                new_password=new_password,
                guard=limits.throttle_of(request),
                client=limits.client_of(request),
                now=utc_now(),
            ),
        ),
        refused=refused,
        checks=checks,
        default_field="old_password",
    )


@router.post("/{tenant_id}/account/logout-everywhere")
async def logout_everywhere_post(request: Request, tenant_id: str) -> Response:
    _, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    csrf.check_csrf(request, caller, form)
    with sessions.database(request).unit() as uow:
        accounts.logout_everywhere(uow, caller, tenant_id, utc_now())
    response = redirect(f"/{tenant_id}/")
    response.delete_cookie(SESSION_COOKIE)
    return response
