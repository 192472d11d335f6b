"""Domain errors: business rules that refuse a request say why, in a sentence a user can read.

Every error has a ``kind`` (what sort of refusal it is, never a protocol's status code); the
edges map kinds to HTTP 4xx (``web/errors.py``) or to ``line N: …`` with exit status 2. None of
them is a bug.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What sort of refusal an error is."""

    MALFORMED = "malformed"  # the request itself cannot be read (syntax, a missing header)
    UNAUTHENTICATED = "unauthenticated"  # no valid credentials
    FORBIDDEN = "forbidden"  # valid credentials, but not allowed to do this
    NOT_FOUND = "not_found"  # nothing of that id (for this caller)
    CONFLICT = "conflict"  # clashes with what is recorded (a rule, a balance, a used key)
    INVALID = "invalid"  # a value the rules refuse
    THROTTLED = "throttled"  # too many attempts: wait, then try again


class DomainError(Exception):
    """A request the rules refuse. Its message is meant for the person who made it."""

    kind: ErrorKind = ErrorKind.INVALID
    zh: str | None = None  # the refusal's sentence in Chinese, when it has one


class Malformed(DomainError):
    kind = ErrorKind.MALFORMED


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class Invalid(DomainError):
    kind = ErrorKind.INVALID


class InvalidAmount(Invalid):
    """A number that is malformed, negative, zero where it must not be, or too precise."""


class InvalidParameter(Invalid):
    """An economy parameter that fails validation; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InsufficientBalance(Conflict):
    """Someone tried to move more than they hold."""


class RuleViolation(Conflict):
    """An event the economy's rules forbid (rebinding a referrer, refunding a booked order…)."""
