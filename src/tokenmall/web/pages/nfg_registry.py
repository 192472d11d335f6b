"""The NFG registry's pages: the console's collections (list, create, image upload, publish,
close, grant) and the consumer's "my collection" (我的藏品) linking each token's certificate.

Forms are plain POSTs answered by 303 (CSRF, a form key replayed through the idempotency store,
one transaction); a refused form re-renders with the message next to its field and nothing
changed. They call the same use cases as the API (``services/nfg``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData, UploadFile

from tokenmall.domain.errors import DomainError
from tokenmall.domain.nfg.metadata import display_serial
from tokenmall.domain.nfg.records import CollectionStatus, PriceAsset
from tokenmall.services import images
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import media, registry, tokens
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.admin import _staff
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render
from tokenmall.web.pages.shop import consumer_page, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STAFF = ("admin", "merchant")
TEMPLATE = "nfg/admin_collections.html"
# The service's field names → the form's.
FORM_FIELDS = {
    "rights.may_buy": "may_buy",
    "rights.discount_bps": "discount_bps",
    "rights.voucher": "voucher",
    "rights.entry": "entry",
    "rights": "may_buy",
    "user_id": "email",
}


def _config(request: Request) -> LogConfig:
    found: LogConfig = request.app.state.log_config
    return found


def _context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    unit = MallUnitOfWork.joining(conn)
    found = registry.listing(unit, caller, tenant_id, after=None, limit=200)
    return {
        "collections": [
            {"c": c, "price": registry.price_text(c), "rights": c.rights.to_json()} for c in found
        ],
        "assets": [a.value for a in PriceAsset],
        "published": CollectionStatus.PUBLISHED.value,
        "draft": CollectionStatus.DRAFT.value,
    }


def _collections_page(
    request: Request,
    tenant_id: str,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    with sessions.database(request).read() as conn:
        context = _context(conn, caller, tenant_id)
    done = request.query_params.get("done")
    context["done"] = done if done in ("created", "published", "closed", "granted") else None
    uploaded = request.query_params.get("media") or ""
    context["uploaded"] = uploaded if uploaded.isascii() and len(uploaded) <= 40 else ""
    if form is not None:
        form.move_errors(FORM_FIELDS)
        context["form"] = form
    return render(request, TEMPLATE, {"tenant": tenant, **context}, status_code=code, caller=caller)


@router.get("/{tenant_id}/admin/nfg/collections")
def collections_page(request: Request, tenant_id: str) -> Response:
    return _collections_page(request, tenant_id)


async def _post(
    request: Request, tenant_id: str, action: Any, form: FormData | None = None
) -> Response:
    _, caller = _staff(request, tenant_id, STAFF)
    if form is None:
        form = await forms.read_form(request)
    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=caller,
            action=lambda conn: action(MallUnitOfWork.joining(conn), caller, form),
        )
    except DomainError as exc:
        return _collections_page(request, tenant_id, FormState.of(form, exc), status_of(exc))
    return rendering.redirect(location)


def _whole(form: FormData, name: str, default: int | None = None) -> int:
    text = forms.text_field(form, name).strip()
    if not text and default is not None:
        return default
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        raise InvalidInput(f"{name} must be a whole number", name)
    return int(text)


def _rights(form: FormData) -> dict[str, object]:
    out: dict[str, object] = {}
    may_buy = [s.strip() for s in forms.text_field(form, "may_buy").split(",") if s.strip()]
    if may_buy:
        out["may_buy"] = may_buy
    if forms.text_field(form, "discount_bps").strip():
        out["discount_bps"] = _whole(form, "discount_bps")
    for name in ("voucher", "entry"):
        value = forms.text_field(form, name).strip()
        if value:
            out[name] = value
    return out


@router.post("/{tenant_id}/admin/nfg/collections")
async def collection_create(request: Request, tenant_id: str) -> Response:
    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        given = registry.NewCollection(
            name=forms.text_field(form, "name"),
            description=forms.text_field(form, "description"),
            edition_size=_whole(form, "edition_size"),
            price=forms.text_field(form, "price").strip() or "0",
            price_asset=forms.text_field(form, "price_asset") or "money",
            per_user_limit=_whole(form, "per_user_limit", 1),
            linked_sku_id=forms.text_field(form, "linked_sku_id").strip() or None,
            rights=_rights(form),
            media_id=forms.text_field(form, "media_id").strip() or None,
        )
        made = registry.create(
            unit, caller, tenant_id, given, config=_config(request), now=utc_now()
        )
        return f"/{tenant_id}/admin/nfg/collections?done=created#{made.collection_id}"

    return await _post(request, tenant_id, act)


def _status_action(action: str, done: str) -> Any:
    async def post(request: Request, tenant_id: str, collection_id: str) -> Response:
        def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
            registry.set_status(unit, caller, tenant_id, collection_id, action)
            return f"/{tenant_id}/admin/nfg/collections?done={done}"

        return await _post(request, tenant_id, act)

    post.__name__ = f"collection_{action}"
    router.post(f"/{{tenant_id}}/admin/nfg/collections/{{collection_id}}/{action}")(post)
    return post


_status_action("publish", "published")
_status_action("close", "closed")


@router.post("/{tenant_id}/admin/nfg/collections/{collection_id}/mint")
async def collection_grant(request: Request, tenant_id: str, collection_id: str) -> Response:
    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        tokens.grant(
            unit,
            caller,
            tenant_id,
            collection_id,
            user_id=None,
            email=forms.text_field(form, "email"),
            count=_whole(form, "count", 1),
            config=_config(request),
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/nfg/collections?done=granted"

    return await _post(request, tenant_id, act)


@router.post("/{tenant_id}/admin/nfg/media")
async def media_upload(request: Request, tenant_id: str) -> Response:
    _staff(request, tenant_id, STAFF)
    form = await request.form(max_files=1, max_fields=10)
    file = form.get("file")
    data = await file.read(images.MAX_BYTES + 1) if isinstance(file, UploadFile) else b""

    def act(unit: MallUnitOfWork, caller: Principal, _: FormData) -> str:
        stored = media.upload(unit, caller, tenant_id, data, utc_now())
        return f"/{tenant_id}/admin/nfg/collections?media={stored.media_id}#new"

    return await _post(request, tenant_id, act, form)


@router.get("/{tenant_id}/nfg/mine")
def my_collection(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    with sessions.database(request).reading() as unit:
        found = tokens.mine(unit, caller, tenant_id)
    rows = [
        {
            "collection": c,
            "token": t,
            "display": display_serial(t.serial, c.edition_size),
            "certificate": f"/{tenant_id}/c/{t.collection_id}/{t.serial}",
            "image": None
            if c.media_id is None
            else f"/api/v1/tenants/{tenant_id}/nfg/media/{c.media_id}/thumbnail",
        }
        for c, t in found
    ]
    return page(request, "nfg/mine.html", tenant, caller, {"rows": rows})
