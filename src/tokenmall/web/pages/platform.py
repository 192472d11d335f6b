"""The platform operator's console: tenants (list, create) and each tenant's economy
parameters, changed through the ledger's audited command with a preview of the effect."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from tokenmall.domain.errors import DomainError
from tokenmall.services.figures import current_params
from tokenmall.services.mall import accounts, operators, tenants
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web import limits
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, figures, forms, params_form, rendering, sessions
from tokenmall.web.pages.admin import dashboard_figures
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render
from tokenmall.web.pages.sessions import PLATFORM

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get(PLATFORM)
def platform_root() -> Response:
    return rendering.redirect(f"{PLATFORM}/")


@router.get(f"{PLATFORM}/login")
def login_page(request: Request) -> Response:
    return render(request, "platform/login.html", {})


@router.post(f"{PLATFORM}/login")
async def login_post(request: Request) -> Response:
    form = await forms.read_form(request)
    try:
        csrf.check_csrf(request, None, form)
        ttl = timedelta(hours=sessions.settings(request).session_hours)
        issued = await run_in_threadpool(
            lambda: accounts.operator_login(
                sessions.database(request),
                limits.throttle_of(request),
                forms.text_field(form, "email"),
                forms.text_field(form, "password"),
                client=limits.client_of(request),
                now=utc_now(),
                ttl=ttl,
            )
        )
    except DomainError as exc:
        state = FormState.of(form, exc)
        if getattr(exc, "field", None) is None:
            state.errors = {"password": str(exc)}
        return render(request, "platform/login.html", {"form": state}, status_code=status_of(exc))
    response = rendering.redirect(f"{PLATFORM}/")
    response.set_cookie(
        sessions.OPERATOR_COOKIE,
        issued.token,
        httponly=True,
        samesite="strict",
        secure=sessions.settings(request).cookie_secure,
        max_age=int(ttl.total_seconds()),
        path=PLATFORM,
    )
    return response


@router.post(f"{PLATFORM}/logout")
async def logout_post(request: Request) -> Response:
    caller = sessions.operator(request)
    form = await forms.read_form(request)
    if caller is not None:
        csrf.check_csrf(request, caller, form)
        with sessions.database(request).unit() as uow:
            operators.logout(uow, caller, utc_now())
    response = rendering.redirect(f"{PLATFORM}/login")
    response.delete_cookie(sessions.OPERATOR_COOKIE, path=PLATFORM)
    return response


def _tenants_context(conn: Connection, caller: Principal) -> dict[str, Any]:
    return {"tenants": tenants.list_all(MallUnitOfWork.joining(conn), caller, None, 200)}


@router.get(f"{PLATFORM}/")
def tenants_page(request: Request) -> Response:
    caller = sessions.need_operator(request)
    with sessions.database(request).read() as conn:
        context = _tenants_context(conn, caller)
    return render(
        request,
        "platform/tenants.html",
        {**context, "form": FormState({"preset": "seed"})},
        caller=caller,
    )


@router.post(f"{PLATFORM}/tenants")
async def tenant_create(request: Request) -> Response:
    caller = sessions.need_operator(request)
    form = await forms.read_form(request)

    def act(conn: Connection) -> str:
        new = tenants.NewTenant(
            tenant_id=forms.text_field(form, "tenant_id").strip(),
            name=forms.text_field(form, "name"),
            preset=forms.text_field(form, "preset"),
            params={},
            admin_email=forms.text_field(form, "admin_email"),
            admin_password=forms.text_field(form, "admin_password"),
            admin_display_name=forms.text_field(form, "admin_display_name"),
        )
        tenant, _ = tenants.create(MallUnitOfWork.joining(conn), caller, new, utc_now())
        return f"{PLATFORM}/tenants/{tenant.tenant_id}"

    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(request, form, tenant_id="", caller=caller, action=act)
    except DomainError as exc:
        state = FormState.of(form, exc)
        state.values.pop("admin_password", None)
        state.move_errors({"admin.email": "admin_email", "admin.password": "admin_password"})
        with sessions.database(request).read() as conn:
            context = _tenants_context(conn, caller)
        return render(
            request,
            "platform/tenants.html",
            {**context, "form": state},
            status_code=status_of(exc),
            caller=caller,
        )
    return rendering.redirect(location)


def _tenant_context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    uow = MallUnitOfWork.joining(conn)
    tenant = tenants.get_for_operator(uow, caller, tenant_id)
    history = tenants.params_history(uow, caller, tenant_id)
    params, version = current_params(conn, tenant_id)
    return {
        "tenant": tenant,
        "fields": params_form.FIELDS,
        "current": params_form.texts(params),
        "version": version,
        "levels": params.levels,
        "param_changes": history[-10:][::-1],
        **dashboard_figures(conn, tenant_id),
    }


@router.get(f"{PLATFORM}/tenants/{{tenant_id}}")
def tenant_page(request: Request, tenant_id: str) -> Response:
    caller = sessions.need_operator(request)
    with sessions.database(request).read() as conn:
        context = _tenant_context(conn, caller, tenant_id)
        context["preview"] = figures.preview(conn, tenant_id, None)
    changed = request.query_params.get("changed") == "1"
    return render(
        request,
        "platform/tenant.html",
        {**context, "form": FormState(dict(context["current"])), "changed": changed},
        caller=caller,
    )


@router.post(f"{PLATFORM}/tenants/{{tenant_id}}/params")
async def params_post(request: Request, tenant_id: str) -> Response:
    """``action=preview`` shows the effect and changes nothing; ``action=apply`` changes the
    parameters through the ledger's audited command (``services.mall.tenants``)."""
    caller = sessions.need_operator(request)
    form = await forms.read_form(request)
    state = FormState.of(form)
    preview_only = forms.text_field(form, "action") != "apply"
    try:
        csrf.check_csrf(request, caller, form)
        version = params_form.version_of(form)
        if preview_only:
            with sessions.database(request).read() as conn:
                tenants.get_for_operator(MallUnitOfWork.joining(conn), caller, tenant_id)
                preview = params_form.preview_of(conn, tenant_id, form)
        else:

            def act(conn: Connection) -> str:
                tenants.update_params(
                    MallUnitOfWork.joining(conn),
                    caller,
                    tenant_id,
                    params_form.to_apply(conn, tenant_id, form),
                    version,
                    forms.text_field(form, "form_key") or "page",
                )
                return f"{PLATFORM}/tenants/{tenant_id}?changed=1"

            return rendering.redirect(
                forms.submit(request, form, tenant_id="", caller=caller, action=act)
            )
    except DomainError as exc:
        state.fail(exc)
        params_form.form_level_errors(state)
        with sessions.database(request).read() as conn:
            context = _tenant_context(conn, caller, tenant_id)
            context["preview"] = figures.preview(conn, tenant_id, None)
        return render(
            request,
            "platform/tenant.html",
            {**context, "form": state},
            status_code=status_of(exc),
            caller=caller,
        )
    with sessions.database(request).read() as conn:
        context = _tenant_context(conn, caller, tenant_id)
    return render(
        request,
        "platform/tenant.html",
        {**context, "preview": preview, "form": state},
        caller=caller,
    )
