"""Errors of the mall's use cases, on top of the domain's; each is of a domain error kind, which
the edge maps to a status.

Each carries an optional ``field`` (the request field at fault) and a stable ``code``.
"""

from __future__ import annotations

from tokenmall.domain import errors as kinds
from tokenmall.domain.errors import DomainError


class MallError(DomainError):
    code = "invalid_request"

    def __init__(self, message: str, field: str | None = None, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        if zh is not None:  # this refusal's own Chinese sentence (pages and the API show it)
            self.zh = zh


class InvalidInput(MallError, kinds.Invalid):
    """A value the rules refuse (bad email, too long, out of range…)."""

    code = "invalid_input"


class NotFound(MallError, kinds.NotFound):
    """Nothing of that id in this tenant (also what another tenant's caller is told)."""

    code = "not_found"


class Conflict(MallError, kinds.Conflict):
    """The request clashes with what exists (a taken email, a reused idempotency key…)."""

    code = "conflict"


class Unauthenticated(MallError, kinds.Unauthenticated):
    """No valid credentials: missing, wrong, expired or revoked."""

    code = "unauthenticated"


class Forbidden(MallError, kinds.Forbidden):
    """Authenticated, but the role does not allow this action on this tenant."""

    code = "forbidden"


class OutOfStock(MallError, kinds.Conflict):
    """A SKU has fewer units than asked for."""

    code = "out_of_stock"
