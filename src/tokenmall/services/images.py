"""Uploaded images, shared by every part that takes one (collection media, product images,
banners): checked and re-encoded with Pillow, and a thumbnail made.

Only PNG, JPEG and WebP are taken, at most ``MAX_BYTES`` and ``MAX_PIXELS``; the image is
decoded whole (a truncated or forged file is refused), re-encoded in its own format without
its metadata (EXIF, comments), and a thumbnail at most ``THUMBNAIL`` pixels on its longer side
is made. Anything refused names the ``file`` field (or the field the caller names).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from tokenmall.services.mall.errors import InvalidInput

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


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput(message.replace("file ", f"{field} ", 1), field)


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


def encode(data: bytes, field: str = FIELD) -> Encoded:
    """The image re-encoded and its thumbnail; ``InvalidInput`` naming ``field`` if refused."""
    if not data:
        raise _refuse("file is empty: choose a PNG, JPEG or WebP image", field)
    if len(data) > MAX_BYTES:
        raise _refuse(
            f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB ({len(data)} bytes)", field
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if kind not in CONTENT_TYPES:
                    raise _refuse(
                        f"file must be a PNG, JPEG or WebP image, not {kind or 'this'}", field
                    )
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise _refuse(
                        f"file is {width}x{height} pixels: at most {MAX_SIDE} a side", field
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = opened.copy()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("file is not an image: choose a PNG, JPEG or WebP image", field) from None
    except (OSError, ValueError, SyntaxError):
        raise _refuse("file is not a readable image (damaged or truncated)", field) from None
    clean = image.copy()
    clean.info = {}  # no EXIF, comments or other metadata of the upload
    thumb = clean.copy()
    thumb.thumbnail((THUMBNAIL, THUMBNAIL))
    return Encoded(CONTENT_TYPES[kind], width, height, _save(clean, kind), _save(thumb, kind))


__all__ = ["CONTENT_TYPES", "FIELD", "MAX_BYTES", "THUMBNAIL", "Encoded", "encode"]
