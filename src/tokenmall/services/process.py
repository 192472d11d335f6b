"""Settings of a long-running process that serves the application or hosts tenant writers."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """For a process that serves the application (``tokenmall serve``, the demo, the API
    benchmark's workers, the ledger benchmark): move everything alive after start-up —
    modules, classes, the routes, SQLAlchemy's and pydantic's machinery — out of the garbage
    collector's reach (``gc.freeze``). They live as long as the process; without this every
    full collection walks them all again, a pause of tens of milliseconds every second or two
    under load, most of the API's p99. Not for test processes, which build many applications."""
    gc.collect()
    gc.freeze()
