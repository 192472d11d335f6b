"""The console's storefront (店铺装修): product images and each product's category on the
products page, and a page of the mall's categories and home-page banners.

Forms are plain POSTs answered by 303 (CSRF, a form key replayed through the idempotency
store, one transaction); a refused form shows its page again with the message next to its
field and nothing stored. They call the same use cases as the API (``services/store``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData, UploadFile

from tokenmall.domain.errors import DomainError
from tokenmall.services import images as encoding
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.store import banners, categories, images
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.admin import StaffAction, StaffContext, _products_context, _staff
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

SELLERS = ("admin", "merchant")
ADMINS = ("admin",)
STOREFRONT = "admin/storefront.html"


def _storefront_context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    unit = MallUnitOfWork.joining(conn)
    return {
        "categories": categories.listing(unit, tenant_id),
        "banners": [
            {"banner": b, "image": images.url(tenant_id, b.image_id, thumbnail=True)}
            for b in banners.listing(unit, tenant_id)
        ],
    }


@router.get("/{tenant_id}/admin/storefront")
def storefront_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ADMINS)
    with sessions.database(request).read() as conn:
        context = _storefront_context(conn, caller, tenant_id)
    done = request.query_params.get("done")
    context["done"] = done if done in ("category", "renamed", "banner", "deleted") else None
    return render(request, STOREFRONT, {"tenant": tenant, **context}, caller=caller)


async def _upload_form(request: Request) -> tuple[FormData, bytes]:
    """A multipart form with one ``file`` (its bytes read up to one past the limit)."""
    form = await request.form(max_files=1, max_fields=10)
    file = form.get("file")
    data = await file.read(encoding.MAX_BYTES + 1) if isinstance(file, UploadFile) else b""
    return form, data


async def _post(
    request: Request,
    tenant_id: str,
    roles: tuple[str, ...],
    template: str,
    context_of: StaffContext,
    action: StaffAction,
    form: FormData | None = None,
) -> Response:
    tenant, caller = _staff(request, tenant_id, roles)
    if form is None:
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


# --- on the products page ---


@router.post("/{tenant_id}/admin/products/{product_id}/images")
async def product_image_upload(request: Request, tenant_id: str, product_id: str) -> Response:
    _staff(request, tenant_id, SELLERS)
    form, data = await _upload_form(request)

    def act(conn: Connection, caller: Principal, _: FormData) -> str:
        unit = MallUnitOfWork.joining(conn)
        images.upload(unit, caller, tenant_id, product_id, data, utc_now())
        return f"/{tenant_id}/admin/products#media-{product_id}"

    return await _post(
        request, tenant_id, SELLERS, "admin/products.html", _products_context, act, form
    )


@router.post("/{tenant_id}/admin/images/{image_id}/delete")
async def product_image_delete(request: Request, tenant_id: str, image_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        images.delete(MallUnitOfWork.joining(conn), caller, tenant_id, image_id)
        return f"/{tenant_id}/admin/products#media-{forms.text_field(form, 'row')}"

    return await _post(request, tenant_id, SELLERS, "admin/products.html", _products_context, act)


@router.post("/{tenant_id}/admin/products/{product_id}/category")
async def product_category(request: Request, tenant_id: str, product_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        chosen = forms.text_field(form, "category_id").strip() or None
        categories.assign(MallUnitOfWork.joining(conn), caller, tenant_id, product_id, chosen)
        return f"/{tenant_id}/admin/products#media-{product_id}"

    return await _post(request, tenant_id, SELLERS, "admin/products.html", _products_context, act)


# --- categories and banners ---


@router.post("/{tenant_id}/admin/categories")
async def category_create(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        unit = MallUnitOfWork.joining(conn)
        categories.create(unit, caller, tenant_id, forms.text_field(form, "name"), utc_now())
        return f"/{tenant_id}/admin/storefront?done=category"

    return await _post(request, tenant_id, ADMINS, STOREFRONT, _storefront_context, act)


@router.post("/{tenant_id}/admin/categories/{category_id}")
async def category_rename(request: Request, tenant_id: str, category_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        unit = MallUnitOfWork.joining(conn)
        categories.rename(unit, caller, tenant_id, category_id, forms.text_field(form, "name"))
        return f"/{tenant_id}/admin/storefront?done=renamed"

    return await _post(request, tenant_id, ADMINS, STOREFRONT, _storefront_context, act)


@router.post("/{tenant_id}/admin/banners")
async def banner_create(request: Request, tenant_id: str) -> Response:
    _staff(request, tenant_id, ADMINS)
    form, data = await _upload_form(request)

    def act(conn: Connection, caller: Principal, given: FormData) -> str:
        banners.create(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            title=forms.text_field(given, "title"),
            link=forms.text_field(given, "link"),
            data=data,
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/storefront?done=banner"

    return await _post(request, tenant_id, ADMINS, STOREFRONT, _storefront_context, act, form)


@router.post("/{tenant_id}/admin/banners/{banner_id}/delete")
async def banner_delete(request: Request, tenant_id: str, banner_id: str) -> Response:
    def act(conn: Connection, caller: Principal, _: FormData) -> str:
        banners.delete(MallUnitOfWork.joining(conn), caller, tenant_id, banner_id)
        return f"/{tenant_id}/admin/storefront?done=deleted"

    return await _post(request, tenant_id, ADMINS, STOREFRONT, _storefront_context, act)


__all__ = ["router"]
