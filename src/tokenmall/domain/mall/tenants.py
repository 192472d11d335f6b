"""A tenant: one mall with its own economy parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    params: dict[str, object]
    params_version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ParamsChange:
    """One parameter set a tenant had: its version, who set it and when."""

    params_version: int
    params: dict[str, object]
    changed_by: str
    changed_at: datetime
