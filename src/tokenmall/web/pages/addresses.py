"""The consumer's address book (收货地址) under their account: list, add, edit, delete, choose
the default — the API's ``/me/addresses`` as forms, through ``services/mall/addresses.py``.

The checkout page links here with ``?back=checkout``: a new address made from there goes back
to the checkout with it chosen. Forms are plain POSTs answered by 303 (CSRF, a form key replayed
through the idempotency store, one transaction); a refused form re-renders with the message
next to its field and nothing changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services.mall import addresses
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.pages import forms, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.shop import consumer_page, page, post_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FIELDS = ("recipient", "phone", "region", "detail", "postal_code")


def _back(value: str | None) -> str | None:
    """Where a new address returns to: only the checkout (never an arbitrary URL)."""
    return "checkout" if value == "checkout" else None


def _owner_page(request: Request, tenant_id: str) -> tuple[Tenant, Principal]:
    tenant, caller = consumer_page(request, tenant_id)
    require(caller, tenant_id, addresses.OWNERS)
    return tenant, caller


def _values(form: FormData) -> addresses.AddressFields:
    return addresses.checked(
        recipient=forms.text_field(form, "recipient"),
        phone_number=forms.text_field(form, "phone"),
        region=forms.text_field(form, "region"),
        detail=forms.text_field(form, "detail"),
        postal=forms.text_field(form, "postal_code"),
    )


def _book_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        book = addresses.list_addresses(uow, caller, tenant.tenant_id)
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "addresses": book,
        "limit": addresses.MAX_ADDRESSES,
        "back": _back(request.query_params.get("back") or (form.get("back") if form else None)),
        "done": done if done in ("saved", "deleted", "default") else None,
    }
    if form is not None:
        context["form"] = form
    return page(request, "account/addresses.html", tenant, caller, context, code)


@router.get("/{tenant_id}/addresses")
def addresses_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _owner_page(request, tenant_id)
    return _book_page(request, tenant, caller)


@router.post("/{tenant_id}/addresses")
async def address_create(request: Request, tenant_id: str) -> Response:
    tenant, caller = _owner_page(request, tenant_id)
    form = await forms.read_form(request)
    back = _back(forms.text_field(form, "back"))

    def act(conn: Any) -> str:
        made = addresses.create(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            _values(form),
            make_default=forms.text_field(form, "is_default") == "1",
            now=utc_now(),
        )
        if back == "checkout":
            return f"/{tenant_id}/checkout?address={made.address_id}"
        return f"/{tenant_id}/addresses?done=saved"

    def refused(state: FormState, code: int) -> Response:
        return _book_page(request, tenant, caller, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)


def _edit_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    address_id: str,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        found = addresses.get_address(uow, caller, tenant.tenant_id, address_id)
    state = form or FormState(
        {
            "recipient": found.recipient,
            "phone": found.phone,
            "region": found.region,
            "detail": found.detail,
            "postal_code": found.postal_code or "",
        }
    )
    return page(
        request,
        "account/address_edit.html",
        tenant,
        caller,
        {"address": found, "form": state},
        code,
    )


@router.get("/{tenant_id}/addresses/{address_id}/edit")
def address_edit_page(request: Request, tenant_id: str, address_id: str) -> Response:
    tenant, caller = _owner_page(request, tenant_id)
    return _edit_page(request, tenant, caller, address_id)


@router.post("/{tenant_id}/addresses/{address_id}/edit")
async def address_edit(request: Request, tenant_id: str, address_id: str) -> Response:
    tenant, caller = _owner_page(request, tenant_id)
    form = await forms.read_form(request)

    def act(conn: Any) -> str:
        uow = MallUnitOfWork.joining(conn)
        addresses.replace(uow, caller, tenant_id, address_id, _values(form), utc_now())
        return f"/{tenant_id}/addresses?done=saved"

    def refused(state: FormState, code: int) -> Response:
        if code == 404:  # not theirs (or gone): the address book says so
            return _book_page(request, tenant, caller, state, code)
        return _edit_page(request, tenant, caller, address_id, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)


async def _book_post(request: Request, tenant_id: str, address_id: str, change: str) -> Response:
    """Delete an address or make it the default, then the address book again."""
    tenant, caller = _owner_page(request, tenant_id)
    form = await forms.read_form(request)

    def act(conn: Any) -> str:
        uow = MallUnitOfWork.joining(conn)
        if change == "delete":
            addresses.delete(uow, caller, tenant_id, address_id, utc_now())
            return f"/{tenant_id}/addresses?done=deleted"
        addresses.set_default(uow, caller, tenant_id, address_id, utc_now())
        return f"/{tenant_id}/addresses?done=default"

    def refused(state: FormState, code: int) -> Response:
        state.values["row"] = address_id
        state.move_errors({"address_id": "_form"})
        return _book_page(request, tenant, caller, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)


@router.post("/{tenant_id}/addresses/{address_id}/delete")
async def address_delete(request: Request, tenant_id: str, address_id: str) -> Response:
    return await _book_post(request, tenant_id, address_id, "delete")


@router.post("/{tenant_id}/addresses/{address_id}/default")
async def address_default(request: Request, tenant_id: str, address_id: str) -> Response:
    return await _book_post(request, tenant_id, address_id, "default")
