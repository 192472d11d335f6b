"""Errors of the mall's rules; the edges map each to a status (409 for a refused move)."""

from __future__ import annotations

from tokenmall.domain.errors import Conflict, Forbidden


class TransitionRefused(Conflict):
    """A move its lifecycle does not allow from the current status, or not to this actor.

    ``code`` and ``field`` are what the HTTP error body carries."""

    code = "conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SelfDemotion(Forbidden):
    """An admin taking away their own admin role (another admin must).

    ``code`` and ``field`` are what the HTTP error body carries."""

    code = "forbidden"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
