"""One writer per tenant: a queue, a thread, and group commit.

Every purchase on a tenant changes the same price, so per-request row locks serialise on one
row and collapse under contention. Instead each tenant has one ``TenantWriter``: callers put
commands on its queue and wait on a ``Future``; the writer thread takes what is queued (the
batching base: up to ``max_batch``, lingering up to a millisecond for more while it is busy,
but only until as many requests are here as the last batch answered), applies each command
to its in-memory ``TenantBook`` (a refused command answers its caller with the
``DomainError`` and writes nothing), writes the whole batch in ONE transaction and commits,
and only then answers the callers. Nothing is acknowledged before it is durable.

Idempotency keys are checked within the batch, against the batches in flight and against the
database; a replay with the same request gets the first result, a different request under the
same key a conflict. On PostgreSQL the writer overlaps its two halves: batch N+1 is applied
while batch N commits (``pipeline``); elsewhere each batch is done the plain way
(``tenant_core``).

If the transaction fails the book may hold changes the database does not, so the writer
throws it away, reloads it from the database and runs the batch once more (keys already
committed, e.g. when only the acknowledgement of a commit was lost, are found as replays);
if that fails too the batch's callers get the error. They never get a result for work that
was not committed.

Several processes: on PostgreSQL the writer's own connection holds a session advisory lock
for its tenant, so exactly one process writes a tenant; its batches run on that connection,
so if the session dies its writes stop with it. Other processes put commands into the
command inbox (``adapters/db/inbox.py``) and the owner drains it in its batches, marking each
inbox row done in the same transaction as the journal. See docs/architecture.md, "Writer".
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from concurrent.futures import Future
from typing import Any

from tokenmall.adapters.db import inbox
from tokenmall.domain.ledger import commands as c
from tokenmall.services.writers import loop_answers
from tokenmall.services.writers.batching import fail, shorten_switch_interval
from tokenmall.services.writers.loop_answers import Answer
from tokenmall.services.writers.pipeline import PipelinedWriter
from tokenmall.services.writers.requests import (
    COMMAND_TYPES,
    COMMITTED,
    STOP,
    Request,
    Settlement,
    WriterClosed,
)

log = logging.getLogger(__name__)

INBOX_POLL_SECONDS = 0.005  # how often an idle owner listens for inbox notifications
INBOX_SAFETY_SECONDS = 1.0  # an owner reads the inbox at least this often, notified or not


class TenantWriter(PipelinedWriter):
    """The single writer of one tenant's ledger in this process."""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TenantWriter:
        """Take the tenant and start the thread: ``NotOwner`` if another process has it,
        ``UnknownTenant`` if there is no such tenant."""
        conn = self._connection()
        try:
            with conn.begin():
                self._book_on(conn)
        except Exception:
            self._disconnect()
            raise
        if self.overlap:
            shorten_switch_interval()  # its committer and it hand the GIL to each other
        self._thread.start()
        return self

    def close(self, timeout: float | None = 30.0) -> None:  # float-ok: time
        """Answer everything queued, stop the thread and release the tenant."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(STOP)  # the thread answers what is queued, then disconnects
            self._thread.join(timeout)
        else:
            self._disconnect()

    def __enter__(self) -> TenantWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- callers ------------------------------------------------------------------------------

    def submit(self, command: c.Command) -> Future[Any]:
        """Queue ``command``; the future resolves after its batch has committed."""
        future: Future[Any] = Future()
        self._enqueue(command, future)
        return future

    def call(self, command: c.Command, timeout: float | None = None) -> Any:  # float-ok: time
        """Submit and wait: the committed result, or the ``DomainError`` that refused it."""
        return self.submit(command).result(timeout)

    def submit_async(self, command: c.Command) -> asyncio.Future[Any]:
        """From a coroutine: queue ``command``; the returned future (of the running loop)
        resolves after its batch has committed. A batch's answers reach a loop in one
        wake-up (``loop_answers``), not one per caller."""
        waiter, answer = loop_answers.pair()
        self._enqueue(command, answer)
        return waiter

    async def call_async(self, command: c.Command) -> Any:
        """``call`` for a coroutine: the committed result, or the ``DomainError``."""
        return await self.submit_async(command)

    def _enqueue(self, command: c.Command, answer: Future[Any] | Answer) -> None:
        if command.tenant_id != self.tenant_id:
            raise ValueError(f"a command of {command.tenant_id} sent to {self.tenant_id}'s writer")
        if self._closed:
            raise WriterClosed(f"the writer of tenant {self.tenant_id} is closed")
        # The fingerprint (canonical JSON, SHA-256) is computed here, on the caller's thread:
        # the writer's one thread is what every purchase of the tenant waits for.
        kind = Settlement if isinstance(command, c.SettleDay) else Request
        self._queue.put(kind(command, answer, known_fingerprint=command.fingerprint()))

    # -- the loop's hooks ---------------------------------------------------------------------

    def _take(self) -> Any:
        """The next request, settlement or stop; None when idle or when the batch in flight
        has committed (answer it). While one commits, wait for new requests: the callers just
        answered are about to send theirs, and applying them now overlaps that commit (a
        writer that answered the committing batch first as soon as its queue was empty let
        every other commit run alone)."""
        while True:
            flight = self._inflight
            try:
                if flight is not None:
                    item = self._queue.get()  # COMMITTED comes when the flight is done
                else:
                    item = self._queue.get(timeout=INBOX_POLL_SECONDS if self.use_inbox else None)
            except queue.Empty:
                return None
            if item is not COMMITTED:
                return item
            if flight is None or flight.done.done():
                return None
            # a mark left by an earlier flight: keep waiting for this one

    def _idle(self) -> bool:
        """Answer what is committing; with nothing in flight, look at the inbox."""
        if self._inflight is not None:
            self._drain()
            return False
        self._busy = False
        self._take_inbox([])
        return False

    def _on_signal(self, item: Any) -> bool:
        if item is STOP:
            self._drain()
            if not self.lost:
                self._take_inbox([])
            self._disconnect()
            if self._committer is not None:
                self._committer.shutdown(wait=True)
            return True
        self._drain()
        self._settle(item)
        return False

    def _process(self, batch: list[Request]) -> None:
        self._take_inbox(batch)
        self._run_batch(batch)

    def _broken(self, batch: list[Request], error: BaseException) -> None:
        """Something unforeseen escaped a batch: answer what committed, then fail the rest
        and start again from the database."""
        log.exception("tenant %s: the writer failed a batch of %d", self.tenant_id, len(batch))
        try:
            self._drain()
        except Exception:
            log.exception("tenant %s: answering the batch in flight failed", self.tenant_id)
        self._reset()
        fail(batch, error)

    # -- the inbox ----------------------------------------------------------------------------

    def _take_inbox(self, batch: list[Request]) -> None:
        """Add what other processes left in the inbox to ``batch`` (or process it alone)."""
        if not self.use_inbox or len(batch) >= self.max_batch:
            return
        now = time.perf_counter()
        try:
            if self._inflight is None:  # the connection is the committer's while one commits
                self._hear()
            if not self._inbox_hint and now - self._inbox_looked < INBOX_SAFETY_SECONDS:
                return
            self._drain()
            self._inbox_looked = now
            self._inbox_hint = False
            rows = inbox.claimable(
                self._connection(), self.tenant_id, self.max_batch - len(batch), COMMAND_TYPES
            )
        except Exception:
            log.exception("reading the inbox of tenant %s failed", self.tenant_id)
            self._reset()
            return
        if not rows:
            return
        # Arrival order is kept: rows up to the first settlement join the batch; a settlement
        # at the head runs alone (idle writer); anything behind it waits for the next look.
        taken: list[Request] = []
        for row_id, command in rows:
            if isinstance(command, c.SettleDay):
                if not batch and not taken:
                    self._settle(Settlement(command, inbox_id=row_id))
                break
            taken.append(Request(command, inbox_id=row_id))
        if batch:
            batch.extend(taken)
        elif taken:
            self._run_batch(taken)

    # -- one batch ----------------------------------------------------------------------------

    def _run_batch(self, batch: list[Request]) -> None:
        # A lone command with nothing committing gains nothing from overlapping: it would
        # only pay for the hand-over to the committer thread.
        if self.overlap and (len(batch) > 1 or self._inflight is not None):
            self._process_overlapped(batch)
        else:
            self._process_serial(batch)
