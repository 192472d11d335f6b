"""``WriterPool``: routes each command to its tenant's writer (``tenant``), or, for a tenant
another process owns, through the command inbox (``remote``, PostgreSQL). See
docs/architecture.md, "Writer".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.writers.remote import RemoteTenant
from tokenmall.services.writers.requests import NotOwner, Settle, WriterClosed
from tokenmall.services.writers.tenant import TenantWriter
from tokenmall.services.writers.tenant_core import LINGER_SECONDS

log = logging.getLogger(__name__)


class WriterPool:
    """Routes each command to its tenant's writer, so different tenants run in parallel.

    On PostgreSQL a tenant that another process owns is reached through the inbox
    (``RemoteTenant``). While its callers wait, this process keeps trying to take the tenant
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
        self._remotes: dict[str, RemoteTenant] = {}
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

    def _route(self, tenant_id: str) -> TenantWriter | RemoteTenant:
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
                remote = self._remotes[tenant_id] = RemoteTenant(
                    self.store,
                    tenant_id,
                    takeover_seconds=self.takeover_seconds,
                    take_over=self.take_over,
                )
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
