"""A psycopg pipeline that holds its statements and sends them in one write when it syncs.

psycopg's own pipeline sends each statement as it is executed: every ``cursor.execute`` polls
the socket and flushes libpq's buffer, one ``send`` system call a statement, each with the
GIL held and released around its poll. A checkout and its paid callback run about twenty
statements through pipelines: on a CPU-bound server that much sending is a fifth of the
Python time a flow costs (docs/performance.md). Here a statement is only queued in libpq's
buffer; everything queued goes out together when the pipeline syncs (its end, a commit) or
when a result is asked for (a cursor's ``fetch*`` inside the block), and at the latest every
``HOLD`` statements. The round trips are the same; a statement reaches the server a few
microseconds of Python later.

It leans on psycopg's pipeline internals (``command_queue``, ``_communicate_gen``,
``_fetch_gen``, ``_sync_gen``, ``_exit_gen``: psycopg 3.1 to 3.3); where they are not there,
``pipeline_class`` answers None and the connection's own pipeline is used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

HOLD = 256  # statements held at most before they are sent anyway
_INTERNALS = ("_communicate_gen", "_fetch_gen", "_sync_gen", "_exit_gen", "_enqueue_sync")


@cache
def pipeline_class() -> type[Any] | None:
    """The holding subclass of ``psycopg.Pipeline``, or None when this psycopg lacks what it
    overrides."""
    import psycopg

    base: Any = getattr(psycopg, "Pipeline", None)
    if base is None or not all(hasattr(base, name) for name in _INTERNALS):
        return None

    class HeldPipeline(base):  # type: ignore[misc]
        """psycopg's pipeline with its statements held until it syncs or a result is read."""

        def _communicate_gen(self) -> Any:
            # Called by every execute right after queueing its statement: hold it.
            if len(self.command_queue) >= HOLD:
                yield from self._send_held()

        def _send_held(self) -> Any:
            queue = self.command_queue
            while queue:  # into libpq's buffer (in pipeline mode it sends nothing yet)
                queue.popleft()()
            yield from super()._communicate_gen()  # one flush, and results already in

        def _sync_gen(self) -> Any:
            self._enqueue_sync()
            yield from self._send_held()
            yield from self._fetch_gen(flush=False)

        def _exit_gen(self) -> Any:
            # Sending what is held may raise (a result already in refuses a statement); the
            # results are fetched anyway, or the session is left busy in pipeline mode.
            try:
                self._enqueue_sync()
                yield from self._send_held()
            finally:
                yield from self._fetch_gen(flush=True)

        def _fetch_gen(self, *, flush: bool) -> Any:
            if self.command_queue:  # a result asked for: what is held goes first
                yield from self._send_held()
            yield from super()._fetch_gen(flush=flush)

    return HeldPipeline


def install(driver: Any) -> None:
    """Make ``driver`` (a psycopg connection not in a pipeline) enter a holding pipeline on
    its next ``pipeline()``: psycopg reuses the one set and drops it when the block ends."""
    held = pipeline_class()
    if held is not None and getattr(driver, "_pipeline", False) is None:
        driver._pipeline = held(driver)
