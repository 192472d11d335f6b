"""Commands: one frozen dataclass per business event a tenant's ledger accepts.

Every command names its tenant and carries the client's idempotency key; amounts are integers
of minor units (fen, 1e-8 point units) parsed at the edge. ``fingerprint()`` is a canonical
hash of the request without its key: the same key with the same fingerprint is a replay, the
same key with another fingerprint is a conflict. Construction checks only shapes (names are
non-empty strings, amounts are ints); the rules are checked by the engine when applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from tokenmall.domain.errors import DomainError, InvalidAmount

MAX_KEY = 200
MAX_NAME = 100
_REQUEST_FIELDS: dict[type, tuple[str, ...]] = {}  # a command class's fields but its key


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise DomainError(f"{what} must be a non-empty name of at most {MAX_NAME} characters")


def _check_int(what: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{what} must be a whole number of minor units, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    tenant_id: str
    idempotency_key: str

    def __post_init__(self) -> None:
        _check_name("tenant_id", self.tenant_id)
        key = self.idempotency_key
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise DomainError(f"idempotency_key must be 1 to {MAX_KEY} characters")

    def request(self) -> dict[str, Any]:
        """The request without its idempotency key, JSON-safe."""
        cls = type(self)
        names = _REQUEST_FIELDS.get(cls)
        if names is None:
            names = _REQUEST_FIELDS[cls] = tuple(
                f.name for f in fields(self) if f.name != "idempotency_key"
            )
        out: dict[str, Any] = {"command": cls.__name__}
        for name in names:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, date) else value
        return out

    def fingerprint(self) -> str:
        text = json.dumps(self.request(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Purchase(Command):
    """Rule 1: book a paid order's rewards (at ``grant_on``)."""

    user: str
    amount_fen: int
    contribution_fen: int | None = None  # a product's fixed contribution, else pool_rate
    order_ref: str | None = None

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_int("amount", self.amount_fen)
        _check_int("contribution", self.contribution_fen, optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class _UserPoints(Command):
    """A command on ``units`` of one user's points."""

    user: str
    units: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_int("points", self.units)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sell(_UserPoints):
    """Rule 2: buy ``units`` of the user's points back at the current price."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Convert(_UserPoints):
    """Rule 3: move ``units`` of the user's points to the treasury for stable points."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayStable(Command):
    """Rule 4: pay a merchant ``amount_fen`` of stable points."""

    user: str
    merchant: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("merchant", self.merchant)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeemStable(Command):
    """Rule 5: a merchant redeems stable points for treasury points at the current price."""

    merchant: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("merchant", self.merchant)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Command):
    """Bind ``user`` to ``referrer`` once (the referral tree is never rewritten)."""

    user: str
    referrer: str

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("referrer", self.referrer)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeParams(Command):
    """An audited parameter change; ``changes`` are outside values by public name."""

    changes: Mapping[str, Any] = field(default_factory=dict)
    changed_by: str = "operator"

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        if not isinstance(self.changes, Mapping) or not self.changes:
            raise DomainError("a parameter change needs at least one parameter")
        _check_name("changed_by", self.changed_by)
        try:
            json.dumps(self.changes)
        except (TypeError, ValueError):
            raise DomainError("parameter values must be JSON strings, lists or booleans") from None
        if any(isinstance(v, float) for v in self.changes.values()):
            raise DomainError("parameter values must be decimal strings, not floats")


def settle_key(business_date: date) -> str:
    return f"settle:{business_date.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleDay(Command):
    """Rules 6 then 7 for one business day; its key is ``settle:<date>`` unless given."""

    business_date: date
    idempotency_key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.business_date, date):
            raise DomainError("business_date must be a date")
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", settle_key(self.business_date))
        Command.__post_init__(self)


ECONOMY_COMMANDS = (Purchase, Sell, Convert, PayStable, RedeemStable, Join, ChangeParams)
