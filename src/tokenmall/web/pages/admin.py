"""The tenant's admin console (desktop): dashboard, parameters, products and stock, users."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.money import format_points
from tokenmall.services import console
from tokenmall.services.figures import current_params
from tokenmall.services.ledger import report
from tokenmall.services.mall import catalogue, people, tenants
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.errors import status_of
from tokenmall.web.pages import (
    csrf,
    figures,
    forms,
    params_form,
    rendering,
    sessions,
    storefront,
)
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.mall import tenant_or_404
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ROLES = ("consumer", "merchant", "admin")
KYC = ("none", "pending", "verified", "rejected")


def local_time(value: Any) -> Any:
    """A stored instant in the business time zone (UTC+8), as the console shows times
    (anything not a datetime is returned as it is)."""
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TZ)


def _staff(request: Request, tenant_id: str, roles: tuple[str, ...]) -> tuple[Tenant, Principal]:
    tenant = tenant_or_404(request, tenant_id)
    caller = sessions.need_member(request, tenant_id)
    require(caller, tenant_id, roles)  # type: ignore[arg-type]
    return tenant, caller


@router.get("/{tenant_id}/admin")
def admin_root(tenant_id: str) -> Response:
    return rendering.redirect(f"/{tenant_id}/admin/")


def dashboard_figures(conn: Connection, tenant_id: str) -> dict[str, Any]:
    """The health figures (the same function as the API's report) plus supply and the chart."""
    health = report.solvency(conn, tenant_id, utc_now())
    params, _ = current_params(conn, tenant_id)
    history = figures.price_history(conn, tenant_id)
    return {
        "health": health.to_public(),
        "max_supply": format_points(params.max_supply_units),
        "supply_share": (
            str(health.circulating * 100 // params.max_supply_units)
            if params.max_supply_units
            else "0"
        ),
        "history": history,
        "chart": json.dumps(
            {"labels": [p.label for p in history], "prices": [p.price for p in history]}
        ),
    }


@router.get("/{tenant_id}/admin/")
def dashboard(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ("admin",))
    with sessions.database(request).read() as conn:
        data = dashboard_figures(conn, tenant_id)
        data["sales"] = console.sales_figures(conn, caller, tenant_id, utc_now())
    return render(request, "admin/dashboard.html", {"tenant": tenant, **data}, caller=caller)


# --- parameters: changed by the tenant's admins (as by the operator), a change previewed ---


def _params_context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    params, version = current_params(conn, tenant_id)
    return {
        "fields": params_form.FIELDS,
        "current": params_form.texts(params),
        "version": version,
        "levels": params.levels,
        "param_changes": tenants.admin_params_history(
            MallUnitOfWork.joining(conn), caller, tenant_id
        )[-10:][::-1],
        "local_time": local_time,
    }


@router.get("/{tenant_id}/admin/params")
def params_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ("admin",))
    with sessions.database(request).read() as conn:
        context = _params_context(conn, caller, tenant_id)
        context["preview"] = figures.preview(conn, tenant_id, None)
    changed = request.query_params.get("changed") == "1"
    return render(
        request,
        "admin/params.html",
        {
            "tenant": tenant,
            **context,
            "form": FormState(dict(context["current"])),
            "changed": changed,
        },
        caller=caller,
    )


@router.post("/{tenant_id}/admin/params")
async def params_post(request: Request, tenant_id: str) -> Response:
    """``action=preview`` shows the effect and changes nothing; ``action=apply`` changes the
    parameters through the ledger's audited command with this admin as ``changed_by``
    (``services.mall.tenants.admin_update_params``, the API's PATCH)."""
    tenant, caller = _staff(request, tenant_id, ("admin",))
    form = await forms.read_form(request)
    state = FormState.of(form)
    preview_only = forms.text_field(form, "action") != "apply"
    try:
        csrf.check_csrf(request, caller, form)
        version = params_form.version_of(form)
        if preview_only:
            with sessions.database(request).read() as conn:
                preview = params_form.preview_of(conn, tenant_id, form)
        else:

            def act(conn: Connection) -> str:
                tenants.admin_update_params(
                    MallUnitOfWork.joining(conn),
                    caller,
                    tenant_id,
                    params_form.to_apply(conn, tenant_id, form),
                    version,
                    forms.text_field(form, "form_key") or "page",
                )
                return f"/{tenant_id}/admin/params?changed=1"

            return rendering.redirect(
                forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=act)
            )
    except DomainError as exc:
        state.fail(exc)
        params_form.form_level_errors(state)
        with sessions.database(request).read() as conn:
            context = _params_context(conn, caller, tenant_id)
            context["preview"] = figures.preview(conn, tenant_id, None)
        return render(
            request,
            "admin/params.html",
            {"tenant": tenant, **context, "form": state},
            status_code=status_of(exc),
            caller=caller,
        )
    with sessions.database(request).read() as conn:
        context = _params_context(conn, caller, tenant_id)
    return render(
        request,
        "admin/params.html",
        {"tenant": tenant, **context, "preview": preview, "form": state},
        caller=caller,
    )


