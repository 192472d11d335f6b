"""Collection media: what the upload check takes, refuses and re-encodes (Pillow)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tokenmall.services import images as media
from tokenmall.services.mall.errors import InvalidInput


def _image(kind: str, size: tuple[int, int] = (800, 600), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "green").save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_png_jpeg_and_webp_are_re_encoded_with_a_thumbnail(kind: str, content_type: str) -> None:
    encoded = media.encode(_image(kind))
    assert encoded.content_type == content_type
    assert (encoded.width, encoded.height) == (800, 600)
    with Image.open(io.BytesIO(encoded.data)) as image:
        assert image.format == kind
        assert image.size == (800, 600)
    with Image.open(io.BytesIO(encoded.thumbnail)) as thumb:
        assert thumb.format == kind
        assert thumb.size == (media.THUMBNAIL, 240)


def test_a_small_image_keeps_its_size_as_thumbnail() -> None:
    encoded = media.encode(_image("PNG", (100, 50), "RGBA"))
    with Image.open(io.BytesIO(encoded.thumbnail)) as thumb:
        assert thumb.size == (100, 50)


def test_exif_is_dropped() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    Image.new("RGB", (64, 64)).save(out, "JPEG", exif=exif.tobytes())
    assert b"SecretCamera" in out.getvalue()
    assert b"SecretCamera" not in media.encode(out.getvalue()).data


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
        (_gif(), "PNG, JPEG or WebP"),
        (b"\0" * (media.MAX_BYTES + 1), "larger than 5 MiB"),
    ],
)
def test_anything_else_is_refused_naming_the_file(data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as refused:
        media.encode(data)
    assert refused.value.field == "file"


def test_a_truncated_image_is_refused() -> None:
    whole = _image("PNG", (300, 300))
    with pytest.raises(InvalidInput) as refused:
        media.encode(whole[: len(whole) // 2])
    assert refused.value.field == "file"
