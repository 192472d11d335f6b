"""Domain errors: business rules that refuse a request say why, in a sentence a user can read.

The edges map these to HTTP 4xx or to ``line N: …`` with exit status 2; none of them is a bug.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse. Its message is meant for the person who made it."""


class InvalidAmount(DomainError):
    """A number that is malformed, negative, zero where it must not be, or too precise."""


class InvalidParameter(DomainError):
    """An economy parameter that fails validation; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InsufficientBalance(DomainError):
    """Someone tried to move more than they hold."""


class RuleViolation(DomainError):
    """An event the economy's rules forbid (rebinding a referrer, refunding a booked order…)."""