@router.post("/{tenant_id}/admin/params/preview")
async def params_preview(request: Request, tenant_id: str) -> Response:
    """What the proposed values would do to one order now; nothing is changed (the form of
    the first console, kept for links and scripts that post here)."""
    tenant, caller = _staff(request, tenant_id, ("admin",))
    form = await forms.read_form(request)
    csrf.check_csrf(request, caller, form)
    state = FormState.of(form)
    status = 200
    with sessions.database(request).read() as conn:
        context = _params_context(conn, caller, tenant_id)
        current, _ = current_params(conn, tenant_id)
        try:
            proposed = params_form.proposed(current, params_form.changes(current, form))
            context["preview"] = figures.preview(conn, tenant_id, proposed)
        except DomainError as exc:
            state.fail(exc)
            status = 422
            context["preview"] = figures.preview(conn, tenant_id, None)
    return render(
        request,
        "admin/params.html",
        {"tenant": tenant, **context, "form": state},
        status_code=status,
        caller=caller,
    )


# --- products and stock (admins: every merchant's; merchants: their own) ---


StaffAction = Callable[[Connection, Principal, FormData], str]
StaffContext = Callable[[Connection, Principal, str], dict[str, Any]]


async def _staff_post(
    request: Request,
    tenant_id: str,
    roles: tuple[str, ...],
    template: str,
    context_of: StaffContext,
    action: StaffAction,
) -> Response:
    """A staff form posted once per form key (CSRF checked), then its redirect; a refusal
    shows ``template`` again with the message next to the field at fault."""
    tenant, caller = _staff(request, tenant_id, roles)
    form = await forms.read_form(request)
    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=caller,
            action=lambda conn: action(conn, caller, form),
        )
    except DomainError as exc:
        with sessions.database(request).read() as conn:
            context = context_of(conn, caller, tenant_id)
        return render(
            request,
            template,
            {"tenant": tenant, **context, "form": FormState.of(form, exc)},
            status_code=status_of(exc),
            caller=caller,
        )
    return rendering.redirect(location)


def _products_context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    rows = []
    products = catalogue.list_products(
        MallUnitOfWork.joining(conn), caller, tenant_id, None, None, 200
    )
    for product in products:
        _, skus = catalogue.get_product(
            MallUnitOfWork.joining(conn), caller, tenant_id, product.product_id
        )
        rows.append({"product": product, "skus": skus})
    merchants = catalogue.list_merchants(MallUnitOfWork.joining(conn), caller, tenant_id, None, 200)
    listed = [p.product_id for p in products]
    media = storefront.console_media(conn, tenant_id, listed)
    return {"rows": rows, "merchants": merchants, **media}


@router.get("/{tenant_id}/admin/products")
def products_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ("admin", "merchant"))
    with sessions.database(request).read() as conn:
        context = _products_context(conn, caller, tenant_id)
    return render(request, "admin/products.html", {"tenant": tenant, **context}, caller=caller)


