"""A token's public certificate page (证书), no login: ``/{tenant}/c/{collection}/{serial}``.

The page shows the collection, serial ``#k/N``, issuer, rights in words, state, the masked
owner, the token's history from the transparency log, a QR code (SVG, inline) of the page's own
absolute URL (``public_base_url``), and how to verify it: the checkpoint, the proof bundle and
the offline verifier. ``?format=json`` answers the proof bundle (``&download=1`` as a file).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from tokenmall.domain.nfg.records import MAX_EDITION_SIZE
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.nfg import certificates
from tokenmall.web.pages import sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.rendering import STATIC, STATIC_PREFIX, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

VERIFIER = "tokenmall_verify.py"
VERIFIER_URL = f"{STATIC_PREFIX}/{VERIFIER}"
VERIFIER_ALIAS = f"/-/verify/{VERIFIER}"


def _config(request: Request) -> LogConfig:
    found: LogConfig = request.app.state.log_config
    return found


def certificate_path(tenant_id: str, collection_id: str, serial: int) -> str:
    return f"/{tenant_id}/c/{collection_id}/{serial}"


def certificate_url(request: Request, tenant_id: str, collection_id: str, serial: int) -> str:
    """The page's absolute URL, as printed on a label (the deployment's public address)."""
    base = sessions.settings(request).public_base_url.rstrip("/")
    return base + certificate_path(tenant_id, collection_id, serial)


def qr_svg(text: str) -> str:
    """An inline SVG QR code of ``text`` (no XML declaration, no styles)."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_inline(scale=4, border=2, dark="#111", light="#fff", omitsize=False))


def _serial(serial: str) -> int:
    if not serial.isdecimal() or not serial.isascii() or not 1 <= int(serial) <= MAX_EDITION_SIZE:
        raise NotFound(f"no serial {serial}")
    return int(serial)


def _discount(bps: int | None) -> str | None:
    if bps is None:
        return None
    rate = (Decimal(bps) / 100).normalize()
    return format(rate, "f")


def _bundle_name(tenant_id: str, collection_id: str, serial: int) -> str:
    return f"certificate-{tenant_id}-{collection_id}-{serial}.json"


@router.get(VERIFIER_ALIAS)
def verifier_file() -> Response:
    """The offline verifier (one file, Python's standard library only)."""
    return FileResponse(
        STATIC / VERIFIER,
        media_type="text/x-python",
        filename=VERIFIER,
        content_disposition_type="inline",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{tenant_id}/c/{collection_id}/{serial}")
def certificate_page(request: Request, tenant_id: str, collection_id: str, serial: str) -> Response:
    number = _serial(serial)
    config, db, now = _config(request), sessions.database(request), utc_now()
    if request.query_params.get("format") == "json":
        try:
            document = certificates.bundle(db, config, tenant_id, collection_id, number, now)
        except NotFound as error:
            return JSONResponse({"detail": str(error)}, status_code=404)
        headers = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
        if request.query_params.get("download"):
            name = _bundle_name(tenant_id, collection_id, number)
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        return Response(body, media_type="application/json", headers=headers)
    found = certificates.certificate(db, config, tenant_id, collection_id, number, now)
    url = certificate_url(request, tenant_id, collection_id, number)
    base = sessions.settings(request).public_base_url.rstrip("/")
    context: dict[str, Any] = {
        "cert": found,
        "tenant": {"tenant_id": tenant_id, "name": found.tenant_name},
        "may_buy_names": [found.skus[s].name for s in found.collection.rights.may_buy],
        "tenant_id": tenant_id,
        "collection": found.collection,
        "token": found.token,
        "rights": found.collection.rights,
        "discount_rate": _discount(found.collection.rights.discount_bps),
        "url": url,
        "qr_svg": qr_svg(url),
        "json_url": certificate_path(tenant_id, collection_id, number) + "?format=json",
        "download_url": certificate_path(tenant_id, collection_id, number)
        + "?format=json&download=1",
        "verifier_url": VERIFIER_ALIAS,
        "log_base": f"/api/v1/tenants/{tenant_id}/log",
        "log_url": f"{base}/api/v1/tenants/{tenant_id}/log",
        "bundle_name": _bundle_name(tenant_id, collection_id, number),
    }
    return render(request, "nfg/certificate.html", context)
