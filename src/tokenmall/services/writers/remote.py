"""A tenant another process owns (PostgreSQL): commands go into its command inbox
(``adapters/db/inbox.py``), the answers are polled, and the refusals come back as the same
``DomainError`` subclass. While callers wait, the process keeps trying to take the tenant
over (``take_over``): if the owner dies, one waiting process becomes the owner and drains it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.services.writers.batching import resolve
from tokenmall.services.writers.requests import Request, WriterClosed

log = logging.getLogger(__name__)


class RemoteTenant:
    """A tenant another process owns: commands go into the inbox and the answers are polled."""

    def __init__(
        self,
        store: Store,
        tenant_id: str,
        *,
        takeover_seconds: float,  # float-ok: time
        take_over: Callable[[str], bool],
        poll_seconds: float = 0.002,  # float-ok: time
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.takeover_seconds = takeover_seconds
        self.take_over = take_over
        self.poll_seconds = poll_seconds
        self._waiting: dict[int, Request] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"inbox-{tenant_id}", daemon=True)
        self._thread.start()

    def submit(self, command: c.Command) -> Future[Any]:
        future: Future[Any] = Future()
        request = Request(command, future)
        with self.store.engine.begin() as conn:
            request.inbox_id = inbox.put(conn, self.tenant_id, command)
        with self._lock:
            self._waiting[request.inbox_id] = request
        self._wake.set()
        return future

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(5)
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), {}
        for request in waiting:
            if not request.future.done():
                request.future.set_exception(WriterClosed("the writer pool is closed"))

    def _run(self) -> None:
        last_try = time.perf_counter()
        while not self._closed:
            with self._lock:
                ids = list(self._waiting)
            if not ids:
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            try:
                with self.store.engine.connect() as conn:
                    found = inbox.answers(conn, self.tenant_id, ids)
            except Exception:
                log.exception("polling the inbox of tenant %s failed", self.tenant_id)
                found = {}
            for row_id, reply in found.items():
                with self._lock:
                    request = self._waiting.pop(row_id, None)
                if request is not None:
                    resolve([request], [_outcome(reply)])
            now = time.perf_counter()
            if now - last_try >= self.takeover_seconds:
                last_try = now
                self.take_over(self.tenant_id)  # the owner may be gone: drain it ourselves
            time.sleep(self.poll_seconds)


def _outcome(reply: inbox.Reply) -> tuple[bool, Any]:
    if reply.status == "done":
        return True, reply.result
    if reply.status == "refused":
        return False, _rebuild(reply.error_type, reply.error or "")
    return False, RuntimeError(reply.error or "the tenant's writer could not apply the command")


def _rebuild(kind: str | None, message: str) -> Exception:
    """The owner's refusal as the same ``DomainError`` subclass, carrying its message."""
    found: type[DomainError] = DomainError
    stack = list(DomainError.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__name__ == kind:
            found = cls
            break
        stack.extend(cls.__subclasses__())
    error = found.__new__(found)
    Exception.__init__(error, message)  # subclasses' own __init__ take other arguments
    return error