def _whole(form: FormData, name: str) -> int:
    text = forms.text_field(form, name).strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        raise InvalidInput(f"{name} must be a whole number", name)
    return int(text)


async def _products_post(request: Request, tenant_id: str, action: StaffAction) -> Response:
    return await _staff_post(
        request, tenant_id, ("admin", "merchant"), "admin/products.html", _products_context, action
    )


@router.post("/{tenant_id}/admin/products")
async def product_create(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        now = utc_now()
        stock = _whole(form, "stock")
        merchant_id = forms.text_field(form, "merchant_id") or None
        contribution = forms.text_field(form, "pool_contribution").strip() or None
        # Checked before anything is written, so a bad price leaves no product behind (the
        # transaction would roll back anyway).
        from tokenmall.services.mall import validate

        validate.money(forms.text_field(form, "price").strip(), "price")
        product = catalogue.create_product(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            merchant_id=merchant_id,
            title=forms.text_field(form, "title"),
            description=forms.text_field(form, "description"),
            now=now,
        )
        catalogue.create_sku(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            product.product_id,
            name=forms.text_field(form, "sku_name") or forms.text_field(form, "title"),
            price=forms.text_field(form, "price").strip(),
            stock=stock,
            pool_contribution=contribution,
            now=now,
        )
        return f"/{tenant_id}/admin/products?created={product.product_id}"

    return await _products_post(request, tenant_id, act)


@router.post("/{tenant_id}/admin/skus/{sku_id}/stock")
async def stock_change(request: Request, tenant_id: str, sku_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        change = _whole(form, "change")
        reason = "restock" if change > 0 else "adjustment"
        catalogue.change_stock(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            sku_id,
            change=change,
            reason=reason,
            reference=None,
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/products"

    return await _products_post(request, tenant_id, act)


@router.post("/{tenant_id}/admin/products/{product_id}/status")
async def product_status(request: Request, tenant_id: str, product_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        status = forms.text_field(form, "status")
        if status not in ("active", "hidden"):
            raise InvalidInput("status must be active or hidden", "status")
        catalogue.update_product(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            product_id,
            catalogue.ProductChanges(status=status),
        )
        return f"/{tenant_id}/admin/products"

    return await _products_post(request, tenant_id, act)


# --- users and KYC ---


def _users_context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    role = None
    users = people.list_users(MallUnitOfWork.joining(conn), caller, tenant_id, role, None, 200)
    return {"users": users, "roles": ROLES, "kyc": KYC}


@router.get("/{tenant_id}/admin/users")
def users_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ("admin",))
    with sessions.database(request).read() as conn:
        context = _users_context(conn, caller, tenant_id)
    return render(request, "admin/users.html", {"tenant": tenant, **context}, caller=caller)


async def _users_post(request: Request, tenant_id: str, action: StaffAction) -> Response:
    return await _staff_post(
        request, tenant_id, ("admin",), "admin/users.html", _users_context, action
    )


@router.post("/{tenant_id}/admin/users")
async def user_create(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        role = forms.text_field(form, "role")
        if role not in ROLES:
            raise InvalidInput("choose a role", "role")
        people.create_user(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            email=forms.text_field(form, "email"),
            password=forms.text_field(form, "password"),
            display_name=forms.text_field(form, "display_name"),
            role=role,  # type: ignore[arg-type]
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/users"

    return await _users_post(request, tenant_id, act)


@router.post("/{tenant_id}/admin/users/{user_id}")
async def user_update(request: Request, tenant_id: str, user_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        role = forms.text_field(form, "role") or None
        kyc = forms.text_field(form, "kyc_status") or None
        if role is not None and role not in ROLES:
            raise InvalidInput("choose a role", "role")
        if kyc is not None and kyc not in KYC:
            raise InvalidInput("choose a KYC status", "kyc_status")
        people.update_user(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            user_id,
            role=role,  # type: ignore[arg-type]
            kyc_status=kyc,  # type: ignore[arg-type]
        )
        return f"/{tenant_id}/admin/users"

    return await _users_post(request, tenant_id, act)
