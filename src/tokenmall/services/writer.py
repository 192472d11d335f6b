"""One writer per tenant: a queue, a thread, and group commit.

Every purchase on a tenant changes the same price, so per-request row locks serialise on one
row and collapse under contention. Instead each tenant has one ``TenantWriter``: callers put
commands on its queue and wait on a ``Future``; the writer thread takes what is queued (up to
``max_batch``, lingering up to a millisecond for more while it is busy, but only until as many
requests are here as the last batch answered: those callers are the ones coming back),
applies each command to its in-memory ``TenantBook`` (a refused command answers its caller
with the ``DomainError`` and writes nothing), writes the whole batch in ONE transaction and
commits, and only then answers the callers. Nothing is acknowledged before it is durable.

Idempotency keys are checked within the batch, against the batches in flight and against the
database; a replay with the same request gets the first result, a different request under the
same key a conflict. The overlapping writer (PostgreSQL) asks the database only about keys it
may have seen: those it committed recently (``RECENT_KEYS``), or every key for a while after
a replay it did not know (``LOOK_UP_SECONDS``). Any other key is new unless the journals'
unique key says otherwise at commit; then the batch is done again one at a time with every
key looked up, which answers the replay with its first result (``_wait``). A replay then
costs one batch done twice; a look-up of every key cost the writer a round trip and
PostgreSQL a planned query per batch (64 clients: 6,568 -> 7,305 purchases/s, 2026-11-30).

On PostgreSQL the writer overlaps its two halves: while batch N is written and committed on
the writer's connection (by a committer thread, which waits on the server with the GIL
released), the writer thread already applies batch N+1 to the book, reading what it needs
(stored idempotency keys, holders not yet cached) on a second, read-only connection. Holders
batch N changed are in the book's cache, and keys N is committing are checked in memory, so
nothing N+1 reads can be stale. N+1 is written only after N's commit succeeded; if N fails,
N+1's work is thrown away with the book and both are done again one at a time. Behind a
small batch N (few callers), N+1 keeps growing while N commits: requests are applied as they
arrive, and N+1 goes to the committer the moment N is through (``_grow``). Behind a big one,
N+1 is gathered until the callers batch N-1 answered are back (``_fill``), then applied and
prepared while N still commits, so that it too goes the moment N is through.

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
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import Batch
from tokenmall.domain.ledger.journal import IdempotencyConflict
from tokenmall.services import loop_answers
from tokenmall.services.ledger.book import TenantBook, bind, load_book
from tokenmall.services.loop_answers import Answer

log = logging.getLogger(__name__)

LINGER_SECONDS = 0.001
# The writer thread and its committer hand the GIL to each other on every commit, and the
# client threads wait for it to be answered: at CPython's default switch interval (5 ms) a
# thread whose database reply has arrived can wait that long for a busy thread to let go.
# A process with an overlapping writer runs with 0.5 ms (2026-11-30, quiet machine, 64 clients:
# 3,755 purchases/s at 5 ms, 4,099 at 1 ms, 4,416 at 0.2 ms; single runs, noisy).
SWITCH_INTERVAL_SECONDS = 0.0005  # float-ok: time
HAND_OVER_SECONDS = 0.002  # float-ok: time (at most this long for the committer to start)
# While a batch of fewer than this many commits, the next one is applied as its requests arrive
# and goes to the committer the moment that commit is through (``_grow``); behind a bigger one
# it is gathered with a linger first, since there a full batch matters more than an early one
# (2026-11-30, three alternating pairs: 16 clients 2,950-2,986 -> 3,355-3,913 purchases/s;
# 64 clients unchanged, 5,887-7,200 vs 5,651-7,276; growing behind every batch cost 64 clients
# 10-15 %, its batches shrinking to ~20).
GROW_BELOW = 16
# Keys the overlapping writer committed lately (it looks these up: a retry comes soon after
# its request), kept as their hashes (~60 bytes each: ~2 MB a busy writer; a hash shared by
# another key only costs that key a look-up), and how long it looks up every key after a replay
# it did not expect. 32,768 keys are ~4 s of a tenant at 8,000 purchases/s, hours of a quiet one.
RECENT_KEYS = 32_768
LOOK_UP_SECONDS = 10.0  # float-ok: time
KEY_CONSTRAINT = "uq_journals_tenant_key"
INBOX_POLL_SECONDS = 0.005  # how often an idle owner listens for inbox notifications
INBOX_SAFETY_SECONDS = 1.0  # an owner reads the inbox at least this often, notified or not


class WriterClosed(RuntimeError):
    """The writer was closed before it could take the command."""


class NotOwner(RuntimeError):
    """Another process holds this tenant's writer lock."""


