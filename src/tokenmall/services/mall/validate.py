"""Checks of outside values that the use cases share; each names the field at fault."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import parse_money
from tokenmall.services.mall.errors import InvalidInput

TENANT_ID = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
# A paging cursor: the id of the last item of the page before (``prefix_`` and base32).
CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# A tenant's pages live at /<tenant_id>/, beside the server's own top-level paths: an id that
# names one of those (or one kept for later) would shadow it or be shadowed.
RESERVED_TENANT_IDS = frozenset(
    {
        "admin",
        "api",
        "assets",
        "docs",
        "favicon",
        "health",
        "healthz",
        "login",
        "logout",
        "metrics",
        "openapi",
        "platform",
        "readyz",
        "redoc",
        "register",
        "robots",
        "sandbox",
        "static",
        "status",
        "well-known",
        "www",
    }
)
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Prices and contributions above this are refused as typos (10 billion yuan; fits BIGINT).
MAX_PRICE_FEN = 10**12
MAX_STOCK = 10**9


# C0 controls (NUL included) but tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(value: str) -> bool:
    """True when ``value`` holds a control character other than tab and line breaks."""
    return _CONTROL.search(value) is not None


def control_field(value: object, path: str = "") -> str | None:
    """The dotted path of the first text in a JSON-like value (keys included) that holds a
    control character, or None when there is none."""
    if isinstance(value, str):
        return path or "body" if has_control(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and has_control(key):
                return path or "body"
            found = control_field(item, name)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = control_field(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def no_control(items: Iterable[tuple[str, str]]) -> None:
    """Refuse the first named text (a form field, a query parameter) with a control
    character: 422 naming it."""
    for name, value in items:
        if has_control(name) or has_control(value):
            raise InvalidInput(f"{name} must not contain control characters", name)


def refuse_control(value: object) -> None:
    """Refuse a JSON body holding a control character in any text: 422 naming the field."""
    where = control_field(value)
    if where is not None:
        raise InvalidInput(f"{where} must not contain control characters", where)


def tenant_id(value: str, field: str = "tenant_id") -> str:
    if not TENANT_ID.match(value):
        raise InvalidInput(
            "tenant_id must be 3-32 characters of a-z, 0-9 and '-', starting with a letter",
            field,
        )
    if value in RESERVED_TENANT_IDS:
        raise InvalidInput(
            f"tenant_id {value!r} is reserved: /{value} is one of the server's own paths; "
            "choose another",
            field,
        )
    return value


def email(value: str, field: str = "email") -> str:
    if has_control(value):
        raise InvalidInput(f"{field} must not contain control characters", field)
    cleaned = value.strip().lower()
    if len(cleaned) > 254 or not EMAIL.match(cleaned):
        raise InvalidInput(f"not an email address: {value!r}", field)
    return cleaned


def text(value: str, field: str, *, max_length: int, allow_empty: bool = False) -> str:
    cleaned = value.strip()
    if not cleaned and not allow_empty:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field)
    if has_control(cleaned) or "\r" in cleaned:
        raise InvalidInput(f"{field} must not contain control characters", field)
    return cleaned


def money(value: object, field: str, *, allow_zero: bool = False) -> int:
    """A decimal string of money to fen, through the one parser (domain/money.py)."""
    try:
        fen = parse_money(value, field, allow_zero=allow_zero)
    except DomainError as exc:
        raise InvalidInput(str(exc), field) from None
    if fen > MAX_PRICE_FEN:
        raise InvalidInput(f"{field} must be at most 10000000000.00", field)
    return fen


def quantity(value: int, field: str, *, allow_zero: bool = False, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number", field)
    if not signed and value < 0:
        raise InvalidInput(f"{field} must not be negative", field)
    if value == 0 and not allow_zero:
        raise InvalidInput(f"{field} must not be zero", field)
    if abs(value) > MAX_STOCK:
        raise InvalidInput(f"{field} must be at most {MAX_STOCK} in size", field)
    return value


def page(
    after: str | None, limit: int, *, max_limit: int = 200, field: str = "after"
) -> str | None:
    """A page's cursor and size, as the lists take them (``after`` an id, ``limit`` 1..max):
    the cursor (None: the first page), else a 422 naming ``field`` or ``limit``."""
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be from 1 to {max_limit}", "limit")
    if after is None or after == "":
        return None
    if not CURSOR.match(after):
        raise InvalidInput(f"{field} must be the id of the last item of a page", field)
    return after
