"""Collection media: an uploaded image, checked and re-encoded with Pillow, and its thumbnail.

Only PNG, JPEG and WebP are taken, at most ``MAX_BYTES`` and ``MAX_PIXELS``; the image is
decoded whole (a truncated or forged file is refused), re-encoded in its own format without
its metadata (EXIF, comments), and a thumbnail at most ``THUMBNAIL`` pixels on its longer side
is made. Anything refused names the ``file`` field and stores nothing.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError

from tokenmall.adapters.db.nfg.registry import Media
from tokenmall.services.mall import ids
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg.registry import ISSUERS

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 10_000
THUMBNAIL = 320
FIELD = "file"
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Encoded:
    content_type: str
    width: int
    height: int
    data: bytes
    thumbnail: bytes


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, FIELD)


def _save(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90, optimize=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=90)
    return out.getvalue()


def encode(data: bytes) -> Encoded:
    """The image re-encoded and its thumbnail; ``InvalidInput`` naming ``file`` if refused."""
    if not data:
        raise _refuse("file is empty: choose a PNG, JPEG or WebP image")
    if len(data) > MAX_BYTES:
        raise _refuse(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB ({len(data)} bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if kind not in CONTENT_TYPES:
                    raise _refuse(f"file must be a PNG, JPEG or WebP image, not {kind or 'this'}")
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise _refuse(f"file is {width}x{height} pixels: at most {MAX_SIDE} a side")
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = opened.copy()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("file is not an image: choose a PNG, JPEG or WebP image") from None
    except (OSError, ValueError, SyntaxError):
        raise _refuse("file is not a readable image (damaged or truncated)") from None
    clean = image.copy()
    clean.info = {}  # no EXIF, comments or other metadata of the upload
    thumb = clean.copy()
    thumb.thumbnail((THUMBNAIL, THUMBNAIL))
    return Encoded(CONTENT_TYPES[kind], width, height, _save(clean, kind), _save(thumb, kind))


def upload(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, data: bytes, now: datetime
) -> Media:
    require(caller, tenant_id, ISSUERS)
    encoded = encode(data)
    media = Media(
        tenant_id=tenant_id,
        media_id=ids.new_id("med"),
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        sha256=hashlib.sha256(encoded.data).hexdigest(),
        data=encoded.data,
        thumbnail=encoded.thumbnail,
        created_at=now,
    )
    unit.nfg.add_media(media)
    return media


def get(unit: MallUnitOfWork, tenant_id: str, media_id: str) -> Media:
    """Public: media are shown on public pages and metadata."""
    found = unit.nfg.get_media(tenant_id, media_id) if len(media_id) <= 40 else None
    if found is None:
        raise NotFound(f"no media {media_id!r}", "media_id")
    return found


__all__ = ["MAX_BYTES", "THUMBNAIL", "Encoded", "Media", "encode", "get", "upload"]
