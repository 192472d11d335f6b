"""Many leaves checked at once: which are the canonical JSON of an object, and that object.

``objects`` answers, for each leaf, the object it holds when a fast test proves that the leaf
is exactly ``canonical.encode`` of it, and ``None`` otherwise (the leaf may or may not be
canonical: check it alone). The leaves are read a chunk at a time as one JSON array (one call
of the standard library's C scanner), then each chunk is proved in one of two ways:

* **flat**: every leaf of the chunk is one object of strings, integers, booleans and nulls
  with no backslash and no whitespace anywhere. Then a few passes over the chunk's bytes prove
  it: deleting every byte but ``\\ \\t \\n \\r { } [ ]`` leaves ``[{}{}…{}]`` (one ``{`` and one
  ``}`` a leaf, each leaf starting with its ``{`` and ending with its ``}``, so the i-th
  object read is the i-th leaf's); a string holds no ``"`` (there is no backslash), so every
  ``":`` ends a key and their count equals the keys read (no key twice); no ``:-0`` (the only
  non-canonical integer JSON allows); each object's keys in UTF-16 order. An object so written
  is its canonical JSON;
* **written again**: each object written again by the C encoder (``canonical._FAST``'s
  settings) equals its leaf byte for byte, and its keys are ASCII (``canonical.encode`` would
  write it the same way).

Either way a fraction, ``NaN``/``Infinity`` or an integer beyond 2**53 - 1 sends the chunk to
the leaf-by-leaf check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import pairwise
from operator import itemgetter
from typing import Any

from tokenmall.domain.log import canonical

CHUNK = 1_000

Found = dict[str, Any] | None


class _Unsure(ValueError):
    """A number the fast reading leaves to the leaf-by-leaf check."""


def _unsure(text: str) -> object:
    raise _Unsure(text)


def _safe_int(text: str) -> int:
    value = int(text)
    if not -canonical.MAX_SAFE_INTEGER <= value <= canonical.MAX_SAFE_INTEGER:
        raise _Unsure(text)
    return value


def _scanner(check_ints: bool) -> Callable[[str, int], tuple[Any, int]]:
    decoder = json.JSONDecoder(
        parse_float=_unsure, parse_constant=_unsure, parse_int=_safe_int if check_ints else None
    )
    # the C scanner the decoder made (an attribute the type stubs do not declare)
    scan: Callable[[str, int], tuple[Any, int]] = getattr(decoder, "scan_once")  # noqa: B009
    return scan


_SCAN = _scanner(check_ints=False)
_SCAN_INTS = _scanner(check_ints=True)
# Every digit read as "0": a run of 16 of them may be an integer beyond 2**53 - 1.
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
_LONG_RUN = b"0" * 16
# Every byte but these is deleted to see a chunk's shape.
_ORDINARY = bytes(b for b in range(256) if b not in b"\\ \t\n\r{}[]")
_FIRST = itemgetter(0)
_LAST = itemgetter(-1)


def _encoder() -> Callable[[object], str]:
    """The C encoder with ``canonical._FAST``'s settings, made once (``JSONEncoder.encode``
    makes it again for every value)."""
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover - CPython has it
        return canonical._FAST
    encoder = make_encoder(
        None, _unsure, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )

    def encode_(value: object) -> str:
        return "".join(encoder(value, 0))

    return encode_


_ENCODE = _encoder()


def _in_order(keys: tuple[str, ...]) -> bool:
    """Strictly increasing in UTF-16 code units (JCS's order, no key twice)."""
    return all(canonical._utf16_key(a) < canonical._utf16_key(b) for a, b in pairwise(keys))


def _flat(
    leaves: Sequence[bytes], joined: bytes, values: list[Any], orders: dict[tuple[str, ...], bool]
) -> bool:
    """Whether the chunk passes the flat proof (see the module's text)."""
    if joined.translate(None, _ORDINARY) != b"[" + b"{}" * len(leaves) + b"]":
        return False
    if b":-0" in joined or joined.count(b'":') != sum(map(len, values)):
        return False
    if bytes(map(_FIRST, leaves)) != b"{" * len(leaves):
        return False
    if bytes(map(_LAST, leaves)) != b"}" * len(leaves):
        return False
    if set(map(type, values)) != {dict}:
        return False
    for keys in set(map(tuple, values)):
        known = orders.get(keys)
        if known is None:
            known = orders[keys] = _in_order(keys)
        if not known:
            return False
    return True


def _written_again(leaves: Sequence[bytes], values: list[Any]) -> list[Found]:
    encode_ = _ENCODE
    return [
        value
        if type(value) is dict
        and encode_(value).encode() == leaf
        and (leaf.isascii() or canonical._plain(value))
        else None
        for value, leaf in zip(values, leaves, strict=True)
    ]


def _chunk(leaves: Sequence[bytes], orders: dict[tuple[str, ...], bool]) -> list[Found]:
    joined = b"[" + b",".join(leaves) + b"]"
    scan = _SCAN_INTS if _LONG_RUN in joined.translate(_DIGITS) else _SCAN
    try:
        text = joined.decode("utf-8")
        values, end = scan(text, 0)
    except (ValueError, StopIteration, RecursionError):
        return [None] * len(leaves)
    if end != len(text) or type(values) is not list or len(values) != len(leaves):
        return [None] * len(leaves)
    if _flat(leaves, joined, values, orders):
        return values
    return _written_again(leaves, values)


def objects(leaves: Sequence[bytes]) -> list[Found]:
    """Each leaf's object where the fast test proves the leaf canonical, else ``None``."""
    orders: dict[tuple[str, ...], bool] = {}
    found: list[Found] = []
    for start in range(0, len(leaves), CHUNK):
        found.extend(_chunk(leaves[start : start + CHUNK], orders))
    return found
