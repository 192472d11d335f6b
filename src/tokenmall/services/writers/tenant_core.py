"""The tenant writer's state and its plain half: a batch applied and committed in one go.

``TenantCore`` holds what a tenant writer keeps between batches (the session that holds the
tenant, the book, the figures), and does a batch the plain way: apply it to the book and
write it in ONE transaction (``_process_serial``, two attempts: after a failure the book and
the session are thrown away and the batch runs once more from the database). Settlements
and failures are answered here too. ``pipeline`` adds the overlap; ``tenant`` the loop.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.book import TenantBook, bind, load_book
from tokenmall.services.writers.batching import Batcher, fail, resolve
from tokenmall.services.writers.requests import (
    Call,
    InFlight,
    NotOwner,
    Request,
    Settle,
    inbox_replies,
    replay,
)

log = logging.getLogger(__name__)

LINGER_SECONDS = 0.001


class TenantCore(Batcher[Request]):
    """The single writer of one tenant's ledger in this process: its state and plain half."""

    request_type = Request

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
        super().__init__(
            tenant_id, f"writer-{tenant_id}", max_batch=max_batch, linger_seconds=linger_seconds
        )
        self.store = store
        self._settle_fn = settle
        self._postgres = store.engine.dialect.name == "postgresql"
        self.use_inbox = self._postgres if use_inbox is None else use_inbox
        # Apply batch N+1 while batch N commits (PostgreSQL: SQLite has one writer at a time).
        self.overlap = self._postgres if overlap is None else overlap
        self._committer: ThreadPoolExecutor | None = None
        self._inflight: InFlight | None = None
        self._reader: Connection | None = None  # reads for the next batch while one commits
        self._conn: Connection | None = None
        self._session: Any = None  # the DBAPI connection that holds the lock
        self._book: TenantBook | None = None
        self.lost = False  # another process took the tenant: this writer must stop
        self._inbox_looked = 0.0
        self._inbox_hint = True  # a notification arrived (or we just took over): read the inbox
        self._recent: set[int] = set()  # hashes of keys committed lately (``pipeline``)
        self._recent_order: deque[int] = deque()  # oldest first
        self._look_up_until = 0.0  # look up every key until then (after an unexpected replay)
        self._closed = False
        self.batches = 0  # committed batches (figures for benchmarks and tests)
        self.commands = 0  # commands answered by committed batches
        self.overlapped = 0  # batches applied while the one before them was committing
        self.late_replays = 0  # batches done again: a replayed key was found only at commit

    # -- one batch, the plain way -------------------------------------------------------------

    def _process_serial(self, batch: list[Request], attempts: int = 2) -> None:
        for attempt in range(1, attempts + 1):
            try:
                outcomes = self._attempt(batch)
            except Exception as error:
                log.warning(
                    "tenant %s: a batch of %d failed (attempt %d): %r",
                    self.tenant_id,
                    len(batch),
                    attempt,
                    error,
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
            resolve(batch, outcomes)
            self._expect = len(batch)
            return

    def _attempt(self, batch: list[Request]) -> list[tuple[bool, Any]]:
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
            inbox.answer(conn, tenant, inbox_replies(batch, outcomes))
        return outcomes

    def _remember(self, keys: Iterable[str]) -> None:
        """Note keys just committed (only the overlapping writer keeps them: ``pipeline``)."""

    def _fail(self, batch: list[Request] | list[Call], error: Exception) -> None:
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
        fail(batch, error)

    def _settle(self, request: Call) -> None:
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
                # settle_in answers a settled day with its first result (settled_days); the
                # writer answers it, like every command, with its stored result.
                day = command.business_date
                settled = self._settle_fn(self.store, conn, self.tenant_id, day)
                outcome = (True, settled.to_json())
                inbox.answer(conn, self.tenant_id, inbox_replies([request], [outcome]))
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
        resolve([request], [outcome])

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

    def _hear(self) -> None:
        """Note an inbox notification that arrived on the (idle) writer connection."""
        if self._conn is not None and self.tenant_id in inbox.hear(self._conn):
            self._inbox_hint = True

    def _reset(self) -> None:
        """After a failure: forget the book (it may be ahead of the database) and the session
        (it may be gone, and with it the lock); the next use reconnects and re-takes it."""
        self._book = None
        self._disconnect()
