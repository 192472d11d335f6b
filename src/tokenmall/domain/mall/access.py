"""Access control's records: audit trail entries and a tenant's caps on integration pushes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change of who may do what, or of a setting guarding money: before and after."""

    entry_id: str
    at: datetime
    actor_id: str | None  # the user who acted; None: the system
    actor_via: str  # session, api_key:<key id>, system
    action: str
    subject_id: str  # the user, key or tenant changed
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Caps:
    """Optional caps on integration pushes, in fen (None: no cap)."""

    per_order_fen: int | None
    per_day_fen: int | None
    updated_by: str | None
    updated_at: datetime | None


NO_CAPS = Caps(None, None, None, None)
