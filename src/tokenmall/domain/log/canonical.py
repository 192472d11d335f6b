"""Canonical JSON (RFC 8785, JCS) of the values a log leaf holds.

A leaf holds objects, arrays, strings, integers, booleans and null; floats are refused (money
is an integer of minor units or a decimal string), and so are integers beyond 2**53 - 1, which
JCS would print as a rounded double. Object members are sorted by their keys' UTF-16 code
units; strings escape only what JSON must (``"``, ``\\``, control characters: the short forms
``\\b \\t \\n \\f \\r``, else ``\\u00xx``); no whitespace; UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_SAFE_INTEGER = 2**53 - 1

_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


class NotCanonical(ValueError):
    """A value JCS cannot carry exactly (a float, a huge integer, a key that is not text)."""


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        short = _SHORT.get(ch)
        if short is not None:
            out.append(short)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def _write(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonical(f"integer {value} is beyond 2**53 - 1: carry it as a string")
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise NotCanonical(f"object key {key!r} is not text")
        for n, key in enumerate(sorted(keys, key=_utf16_key)):
            if n:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise NotCanonical(f"{type(value).__name__} has no canonical JSON form")


def dumps(value: object) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def encode(value: object) -> bytes:
    """The canonical JSON bytes (UTF-8) of ``value``."""
    return dumps(value).encode("utf-8")
