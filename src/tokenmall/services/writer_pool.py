"""``WriterPool``: routes each command to its tenant's writer; ``_RemoteTenant``: a tenant
another process owns, reached through the command inbox (PostgreSQL).

Split out of ``services/writer.py`` (which keeps ``TenantWriter``, the batch and its
transaction); ``writer.WriterPool`` still resolves here. See docs/architecture.md, "Writer".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from typing import Any

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.services.writer import (
    LINGER_SECONDS,
    NotOwner,
    Settle,
    TenantWriter,
    WriterClosed,
    _Request,
    _resolve,
)

log = logging.getLogger(__name__)


class WriterPool:
    """Routes each command to its tenant's writer, so different tenants run in parallel.

    On PostgreSQL a tenant that another process owns is reached through the inbox
    (``_RemoteTenant``). While its callers wait, this process keeps trying to take the tenant
    over: if the owner dies, one waiting process becomes the owner and drains the inbox.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 256,
        linger_seconds: float = LINGER_SECONDS,  # float-ok: seconds or a rate of time, never money
        takeover_seconds: float = 0.05,  # float-ok: seconds or a rate of time, never money
        settle: Settle | None = None,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self.takeover_seconds = takeover_seconds
        self.settle = settle
        self._writers: dict[str, TenantWriter] = {}
        self._remotes: dict[str, _RemoteTenant] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, command: c.Command) -> Future[Any]:
        return self._route(command.tenant_id).submit(command)

    def call(self, command: c.Command, timeout: float | None = None) -> Any:  # float-ok: time
        return self.submit(command).result(timeout)

    async def call_async(self, command: c.Command) -> Any:
        """``call`` for a coroutine (an API handler): the committed result, or the
        ``DomainError`` that refused it. A tenant this process writes answers its callers on
        a loop in one wake-up a batch (``TenantWriter.submit_async``); starting a writer and
        a tenant another process owns (the inbox) block, so they run in the loop's executor."""
        found = self._writers.get(command.tenant_id)
        loop = asyncio.get_running_loop()
        route = (
            found
            if found is not None and not found.lost and not self._closed
            else await loop.run_in_executor(None, self._route, command.tenant_id)
        )
        if isinstance(route, TenantWriter):
            return await route.submit_async(command)
        future = await loop.run_in_executor(None, route.submit, command)
        return await asyncio.wrap_future(future)

    def owns(self, tenant_id: str) -> bool:
        with self._lock:
            return tenant_id in self._writers

    def writer(self, tenant_id: str) -> TenantWriter:
        """This process's writer of the tenant (``NotOwner`` if another process has it)."""
        route = self._route(tenant_id)
        if not isinstance(route, TenantWriter):
            raise NotOwner(f"another process writes tenant {tenant_id}")
        return route

    def _route(self, tenant_id: str) -> TenantWriter | _RemoteTenant:
        # The common case without the pool's lock: this process writes the tenant already (a
        # dict read is atomic; every caller of a hot tenant passes here).
        found = self._writers.get(tenant_id)
        if found is not None and not found.lost and not self._closed:
            return found
        with self._lock:
            if self._closed:
                raise WriterClosed("the writer pool is closed")
            found = self._writers.get(tenant_id)
            if found is not None and found.lost:  # it lost the tenant: go through the inbox
                del self._writers[tenant_id]
                found.close(timeout=0)
                found = None
            found = found or self._try_take(tenant_id)
            if found is not None:
                return found
            remote = self._remotes.get(tenant_id)
            if remote is None:
                remote = self._remotes[tenant_id] = _RemoteTenant(self, tenant_id)
            return remote

    def _try_take(self, tenant_id: str) -> TenantWriter | None:
        """Start a writer if no other process owns the tenant (the caller holds ``_lock``)."""
        writer = TenantWriter(
            self.store,
            tenant_id,
            max_batch=self.max_batch,
            linger_seconds=self.linger_seconds,
            settle=self.settle,
        )
        try:
            writer.start()
        except NotOwner:
            return None
        self._writers[tenant_id] = writer
        return writer

    def take_over(self, tenant_id: str) -> bool:
        """Try once to become the tenant's owner; True if this process now owns it."""
        with self._lock:
            if self._closed:
                return False
            return tenant_id in self._writers or self._try_take(tenant_id) is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            writers, self._writers = list(self._writers.values()), {}
            remotes, self._remotes = list(self._remotes.values()), {}
        for remote in remotes:
            remote.close()
        for writer in writers:
            writer.close()

    def __enter__(self) -> WriterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RemoteTenant:
    """A tenant another process owns: commands go into the inbox and the answers are polled."""

    def __init__(
        self, pool: WriterPool, tenant_id: str, poll_seconds: float = 0.002  # float-ok: time
    ) -> None:
        self.pool = pool
        self.tenant_id = tenant_id
        self.poll_seconds = poll_seconds
        self._waiting: dict[int, _Request] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"inbox-{tenant_id}", daemon=True)
        self._thread.start()

    def submit(self, command: c.Command) -> Future[Any]:
        request = _Request(command)
        with self.pool.store.engine.begin() as conn:
            request.inbox_id = inbox.put(conn, self.tenant_id, command)
        with self._lock:
            self._waiting[request.inbox_id] = request
        self._wake.set()
        return request.future

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
                with self.pool.store.engine.connect() as conn:
                    found = inbox.answers(conn, self.tenant_id, ids)
            except Exception:
                log.exception("polling the inbox of tenant %s failed", self.tenant_id)
                found = {}
            for row_id, reply in found.items():
                with self._lock:
                    request = self._waiting.pop(row_id, None)
                if request is not None:
                    _resolve([request], [_remote_outcome(reply)])
            now = time.perf_counter()
            if now - last_try >= self.pool.takeover_seconds:
                last_try = now
                self.pool.take_over(self.tenant_id)  # the owner may be gone: drain it ourselves
            time.sleep(self.poll_seconds)


def _remote_outcome(reply: inbox.Reply) -> tuple[bool, Any]:
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
