"""Running a coroutine in a test whose process may already have an event loop running."""

from __future__ import annotations

import asyncio
import threading
from typing import Any


def run_on_own_loop(coroutine: Any) -> Any:
    """``asyncio.run`` on a thread of its own: a test process may have a loop running on its
    main thread already (Playwright's sync API keeps one while its browser is open)."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, asyncio.run(coroutine)))
        except BaseException as error:  # handed to the test's thread
            box.append((False, error))

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value
