"""What a tenant writer's callers queue, and the answers it gives them.

A ``Request`` is one ledger command and its caller's answer (a thread's ``Future`` or the
writer's end of a coroutine's: ``loop_answers``); a ``Settlement`` is a day's settlement,
which is no request of a batch: it ends the batch being gathered and runs alone, after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.journal import IdempotencyConflict
from tokenmall.domain.ledger.results import DaySettled, StoredResult
from tokenmall.services.writers.loop_answers import Answer

KEY_CONSTRAINT = "uq_journals_tenant_key"
# The same constraint on a Citus shard (its name there ends with the shard's id). Citus relays
# a worker's error without the constraint's name field: then it is read from the message.
_KEY_CONSTRAINT_NAME = re.compile(rf"{KEY_CONSTRAINT}(_\d+)?")
_NAMED_IN_MESSAGE = re.compile(r'unique constraint "([^"]+)"')

# settle(store, conn, tenant_id, business_date) -> the day: ``settlement.settle_in``.
Settle = Callable[[Store, Connection, str, date], DaySettled]


class WriterClosed(RuntimeError):
    """The writer was closed before it could take the command."""


class NotOwner(RuntimeError):
    """Another process holds this tenant's writer lock."""


@dataclass(slots=True)
class Call:
    """A command and its caller's answer."""

    command: c.Command
    future: Future[Any] | Answer = field(default_factory=Future)
    inbox_id: int | None = None  # set when the command came from another process
    known_fingerprint: str | None = None  # computed on the caller's thread (``submit``)

    def fingerprint(self) -> str:
        """The command's fingerprint (computed here if the caller did not)."""
        if self.known_fingerprint is None:
            self.known_fingerprint = self.command.fingerprint()
        return self.known_fingerprint


class Request(Call):
    """A command that joins a batch."""

    __slots__ = ()


class Settlement(Call):
    """A day's settlement: after the batches before it, in its own transaction."""

    __slots__ = ()


@dataclass(slots=True)
class InFlight:
    """A batch applied to the book and handed to the committer, not yet answered."""

    batch: list[Request]
    outcomes: list[tuple[bool, Any]]
    keys: dict[str, tuple[str, StoredResult]]  # key -> (fingerprint, result) it commits
    done: Future[None]


class Signal:
    """An item on a writer's queue that is not a request."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Signal({self.name})"


STOP = Signal("stop")
COMMITTED = Signal("committed")  # queued when a batch in flight has committed (or failed)


def replay(
    found: tuple[str, StoredResult], command: c.Command, fingerprint: str | None = None
) -> tuple[bool, Any]:
    """A key already committed: its first result if the request is the same, else a conflict
    (``fingerprint``: the command's, if already computed)."""
    first, result = found
    if first != (fingerprint if fingerprint is not None else command.fingerprint()):
        return False, IdempotencyConflict(command.idempotency_key)
    return True, result


def replayed_key(error: BaseException) -> bool:
    """Whether ``error`` is the journals' idempotency key refusing a key already stored
    (psycopg's error, or SQLAlchemy's wrapping it; on Citus, the shard's constraint)."""
    cause: Any = getattr(error, "orig", None) or error.__cause__ or error
    diag = getattr(cause, "diag", None)
    if getattr(cause, "sqlstate", None) != "23505" or diag is None:
        return False
    name = diag.constraint_name
    if name is None:
        named = _NAMED_IN_MESSAGE.search(diag.message_primary or "")
        name = named.group(1) if named else ""
    return _KEY_CONSTRAINT_NAME.fullmatch(name) is not None


def inbox_replies(batch: Iterable[Call], outcomes: Iterable[tuple[bool, Any]]) -> list[inbox.Reply]:
    """The answers to write back for the requests that came from the inbox."""
    replies: list[inbox.Reply] = []
    for request, (ok, value) in zip(batch, outcomes, strict=True):
        if request.inbox_id is None:
            continue
        if ok:
            replies.append(inbox.Reply(request.inbox_id, "done", result=value))
        else:
            replies.append(
                inbox.Reply(request.inbox_id, "refused", type(value).__name__, str(value))
            )
    return replies


def _command_types() -> dict[str, type[c.Command]]:
    # The module's names, not ``Command.__subclasses__()``: a slotted dataclass replaces the
    # class it decorates, and the replaced one may linger among the subclasses.
    return {
        name: value
        for name, value in vars(c).items()
        if isinstance(value, type) and issubclass(value, c.Command)
    }


# The commands an inbox row may hold, by name (``inbox.claimable`` decodes with these).
COMMAND_TYPES = _command_types()
