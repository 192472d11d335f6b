"""A bulkhead for payment callbacks: at most ``AT_ONCE`` of them per serving process in the
thread pool at a time.

Each callback books a ledger journal, and a tenant's journals run one at a time under the
tenant's lock. When a drop sells out, hundreds of payments arrive within a second; each would
hold one of the pool's threads while it waits for that lock, and buyers' presses, which need no
such lock, would wait for a thread. Callbacks past ``AT_ONCE`` wait on the event loop instead,
holding no thread; they are done in the order they came.
"""

from __future__ import annotations

import asyncio
import weakref

AT_ONCE = 4

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def callback_gate() -> asyncio.Semaphore:
    """This event loop's gate (one per loop: a semaphore belongs to the loop it waits on)."""
    loop = asyncio.get_running_loop()
    found = _gates.get(loop)
    if found is None:
        found = _gates[loop] = asyncio.Semaphore(AT_ONCE)
    return found
