"""Tenants' people: users with a role and a real-name (KYC) status, and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    ADMIN = "admin"


class Scope(StrEnum):
    """What an API key may do; a session may do whatever its user's role allows.

    ``admin`` covers everything the key's user may do; ``integration`` pushes integration
    orders and reads them; ``read`` reads what the user may read. Anything a use case does not
    say otherwise needs ``admin`` (deny by default).
    """

    INTEGRATION = "integration"
    READ = "read"
    ADMIN = "admin"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes stored as a comma-separated list; unknown names are dropped (they grant nothing)."""
    known = {s.value for s in Scope}
    return frozenset(Scope(part) for part in text.split(",") if part in known)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return ",".join(sorted(scopes))


def key_allows(scopes: frozenset[Scope], needed: Scope) -> bool:
    """Whether a key holding ``scopes`` may do what needs ``needed``: ``admin`` covers all."""
    return Scope.ADMIN in scopes or needed in scopes


class KycStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    user_id: str
    email: str
    display_name: str
    role: Role
    kyc_status: KycStatus
    invite_code: str
    inviter_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """A stored secret's owner, for authentication (session or API key)."""

    owner_id: str
    secret_hash: str
    expires_at: datetime | None
    revoked: bool
    scopes: frozenset[Scope] = frozenset()  # an API key's; nothing else has any


@dataclass(frozen=True, slots=True)
class ApiKey:
    tenant_id: str
    key_id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    scopes: frozenset[Scope] = frozenset()


@dataclass(frozen=True, slots=True)
class Invitee:
    """Someone a user invited, as their referral page shows them."""

    display_name: str
    joined_at: datetime
