"""Snapshots of the public storefront, kept by each worker process for at most ``LIFETIME``
seconds: the tenant, the home page's banners, categories and product pages, a product with its
options, pictures and reward preview. The mall's home and product pages are read far more than
anything they show changes, and each of them costs several queries; a shopper sees data at most
``LIFETIME`` old, and never older than this worker's own last write.

What keeps it right:

- An entry is valid for ``LIFETIME`` seconds counted from when its read *began*, so what a page
  shows was in the database at most that long ago (a write through another worker shows
  within it).
- Any transaction committed in this process (any engine: the app's, the ledger's, a test's)
  bumps a process-wide generation; an entry read under an older generation is never used,
  and a read that overlapped a commit is not kept. A price or stock change made through this
  worker shows on its very next page.
- Only what every visitor sees the same is kept, keyed by the tenant and the page's own
  arguments. A signed-in member's data is keyed by their user id; whatever a staff member
  sees beyond the public (inactive products) is never kept.
- Entries are shared between threads read-only; the pages copy what they change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

LIFETIME = 1.0  # float-ok: time (seconds a snapshot is used at most)
CAPACITY = 1024  # entries per worker; a full store starts again empty (searches are keyed)

T = TypeVar("T")

_lock = threading.Lock()
_generation = 0  # bumped by every commit in this process


def _committed(conn: Connection) -> None:
    global _generation
    with _lock:
        _generation += 1


event.listen(Engine, "commit", _committed)


def generation() -> int:
    """How many commits this process has made (for tests and for ``Snapshots``)."""
    return _generation


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    taken: float  # float-ok: time (monotonic, when the read began)
    generation: int


class Snapshots:
    """One worker's snapshots (``app.state.snapshots``): ``get(key, load)`` answers the kept
    value if it is fresh, else runs ``load`` and keeps what it read."""

    def __init__(
        self,
        lifetime: float = LIFETIME,  # float-ok: time
        *,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,  # float-ok: time
    ) -> None:
        self.lifetime = lifetime
        self.capacity = capacity
        self.clock = clock
        self._entries: dict[Hashable, _Entry] = {}

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        began = self.clock()  # float-ok: time
        seen = _generation
        entry = self._entries.get(key)
        if entry is not None and entry.generation == seen and began - entry.taken < self.lifetime:
            value: T = entry.value
            return value
        value = load()
        if self.lifetime > 0:
            with _lock:
                if seen == _generation:  # no commit while it was read: keep it
                    if len(self._entries) >= self.capacity:
                        self._entries.clear()
                    self._entries[key] = _Entry(value, began, seen)
        return value

    def clear(self) -> None:
        self._entries.clear()


def of(request: Request) -> Snapshots:
    """The app's snapshots (made with the app; a bare app gets its own on first use)."""
    state = request.app.state
    found: Snapshots | None = getattr(state, "snapshots", None)
    if found is None:
        found = state.snapshots = Snapshots()
    return found
