"""The tenant writer's overlap (PostgreSQL): batch N+1 applied while batch N commits.

While batch N is written and committed on the writer's connection (by a committer thread,
which waits on the server with the GIL released), the writer thread already applies batch
N+1 to the book, reading what it needs (stored idempotency keys, holders not yet cached) on
a second, read-only connection. Holders batch N changed are in the book's cache, and keys N
is committing are checked in memory, so nothing N+1 reads can be stale. N+1 is written only
after N's commit succeeded; if N fails, N+1's work is thrown away with the book and both are
done again one at a time. Behind a small batch N (fewer than ``GROW_BELOW`` callers), N+1
keeps growing while N commits: requests are applied as they arrive, and N+1 goes to the
committer the moment N is through (``_grow``). Behind a big one, N+1 is gathered until the
callers batch N-1 answered are back (the base's linger rule), then applied and prepared
while N still commits, so that it too goes the moment N is through.

Idempotency keys: on Citus with the batch as one call the overlapping writer asks nothing:
the call looks the batch's keys up on the tenant's worker and, if one is booked, writes
nothing and names it with its stored answer; the writer answers those as replays and does
the rest again (``_redo_replayed``); sent straight to the worker as statements
(``citus_direct``), a booked key is refused by the journals' unique key at commit and the
batch is done again with every key looked up, as below. Elsewhere it asks the database only
about keys it may have seen: those it committed recently (``RECENT_KEYS``), or every key for a
while after a replay it did not know (``LOOK_UP_SECONDS``). Any other key is new unless the
journals' unique key says otherwise at commit; then the batch is done again one at a time with
every key looked up, which answers the replay with its first result (``_wait``). A replay then
costs one batch done twice, where a look-up of every key would cost every batch a round trip.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import citus_batch, inbox
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger.batch import Batch
from tokenmall.domain.ledger.results import StoredResult
from tokenmall.services.ledger.book import TenantBook, bind
from tokenmall.services.writers.batching import END, resolve
from tokenmall.services.writers.requests import (
    COMMITTED,
    STOP,
    InFlight,
    Request,
    inbox_replies,
    replay,
    replayed_key,
)
from tokenmall.services.writers.tenant_core import TenantCore

log = logging.getLogger(__name__)

HAND_OVER_SECONDS = 0.002  # float-ok: time (at most this long for the committer to start)
# While a batch of fewer than this many commits, the next one is applied as its requests arrive
# and goes to the committer the moment that commit is through (``_grow``); behind a bigger one
# it is gathered with a linger first, since there a full batch matters more than an early one
# (growing behind every batch made big batches shrink, and cost many clients throughput).
GROW_BELOW = 16
# Keys the overlapping writer committed lately (it looks these up: a retry comes soon after
# its request), kept as their hashes (~60 bytes each: ~2 MB a busy writer; a hash shared by
# another key only costs that key a look-up), and how long it looks up every key after a replay
# it did not expect. 32,768 keys are seconds of a busy tenant, hours of a quiet one.
RECENT_KEYS = 32_768
LOOK_UP_SECONDS = 10.0  # float-ok: time


class PipelinedWriter(TenantCore):
    """A tenant writer that applies its next batch while the one before commits."""

    def _linger(self) -> float:  # float-ok: seconds
        # Linger only while callers are many: one caller alone would just wait for nothing.
        # While a small batch commits, the next grows as it is applied instead (``_grow``).
        if not self._busy:
            return 0.0
        flight = self._inflight
        if self.overlap and flight is not None and len(flight.batch) < GROW_BELOW:
            return 0.0
        return self.linger_seconds

    def _signal(self, item: Any) -> Any:
        """While gathering or growing a batch: the mark of a commit ends it if the batch in
        flight is through (it is answered right after this batch is applied, and this one
        goes to the committer); the stop is queued again behind anything that raced it and
        ends it; a settlement ends it and comes next."""
        if item is COMMITTED:
            flight = self._inflight
            return END if flight is not None and flight.done.done() else None
        if item is STOP:
            self._queue.put(STOP)
            return END
        return item

    def _process_overlapped(self, batch: list[Request]) -> None:
        """Apply ``batch`` while the previous one commits; hand it to the committer once that
        one has committed (see the module's docstring)."""
        try:
            outcomes, rows, keys = self._apply_ahead(batch)
            # Everything Python does for the writes happens here, while the one before commits.
            prepared = self.store.prepare_batch(self.tenant_id, rows)
            bound = self.store.bind_batch(prepared) if prepared else None
            replies = inbox_replies(batch, outcomes)
        except Exception as error:  # a read failed: do it the plain way, after the one in flight
            log.warning("tenant %s: applying ahead failed: %r", self.tenant_id, error)
            self._drain()
            self._reset()
            self._process_serial(batch)
            return
        before = self._inflight
        if before is not None and not self._wait(before):
            self._process_serial(batch)  # the one before failed: its redo came first
            return
        try:
            conn = self._connection()
            self._hear()
        except Exception as error:
            log.warning("tenant %s: the writer connection failed: %r", self.tenant_id, error)
            self._answer(before)
            self._reset()
            self._process_serial(batch)
            return
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix=f"commit-{self.tenant_id}")
        if before is not None:
            self.overlapped += 1
        sent = threading.Event()
        done = self._committer.submit(self._commit, conn, rows, prepared, replies, sent, bound)
        self._inflight = InFlight(batch, outcomes, keys, done)
        done.add_done_callback(self._committed)
        # Let the committer put the batch on the wire before this thread (and the callers it
        # is about to wake) take the GIL back: a committer left waiting for it can start up
        # to a switch interval late while the next batch is applied.
        sent.wait(HAND_OVER_SECONDS)
        # The database has the next batch to work on before the callers of the one before
        # are woken (waking them costs the GIL time the committer's hand-over would wait for).
        self._answer(before)

    def _committed(self, _: Future[None]) -> None:
        self._queue.put(COMMITTED)  # wakes a writer waiting in _next or lingering in _fill

    def _apply_ahead(
        self, batch: list[Request]
    ) -> tuple[list[tuple[bool, Any]], Batch, dict[str, tuple[str, StoredResult]]]:
        """Apply ``batch`` to the book, reading on the reader connection; while the batch
        before still commits, requests that arrive meanwhile join it (``_grow``)."""
        if self._book is not None and self._book.oversized:
            self._drain()  # the cache may be trimmed only with nothing in flight
        if self._book is None:  # (re)load it from the writer's connection, nothing in flight
            self._drain()
            conn = self._connection()
            with conn.begin():
                self._book_on(conn)
        book = self._book
        assert book is not None
        outcomes: list[tuple[bool, Any]] = []
        keys: dict[str, tuple[str, StoredResult]] = {}
        self._apply_chunk(book, batch, outcomes, keys)
        self._grow(book, batch, outcomes, keys)
        # Holders the batch changed stay cached until it has committed (no trimming here).
        return outcomes, book.take_batch(trim=False), keys

    def _grow(
        self,
        book: TenantBook,
        batch: list[Request],
        outcomes: list[tuple[bool, Any]],
        keys: dict[str, tuple[str, StoredResult]],
    ) -> None:
        """While the batch in flight commits, apply what arrives, in chunks, to this batch:
        it goes to the committer the moment that commit is through, instead of waiting for a
        linger and then for its own applying."""
        while len(batch) < self.max_batch and self._held is None:
            flight = self._inflight
            if flight is None or flight.done.done() or len(flight.batch) >= GROW_BELOW:
                return
            item = self._queue.get()  # a request, or the mark that the flight is through
            chunk: list[Request] = []
            ended: Any = None
            while True:
                if isinstance(item, Request):
                    chunk.append(item)
                    if len(batch) + len(chunk) >= self.max_batch:
                        break
                else:  # the flight's mark, a settlement or the stop (as in ``_gather``)
                    ended = self._signal(item)
                    if ended is not None:
                        break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if chunk:
                batch.extend(chunk)  # first: if applying fails, the batch is redone with it
                self._apply_chunk(book, chunk, outcomes, keys)
            if ended is not None:
                if ended is not END:
                    self._held = ended
                return

    def _apply_chunk(
        self,
        book: TenantBook,
        chunk: list[Request],
        outcomes: list[tuple[bool, Any]],
        keys: dict[str, tuple[str, StoredResult]],
    ) -> None:
        store, tenant = self.store, self.tenant_id
        inflight = self._inflight.keys if self._inflight is not None else {}
        wanted = [r.command.idempotency_key for r in chunk]
        reader = self._reader_connection()
        if store.keys_checked_at_commit(reader):
            ask = []  # the commit looks every key up itself (``_redo_replayed``)
        elif time.monotonic() < self._look_up_until:
            ask = [k for k in wanted if k not in inflight]
        else:  # only keys it may have seen (see the module's docstring)
            recent = self._recent
            ask = [k for k in wanted if hash(k) in recent and k not in inflight]
        with reader.begin():  # (nothing is sent unless a key or a holder is read)
            bind(store, book, reader)
            stored = store.find_journals(reader, tenant, ask) if ask else {}
            stored.update((k, inflight[k]) for k in wanted if k in inflight)
            book.prefetch([r.command for r in chunk if r.command.idempotency_key not in stored])
            for request in chunk:
                command = request.command
                found = stored.get(command.idempotency_key)
                if found is not None:
                    outcomes.append(replay(found, command, request.fingerprint()))
                    continue
                try:
                    applied = book.apply(command, request.fingerprint())
                except DomainError as refused:
                    outcomes.append((False, refused))
                    continue
                outcomes.append((True, applied.result))
                if applied.journal is not None:  # (None: a repeat within this batch)
                    fingerprint = applied.journal.request_fingerprint
                    keys[command.idempotency_key] = (fingerprint, applied.result)

    def _commit(
        self,
        conn: Connection,
        rows: Batch,
        prepared: list[Any] | None,
        replies: list[inbox.Reply],
        sent: threading.Event,
        bound: list[Any] | None = None,
    ) -> None:
        """The committer thread: write one applied batch and commit it (``sent`` is set once
        the statements are queued, just before the wait for the server)."""
        # One round trip: the statements as one pipeline, one implicit transaction (False: the
        # driver's session had a transaction open after all; then the plain way below).
        if (
            prepared is not None
            and not replies
            and not rows.params
            and not conn.in_transaction()
            and self.store.commit_batch(
                conn, self.tenant_id, rows, prepared, on_send=sent.set, bound=bound
            )
        ):
            return
        sent.set()
        with conn.begin():
            self.store.write_batch(conn, self.tenant_id, rows, prepared=prepared)
            inbox.answer(conn, self.tenant_id, replies)

    def _drain(self) -> bool:
        """Wait for the batch in flight and answer its callers. False if it failed: it was
        then done again from a reloaded book (one more attempt) and answered that way."""
        flight = self._inflight
        if flight is None:
            return True
        if not self._wait(flight):
            return False
        self._answer(flight)
        return True

    def _wait(self, flight: InFlight) -> bool:
        """Wait for ``flight``'s commit; nothing is in flight after. If it failed, it is done
        again one at a time from a reloaded book (its one retry) and answered: False."""
        self._inflight = None
        try:
            flight.done.result()
        except citus_batch.Replayed as replayed:
            self._book = None  # it holds the batch applied: reloaded for the rest
            self._redo_replayed(flight.batch, replayed.found)
            return False
        except Exception as error:
            if replayed_key(error):
                # A key committed before this writer's memory: the batch is done again with
                # every key looked up (the session is fine: the committer rolled back).
                log.info(
                    "tenant %s: a batch of %d held a replayed key; doing it again with every "
                    "key looked up",
                    self.tenant_id,
                    len(flight.batch),
                )
                self.late_replays += 1
                self._look_up_until = time.monotonic() + LOOK_UP_SECONDS
                self._book = None
            else:
                log.warning(
                    "tenant %s: a batch of %d failed (attempt 1): %r",
                    self.tenant_id,
                    len(flight.batch),
                    error,
                )
                self._reset()
            self._process_serial(flight.batch, attempts=1)
            return False
        return True

    def _redo_replayed(
        self, batch: list[Request], found: dict[str, tuple[str, StoredResult]]
    ) -> None:
        """The commit wrote nothing: keys of ``batch`` were already booked (``found``, their
        stored answers). Their requests are answered as replays with the first answer; the
        rest is done again one at a time from a reloaded book."""
        replays = [r for r in batch if r.command.idempotency_key in found]
        rest = [r for r in batch if r.command.idempotency_key not in found]
        log.info(
            "tenant %s: a batch of %d held %d replayed key(s); answering them, doing the rest",
            self.tenant_id,
            len(batch),
            len(replays),
        )
        self.late_replays += 1
        resolve(
            replays,
            [replay(found[r.command.idempotency_key], r.command, r.fingerprint()) for r in replays],
        )
        self.commands += len(replays)
        if rest:
            self._process_serial(rest, attempts=1)

    def _remember(self, keys: Iterable[str]) -> None:
        """Note keys just committed (the overlapping writer looks these up when they recur)."""
        if not self.overlap:
            return
        recent, order = self._recent, self._recent_order
        for key in keys:
            code = hash(key)
            if code not in recent:
                recent.add(code)
                order.append(code)
        while len(order) > RECENT_KEYS:
            recent.discard(order.popleft())

    def _answer(self, flight: InFlight | None) -> None:
        """Answer the callers of a batch that committed."""
        if flight is None:
            return
        self.batches += 1
        self.commands += len(flight.batch)
        self._remember(flight.keys)
        resolve(flight.batch, flight.outcomes)
        self._expect = len(flight.batch)
        if self._inflight is None and self._book is not None:
            self._book.trim()  # nothing in flight: clean holders may be dropped

    def _reader_connection(self) -> Connection:
        reader = self._reader
        if reader is None or reader.closed or reader.invalidated:
            if reader is not None:
                reader.close()
            reader = self._reader = self.store.engine.connect()
        return reader
