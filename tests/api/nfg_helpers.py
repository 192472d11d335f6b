"""Helpers of the NFG registry's API tests: images, collections, grants, the store's rows."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

from mall_api import Api, TenantFixture, ok
from PIL import Image
from sqlalchemy import func, select

from tokenmall.adapters.db.nfg.tables import nfg_collections, nfg_media, nfg_tokens
from tokenmall.adapters.db.store import Store


def png(width: int = 640, height: int = 480, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 400, height: int = 300) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), "blue")
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(api: Api, t: TenantFixture, data: bytes, name: str = "a.png", token: str = "") -> Any:
    return api.post(
        t.path("/nfg/media"),
        token or t.admin_token,
        files={"file": (name, data, "application/octet-stream")},
    )


def collection_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "2020 Reserve",
        "description": "A numbered bottle of the 2020 vintage",
        "edition_size": 10,
        "price": "99.00",
        "price_asset": "money",
        "per_user_limit": 2,
        **extra,
    }


def create(api: Api, t: TenantFixture, token: str = "", **extra: Any) -> dict[str, Any]:
    made: dict[str, Any] = ok(
        api.post(t.path("/nfg/collections"), token or t.admin_token, json=collection_body(**extra)),
        201,
    )
    return made


def published(api: Api, t: TenantFixture, **extra: Any) -> dict[str, Any]:
    made = create(api, t, **extra)
    cid = made["collection_id"]
    done: dict[str, Any] = ok(api.post(t.path(f"/nfg/collections/{cid}/publish"), t.admin_token))
    return done


def grant(api: Api, t: TenantFixture, cid: str, count: int = 1, **who: Any) -> list[Any]:
    body = {"count": count, **(who or {"user_id": t.consumer_id})}
    answer = ok(api.post(t.path(f"/nfg/collections/{cid}/mint"), t.admin_token, json=body), 201)
    return list(answer["tokens"])


def store_of(server: Any) -> Store:
    return Store(server.app.state.database.engine)


def counts(server: Any, tenant_id: str) -> tuple[int, int, int]:
    """(collections, media, tokens) of the tenant as stored."""
    with store_of(server).read() as conn:
        return tuple(  # type: ignore[return-value]
            int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
                ).scalar_one()
            )
            for table in (nfg_collections, nfg_media, nfg_tokens)
        )


def token_row(server: Any, tenant_id: str, cid: str, serial: int) -> tuple[str, str]:
    with store_of(server).read() as conn:
        row = conn.execute(
            select(nfg_tokens.c.owner_id, nfg_tokens.c.state).where(
                nfg_tokens.c.tenant_id == tenant_id,
                nfg_tokens.c.collection_id == cid,
                nfg_tokens.c.serial == serial,
            )
        ).one()
    return str(row.owner_id), str(row.state)


def error_of(answer: Any) -> tuple[int, str, str | None]:
    error = answer.json()["error"]
    return answer.status_code, str(error["code"]), error["field"]


def log_verify(db_url: str, tenant_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmall",
            "log",
            "verify",
            "--database",
            db_url,
            "--tenant",
            tenant_id,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