@dataclass(slots=True)
class _Request:
    command: c.Command
    # A thread's ``Future``, or the writer's end of a coroutine's (``loop_answers``).
    future: Future[Any] | Answer = field(default_factory=Future)
    inbox_id: int | None = None  # set when the command came from another process
    known_fingerprint: str | None = None  # computed on the caller's thread (``submit``)

    def fingerprint(self) -> str:
        """The command's fingerprint (computed here if the caller did not)."""
        if self.known_fingerprint is None:
            self.known_fingerprint = self.command.fingerprint()
        return self.known_fingerprint


@dataclass(slots=True)
class _InFlight:
    """A batch applied to the book and handed to the committer, not yet answered."""

    batch: list[_Request]
    outcomes: list[tuple[bool, Any]]
    keys: dict[str, tuple[str, dict[str, Any]]]  # key -> (fingerprint, result) it commits
    done: Future[None]


# settle(store, conn, tenant_id, business_date) -> result: part A's ``settlement.settle_in``.
Settle = Callable[[Store, Connection, str, date], dict[str, Any]]
_STOP = object()
_COMMITTED = object()  # queued when a batch in flight has committed (or failed)


class TenantWriter:
    """The single writer of one tenant's ledger in this process."""

    def __init__(
        self,
        store: Store,
        tenant_id: str,
        *,
        max_batch: int = 256,
        linger_seconds: float = LINGER_SECONDS,  # float-ok: seconds or a rate of time, never money
        settle: Settle | None = None,
        use_inbox: bool | None = None,
        overlap: bool | None = None,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self._settle_fn = settle
        self._postgres = store.engine.dialect.name == "postgresql"
        self.use_inbox = self._postgres if use_inbox is None else use_inbox
        # Apply batch N+1 while batch N commits (PostgreSQL: SQLite has one writer at a time).
        self.overlap = self._postgres if overlap is None else overlap
        self._committer: ThreadPoolExecutor | None = None
        self._inflight: _InFlight | None = None
        self._reader: Connection | None = None  # reads for the next batch while one commits
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: Connection | None = None
        self._session: Any = None  # the DBAPI connection that holds the lock
        self._book: TenantBook | None = None
        self.lost = False  # another process took the tenant: this writer must stop
        self._inbox_looked = 0.0
        self._inbox_hint = True  # a notification arrived (or we just took over): read the inbox
        self._held: Any = None  # a settlement or stop that ended the batch: it comes next
        self._expect = 1  # the last answered batch's size: callers coming back (``_fill``)
        self._recent: set[int] = set()  # hashes of keys committed lately (``RECENT_KEYS``),
        self._recent_order: deque[int] = deque()  # oldest first
        self._look_up_until = 0.0  # look up every key until then (after an unexpected replay)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"writer-{tenant_id}", daemon=True)
        self.batches = 0  # committed batches (figures for benchmarks and tests)
        self.commands = 0  # commands answered by committed batches
        self.overlapped = 0  # batches applied while the one before them was committing
        self.late_replays = 0  # batches done again: a replayed key was found only at commit

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
        if self.overlap and sys.getswitchinterval() > SWITCH_INTERVAL_SECONDS:
            sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # process-wide: see above
        self._thread.start()
        return self

    def close(self, timeout: float | None = 30.0) -> None:  # float-ok: time
        """Answer everything queued, stop the thread and release the tenant."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)  # the thread answers what is queued, then disconnects
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
        self._queue.put(_Request(command, answer, known_fingerprint=command.fingerprint()))

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        busy = False
        while True:
            held, self._held = self._held, None
            if held is _STOP:  # it ended the last batch: requeue it behind anything that raced it
                self._queue.put(_STOP)
                held = None
            item = held if held is not None else self._next()
            if item is None:  # idle: answer what is committing, then look at the inbox
                if self._inflight is not None:
                    self._drain()
                    continue
                busy = False
                self._take_inbox([])
                continue
            if item is _STOP:
                self._drain()
                if not self.lost:
                    self._take_inbox([])
                self._disconnect()
                if self._committer is not None:
                    self._committer.shutdown(wait=True)
                return
            if isinstance(item.command, c.SettleDay):
                self._drain()
                self._settle(item)
                continue
            batch: list[_Request] = [item]
            self._held = self._fill(batch, busy)  # what is queued after it waits (``_grow``)
            self._take_inbox(batch)
            self._process(batch)
            busy = len(batch) > 1

    def _next(self) -> Any:
        """The next request, settlement or stop; None when idle or when the batch in flight
        has committed (answer it). While one commits, wait for new requests: the callers just
        answered are about to send theirs, and applying them now overlaps that commit (a
        writer that answered the committing batch first as soon as its queue was empty let
        every other commit run alone: 64 clients, 2026-11-30)."""
        while True:
            flight = self._inflight
            try:
                if flight is not None:
                    item = self._queue.get()  # _COMMITTED comes when the flight is done
                else:
                    item = self._queue.get(timeout=INBOX_POLL_SECONDS if self.use_inbox else None)
            except queue.Empty:
                return None
            if item is not _COMMITTED:
                return item
            if flight is None or flight.done.done():
                return None
            # a mark left by an earlier flight: keep waiting for this one

    def _fill(self, batch: list[_Request], busy: bool) -> Any:
        """Add queued requests to ``batch``; return a settlement or stop that ends it."""
        # Linger only while callers are many: one caller alone would just wait for nothing.
        # While a batch commits, the batch grows as it is applied instead (``_grow``).
        flight = self._inflight
        growing = self.overlap and flight is not None and len(flight.batch) < GROW_BELOW
        deadline = time.perf_counter() + (self.linger_seconds if busy and not growing else 0.0)
        # The callers coming back are the ones the last batch answered: once that many are
        # here and nothing more is queued, lingering on only delays them (2026-12-01):
        # - with nothing committing (SQLite; PostgreSQL between bursts), lingering the whole
        #   millisecond cost SQLite's two clients 60 % of one client's rate (3,268 -> 1,275/s);
        # - while a batch commits, lingering until that commit ended left the database idle
        #   while this batch was then applied and prepared (~2.7 ms between commits at 64
        #   clients, the committer busy 53 % of the time); now this batch is applied during
        #   that commit and goes the moment it is through (64 clients 9.9-12.3k -> 11.9-13.9k).
        # A caller still missing is lingered for, up to the deadline or the end of the commit.
        enough = self._expect
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if len(batch) >= enough:
                    return None
                wait = deadline - time.perf_counter()
                if wait <= 0:
                    return None
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    return None
            if item is _COMMITTED:
                # The batch in flight is through: stop lingering, so that it is answered
                # right after this batch is applied (and this one goes to the committer).
                if self._inflight is not None and self._inflight.done.done():
                    return None
                continue
            if item is _STOP or isinstance(item.command, c.SettleDay):
                return item
            batch.append(item)
        return None

    def _take_inbox(self, batch: list[_Request]) -> None:
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
            rows = inbox.claimable(self._connection(), self.tenant_id, self.max_batch - len(batch))
        except Exception:
            log.exception("reading the inbox of tenant %s failed", self.tenant_id)
            self._reset()
            return
        if not rows:
            return
        # Arrival order is kept: rows up to the first settlement join the batch; a settlement
        # at the head runs alone (idle writer); anything behind it waits for the next look.
        taken: list[_Request] = []
        for row_id, command in rows:
            if isinstance(command, c.SettleDay):
                if not batch and not taken:
                    self._settle(_Request(command, inbox_id=row_id))
                break
            taken.append(_Request(command, inbox_id=row_id))
        if batch:
            batch.extend(taken)
        elif taken:
            self._process(taken)

    def _hear(self) -> None:
        """Note an inbox notification that arrived on the (idle) writer connection."""
        if self._conn is not None and self.tenant_id in inbox.hear(self._conn):
            self._inbox_hint = True

    # -- one batch ----------------------------------------------------------------------------

    def _process(self, batch: list[_Request]) -> None:
        # A lone command with nothing committing gains nothing from overlapping: it would
        # only pay for the hand-over to the committer thread.
        if self.overlap and (len(batch) > 1 or self._inflight is not None):
            self._process_overlapped(batch)
        else:
            self._process_serial(batch)

    def _process_serial(self, batch: list[_Request], attempts: int = 2) -> None:
        for attempt in range(1, attempts + 1):
            try:
                outcomes = self._attempt(batch)
            except Exception as error:
                log.warning(
                    "tenant %s: a batch of %d failed (attempt %d): %r",
                    self.tenant_id, len(batch), attempt, error,
                )
                self._reset()
                if attempt == attempts:
                    self._fail(batch, error)
                    return
                continue
            self.batches += 1
            self.commands += len(batch)
            self._remember(
                r.command.idempotency_key for r, (ok, _) in zip(batch, outcomes, strict=True) if ok
            )
            _resolve(batch, outcomes)
            self._expect = len(batch)
            return

    def _attempt(self, batch: list[_Request]) -> list[tuple[bool, Any]]:
        """Apply ``batch`` to the book and write it in one transaction."""
        conn = self._connection()
        store, tenant = self.store, self.tenant_id
        outcomes: list[tuple[bool, Any]] = []
        with conn.begin():
            book = self._book_on(conn)
            stored = store.find_journals(conn, tenant, [r.command.idempotency_key for r in batch])
            book.prefetch([r.command for r in batch if r.command.idempotency_key not in stored])
            for request in batch:
                command = request.command
                found = stored.get(command.idempotency_key)
                if found is not None:
                    outcomes.append(replay(found, command, request.fingerprint()))
                    continue
                try:
                    outcomes.append((True, book.apply(command, request.fingerprint()).result))
                except DomainError as refused:  # the book is unchanged; nothing to write
                    outcomes.append((False, refused))
            store.write_batch(conn, tenant, book.take_batch())
            inbox.answer(conn, tenant, _inbox_replies(batch, outcomes))
        return outcomes

    def _process_overlapped(self, batch: list[_Request]) -> None:
        """Apply ``batch`` while the previous one commits; hand it to the committer once that
        one has committed (see the module's docstring)."""
        try:
            outcomes, rows, keys = self._apply_ahead(batch)
            # Everything Python does for the writes happens here, while the one before commits.
            prepared = self.store.prepare_batch(self.tenant_id, rows)
            bound = self.store.bind_batch(prepared) if prepared else None
            replies = _inbox_replies(batch, outcomes)
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
        self._inflight = _InFlight(batch, outcomes, keys, done)
        done.add_done_callback(self._committed)
        # Let the committer put the batch on the wire before this thread (and the callers it
        # is about to wake) take the GIL back: a committer left waiting for it started up to
        # 5 ms late while the next batch was applied (64 clients, 2026-11-30).
        sent.wait(HAND_OVER_SECONDS)
        # The database has the next batch to work on before the callers of the one before
        # are woken (waking them costs the GIL time the committer's hand-over would wait for).
        self._answer(before)

    def _committed(self, _: Future[None]) -> None:
        self._queue.put(_COMMITTED)  # wakes a writer waiting in _next or lingering in _fill

    def _apply_ahead(
        self, batch: list[_Request]
    ) -> tuple[list[tuple[bool, Any]], Batch, dict[str, tuple[str, dict[str, Any]]]]:
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
        keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self._apply_chunk(book, batch, outcomes, keys)
        self._grow(book, batch, outcomes, keys)
        # Holders the batch changed stay cached until it has committed (no trimming here).
        return outcomes, book.take_batch(trim=False), keys

    def _grow(
        self,
        book: TenantBook,
        batch: list[_Request],
        outcomes: list[tuple[bool, Any]],
        keys: dict[str, tuple[str, dict[str, Any]]],
    ) -> None:
        """While the batch in flight commits, apply what arrives, in chunks, to this batch:
        it goes to the committer the moment that commit is through, instead of waiting for a
        linger and then for its own applying."""
        while len(batch) < self.max_batch and self._held is None:
            flight = self._inflight
            if flight is None or flight.done.done() or len(flight.batch) >= GROW_BELOW:
                return
            item = self._queue.get()  # a request, or the mark that the flight is through
            chunk: list[_Request] = []
            while True:
                if item is _COMMITTED:
                    if flight.done.done():
                        break
                elif item is _STOP or isinstance(item.command, c.SettleDay):
                    self._held = item
                    break
                else:
                    chunk.append(item)
                    if len(batch) + len(chunk) >= self.max_batch:
                        break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if chunk:
                batch.extend(chunk)  # first: if applying fails, the batch is redone with it
                self._apply_chunk(book, chunk, outcomes, keys)

    def _apply_chunk(
        self,
        book: TenantBook,
        chunk: list[_Request],
        outcomes: list[tuple[bool, Any]],
        keys: dict[str, tuple[str, dict[str, Any]]],
    ) -> None:
        store, tenant = self.store, self.tenant_id
        inflight = self._inflight.keys if self._inflight is not None else {}
        wanted = [r.command.idempotency_key for r in chunk]
        if time.monotonic() < self._look_up_until:
            ask = [k for k in wanted if k not in inflight]
        else:  # only keys it may have seen (see the module's docstring)
            recent = self._recent
            ask = [k for k in wanted if hash(k) in recent and k not in inflight]
        reader = self._reader_connection()
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

    def _wait(self, flight: _InFlight) -> bool:
        """Wait for ``flight``'s commit; nothing is in flight after. If it failed, it is done
        again one at a time from a reloaded book (its one retry) and answered: False."""
        self._inflight = None
        try:
            flight.done.result()
        except Exception as error:
            if _replayed_key(error):
                # A key committed before this writer's memory: the batch is done again with
                # every key looked up (the session is fine: the committer rolled back).
                log.info(
                    "tenant %s: a batch of %d held a replayed key; doing it again with every "
                    "key looked up", self.tenant_id, len(flight.batch),
                )
                self.late_replays += 1
                self._look_up_until = time.monotonic() + LOOK_UP_SECONDS
                self._book = None
            else:
                log.warning(
                    "tenant %s: a batch of %d failed (attempt 1): %r",
                    self.tenant_id, len(flight.batch), error,
                )
                self._reset()
            self._process_serial(flight.batch, attempts=1)
            return False
        return True

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

    def _answer(self, flight: _InFlight | None) -> None:
        """Answer the callers of a batch that committed."""
        if flight is None:
            return
        self.batches += 1
        self.commands += len(flight.batch)
        self._remember(flight.keys)
        _resolve(flight.batch, flight.outcomes)
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

    def _fail(self, batch: list[_Request], error: Exception) -> None:
        """Answer a batch that could not be committed; inbox rows are marked failed."""
        status = "refused" if isinstance(error, DomainError) else "failed"
        replies = [
            inbox.Reply(r.inbox_id, status, type(error).__name__, str(error))
            for r in batch
            if r.inbox_id is not None
        ]
        if replies:
            try:
                conn = self._connection()
                with conn.begin():
                    inbox.answer(conn, self.tenant_id, replies)
            except Exception:
                log.exception("marking inbox rows of tenant %s failed", self.tenant_id)
                self._reset()
        for request in batch:
            if not request.future.done():
                request.future.set_exception(error)

    def _settle(self, request: _Request) -> None:
        """A day's settlement: after the batches before it, in its own transaction."""
        if self._settle_fn is None:
            from tokenmall.services.ledger.settlement import settle_in

            self._settle_fn = settle_in
        command = request.command
        assert isinstance(command, c.SettleDay)
        outcome: tuple[bool, Any]
        try:
            conn = self._connection()
            with conn.begin():
                # settle_in answers a settled day with its first result (settled_days).
                day = command.business_date
                outcome = (True, self._settle_fn(self.store, conn, self.tenant_id, day))
                inbox.answer(conn, self.tenant_id, _inbox_replies([request], [outcome]))
        except DomainError as refused:
            outcome = (False, refused)
            if request.inbox_id is not None:
                self._fail([request], refused)
        except Exception as error:
            self._reset()
            self._fail([request], error)
            return
        finally:
            self._book = None  # settlement wrote behind the book: load a new one
        _resolve([request], [outcome])

    # -- connection and book ------------------------------------------------------------------

    def _book_on(self, conn: Connection) -> TenantBook:
        if self._book is None:
            self._book = load_book(self.store, conn, self.tenant_id)
        else:
            bind(self.store, self._book, conn)
        return self._book

    def _connection(self) -> Connection:
        conn = self._conn
        # A session-level lock lives exactly as long as its server session, so the writer
        # checks that its DBAPI connection is still the one that took the lock (SQLAlchemy
        # would otherwise reconnect an invalidated connection silently, without the lock).
        if (
            conn is None
            or conn.closed
            or conn.invalidated
            or conn.connection.dbapi_connection is not self._session
        ):
            self._disconnect()
            self._connect()
        assert self._conn is not None
        return self._conn

    def _connect(self) -> None:
        """A session for the writer; on PostgreSQL it must (re)take the tenant's lock."""
        conn = self.store.engine.connect()
        try:
            owner = not self._postgres or inbox.try_lock(conn, self.tenant_id)
        except Exception:
            conn.close()
            raise
        if not owner:
            conn.close()
            self.lost = True
            raise NotOwner(f"another process writes tenant {self.tenant_id}")
        self._book = None  # whatever we held may be stale: someone else may have written
        self._session = conn.connection.dbapi_connection
        self._conn = conn
        if self._postgres:
            inbox.listen(conn)
            self._inbox_hint = True  # rows may have waited for a new owner

    def _disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:
                log.debug("closing tenant %s's reader failed", self.tenant_id)
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._postgres and not conn.invalidated and not conn.closed:
                if conn.in_transaction():
                    conn.rollback()
                inbox.unlock(conn, self.tenant_id)
                inbox.unlisten(conn)
                conn.commit()
        except Exception:
            log.debug("releasing tenant %s failed; ending the session frees it", self.tenant_id)
        finally:
            conn.close()

    def _reset(self) -> None:
        """After a failure: forget the book (it may be ahead of the database) and the session
        (it may be gone, and with it the lock); the next use reconnects and re-takes it."""
        self._book = None
        self._disconnect()


def replay(
    found: tuple[str, dict[str, Any]], command: c.Command, fingerprint: str | None = None
) -> tuple[bool, Any]:
    """A key already committed: its first result if the request is the same, else a conflict
    (``fingerprint``: the command's, if already computed)."""
    first, result = found
    if first != (fingerprint if fingerprint is not None else command.fingerprint()):
        return False, IdempotencyConflict(command.idempotency_key)
    return True, result


def _replayed_key(error: BaseException) -> bool:
    """Whether ``error`` is the journals' idempotency key refusing a key already stored
    (psycopg's error, or SQLAlchemy's wrapping it)."""
    cause: Any = getattr(error, "orig", None) or error.__cause__ or error
    diag = getattr(cause, "diag", None)
    return (
        getattr(cause, "sqlstate", None) == "23505"
        and diag is not None
        and diag.constraint_name == KEY_CONSTRAINT
    )


def _resolve(batch: Iterable[_Request], outcomes: Iterable[tuple[bool, Any]]) -> None:
    for request, (ok, value) in zip(batch, outcomes, strict=True):
        if request.future.done():
            continue
        if ok:
            request.future.set_result(value)
        else:
            request.future.set_exception(value)


def _inbox_replies(
    batch: Iterable[_Request], outcomes: Iterable[tuple[bool, Any]]
) -> list[inbox.Reply]:
    """The answers to write back for the requests that came from the inbox."""
    replies: list[inbox.Reply] = []
    for request, (ok, value) in zip(batch, outcomes, strict=True):
        if request.inbox_id is None:
            continue
        if ok:
            replies.append(inbox.Reply(request.inbox_id, "done", result=value))
        else:
            replies.append(
                inbox.Reply(request.inbox_id, "refused", type(value).__name__, str(value))
            )
    return replies


def __getattr__(name: str) -> Any:
    """``writer.WriterPool`` lives in ``writer_pool`` (imported lazily: it imports this)."""
    if name == "WriterPool":
        from tokenmall.services.writer_pool import WriterPool

        return WriterPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
