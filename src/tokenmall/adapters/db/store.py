"""``Store``: the ledger's reads and writes over a connection already inside a transaction.

The writer's hot path is ``write_batch``: a batch of hundreds of commands is four statements
whatever its size (holders upserted, journals, postings, the one economy_state row; plus
parameter rows when a batch changed them). The hot statements bypass SQLAlchemy and run on the
driver's cursor with fixed SQL text (``adapters/db/fast.py``), so the driver prepares each once
per connection: on PostgreSQL every statement is ONE multi-row ``INSERT … SELECT FROM
unnest(array, …)`` (a single statement also fires the statement-level balance-note trigger
once per batch, not once per posting); on SQLite it is the driver's C ``executemany`` over one
prepared statement. Nothing here commits; the use case that opened the transaction does, so a
batch is all or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tokenmall.adapters.db import citus, citus_batch, fast, migrate
from tokenmall.adapters.db.citus_direct import DirectRoutes
from tokenmall.adapters.db.engine import make_engine, require_existing
from tokenmall.adapters.db.settings import database_url, existing_database_url
from tokenmall.adapters.db.tables import (
    economy_state,
    tenant_params,
    tenants,
)
from tokenmall.config import Settings
from tokenmall.domain.economy import DEFAULT, Params
from tokenmall.domain.economy.state import EconomyState, Holder
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger.accounts import AccountKind, Asset
from tokenmall.domain.ledger.batch import HOLDER_FIELDS, STATE_FIELDS, Batch, holder_from_row
from tokenmall.domain.ledger.journal import UnknownTenant

assert fast.HOLDER_COLUMNS == HOLDER_FIELDS


def params_from_public(public: dict[str, Any]) -> Params:
    return DEFAULT.updated(public)


# ``json.dumps(result, ensure_ascii=False, sort_keys=True)``, its encoder made once (a batch
# encodes one result per journal).
_RESULT_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def journal_rows(batch: Batch) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The journals and postings of a batch as rows (``fast.JOURNAL_COLUMNS`` and
    ``fast.POSTING_COLUMNS`` order, without the tenant)."""
    journal_out: list[tuple[Any, ...]] = []
    posting_out: list[tuple[Any, ...]] = []
    dumps = _RESULT_JSON.encode
    add = posting_out.append
    for booked in batch.journals:
        d = booked.draft
        jid = booked.journal_id
        result = d.result
        journal_out.append(
            (
                jid,
                str(d.code),
                d.idempotency_key,
                d.request_fingerprint,
                dumps(result),
                d.business_date,
                result.get("reverses"),
            )
        )
        for line, (account, asset, amount) in enumerate(d.postings, start=1):
            add((jid, line, _TEXT[account.kind], account.holder, _TEXT[asset], amount))
    return journal_out, posting_out


# Account kinds and assets as plain strings (what the driver and the array literals take).
_TEXT: dict[Any, str] = {member: str(member) for member in (*AccountKind, *Asset)}


# (database, tenant) → (params_version, Params): ``Store.params_at``.
_PARAMS_CACHE: dict[tuple[str, str], tuple[int, Params]] = {}
_PARAMS_CACHE_MAX = 10_000


_STATE_COLUMNS = ", ".join((*STATE_FIELDS, "last_journal_id", "params_version"))
_PG_READ_STATE = f"SELECT {_STATE_COLUMNS} FROM economy_state WHERE tenant_id = %s"
_PG_LOCK_STATE = f"{_PG_READ_STATE} FOR UPDATE"
_SQLITE_READ_STATE = f"SELECT {_STATE_COLUMNS} FROM economy_state WHERE tenant_id = ?"


class Store:
    """The ledger tables of one database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        citus_batch_call: bool = True,
        citus_direct: bool = False,
        citus_direct_connections: int = 4,
    ) -> None:
        self.engine = engine
        # On Citus: a writer's batch as one call of ``ledger_write_batch`` (off: its statements).
        self.citus_batch_call = citus_batch_call
        self.postgres = engine.dialect.name == "postgresql"
        # On Citus with the call: sent straight to the tenant's worker (``citus_direct``).
        self.direct = (
            DirectRoutes(engine, connections=citus_direct_connections)
            if citus_direct and citus_batch_call and self.postgres
            else None
        )
        self._state_sql: dict[tuple[str, ...], str] = {}
        # The database this store writes (a URL names a schema too, through its options).
        self._cache_scope = engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        migrate_now: bool = True,
        pool_size: int = 8,
        must_exist: bool = False,
    ) -> Store:
        """A store on ``url`` (default: ``TOKENMALL_DATABASE_URL`` or the SQLite file),
        migrated to the newest schema on first use. ``must_exist``: a SQLite file that is not
        there is ``NoSuchDatabase`` instead of a new, empty database (audit, report, settle)."""
        if must_exist:
            url = existing_database_url(url)
            require_existing(url)
        else:
            url = database_url(url)
        engine = make_engine(url, pool_size=pool_size)
        if migrate_now:
            migrate.upgrade(engine)
        settings = Settings()
        return cls(
            engine,
            citus_batch_call=settings.citus_batch_call,
            citus_direct=settings.citus_direct,
            citus_direct_connections=settings.citus_direct_connections,
        )

    def dispose(self) -> None:
        if self.direct is not None:
            self.direct.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: commits if the block ends normally, rolls back if it raises.

        On SQLite the transaction begins with BEGIN IMMEDIATE (the database's write lock)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that takes no write lock."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(tokenmall_readonly=True)
            with conn.begin():
                yield conn

    # -- tenants ------------------------------------------------------------------------------

    def create_tenant(
        self, conn: Connection, tenant_id: str, params: Params = DEFAULT, created_by: str = "system"
    ) -> None:
        if not tenant_id or len(tenant_id) > 64:
            raise DomainError("tenant_id must be 1 to 64 characters")
        exists = conn.execute(
            select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)
        ).first()
        if exists is not None:
            raise DomainError(f"tenant {tenant_id!r} already exists")
        public = json.dumps(params.to_public(), ensure_ascii=False, sort_keys=True)
        conn.execute(tenants.insert().values(tenant_id=tenant_id, params=public, params_version=1))
        conn.execute(
            tenant_params.insert().values(
                tenant_id=tenant_id, version=1, params=public, changed_by=created_by
            )
        )
        _PARAMS_CACHE.pop((self._cache_scope, tenant_id), None)
        state = EconomyState.new(params)
        row = {name: getattr(state, name) for name in STATE_FIELDS}
        conn.execute(
            economy_state.insert().values(
                tenant_id=tenant_id, last_journal_id=0, params_version=1, **row
            )
        )

    def lock_tenant(self, conn: Connection, tenant_id: str) -> None:
        """Take the tenant's write lock for this transaction (PostgreSQL: its state row;
        SQLite: the transaction already holds the database's write lock)."""
        query = select(economy_state.c.tenant_id).where(economy_state.c.tenant_id == tenant_id)
        if self.postgres:
            query = query.with_for_update()
        if conn.execute(query).first() is None:
            raise UnknownTenant(tenant_id)

    def tenant_ids(self, conn: Connection) -> list[str]:
        return list(
            conn.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id)).scalars()
        )

    def load_params(self, conn: Connection, tenant_id: str) -> tuple[Params, int]:
        """The tenant's parameters now (read from ``tenants``; see ``params_at`` for the
        cached copy the ledger uses)."""
        row = conn.execute(
            select(tenants.c.params, tenants.c.params_version).where(
                tenants.c.tenant_id == tenant_id
            )
        ).first()
        if row is None:
            raise UnknownTenant(tenant_id)
        return params_from_public(json.loads(row.params)), row.params_version

    def params_at(self, conn: Connection, tenant_id: str, version: int) -> Params:
        """The tenant's parameters at ``version``, from a per-process cache.

        A version's parameters never change (a change is a new version, written with the
        economy_state row's ``params_version`` in one transaction), so the version read from
        that row — under the tenant's lock on the write paths — names exactly the parameters
        in force: a change made by any process is seen at once, by its new number."""
        cache_key = (self._cache_scope, tenant_id)
        found = _PARAMS_CACHE.get(cache_key)
        if found is not None and found[0] == version:
            return found[1]
        row = conn.execute(
            select(tenant_params.c.params).where(
                tenant_params.c.tenant_id == tenant_id, tenant_params.c.version == version
            )
        ).first()
        if row is None:
            params, stored = self.load_params(conn, tenant_id)
            if stored != version:
                raise DomainError(
                    f"tenant {tenant_id!r} has no parameters at version {version} (at {stored})"
                )
        else:
            params = params_from_public(json.loads(row.params))
        if len(_PARAMS_CACHE) >= _PARAMS_CACHE_MAX:
            _PARAMS_CACHE.clear()
        _PARAMS_CACHE[cache_key] = (version, params)
        return params

    def current_params(self, conn: Connection, tenant_id: str) -> Params:
        """The parameters in force: the state row's version, through ``params_at``'s cache."""
        row = conn.execute(
            select(economy_state.c.params_version).where(economy_state.c.tenant_id == tenant_id)
        ).first()
        if row is None:
            raise UnknownTenant(tenant_id)
        return self.params_at(conn, tenant_id, row[0])

    def load_state(self, conn: Connection, tenant_id: str) -> tuple[EconomyState, int]:
        """The tenant's aggregates (no holders) and its last journal id."""
        state, last_journal_id, _ = self._state(conn, tenant_id, lock=False)
        return state, last_journal_id

    def lock_state(self, conn: Connection, tenant_id: str) -> tuple[EconomyState, int, int]:
        """``lock_tenant`` and ``load_state`` in one statement: the tenant's aggregates, last
        journal id and parameters version, read under its write lock."""
        return self._state(conn, tenant_id, lock=True)

    def lock_state_later(
        self, conn: Connection, tenant_id: str
    ) -> Callable[[], tuple[EconomyState, int, int]]:
        """``lock_state`` sent now, its answer read when called for: on PostgreSQL inside a
        pipeline, the lock's statement goes with the pipeline's others in one round trip."""
        return self._state_later(conn, tenant_id, lock=True)

    def _state(
        self, conn: Connection, tenant_id: str, *, lock: bool
    ) -> tuple[EconomyState, int, int]:
        return self._state_later(conn, tenant_id, lock=lock)()

    def _state_later(
        self, conn: Connection, tenant_id: str, *, lock: bool
    ) -> Callable[[], tuple[EconomyState, int, int]]:
        # Fixed text on the driver's cursor: a writer reads it once a batch, and SQLAlchemy's
        # statement and result handling cost several times the round trip.
        cur = fast.cursor(conn)
        if self.postgres:
            cur.execute(_PG_LOCK_STATE if lock else _PG_READ_STATE, (tenant_id,))
        else:
            cur.execute(_SQLITE_READ_STATE, (tenant_id,))

        def read() -> tuple[EconomyState, int, int]:
            try:
                row = cur.fetchone()
            finally:
                cur.close()
            if row is None:
                raise UnknownTenant(tenant_id)
            state = EconomyState(**dict(zip(STATE_FIELDS, row[:-2], strict=True)))
            return state, row[-2], row[-1]

        return read

    def read_state(self, conn: Connection, tenant_id: str) -> tuple[EconomyState, int, int]:
        """The tenant's aggregates, last journal id and parameters version, without a lock."""
        return self._state(conn, tenant_id, lock=False)

    # -- holders ------------------------------------------------------------------------------

    def holder_loader(
        self, conn: Connection, tenant_id: str
    ) -> Callable[[Sequence[str]], list[Holder]]:
        """``load_holders`` of the tenant bound to ``conn``: a book's lazy holder loader."""
        return lambda names: self.load_holders(conn, tenant_id, names)

    def load_holders(self, conn: Connection, tenant_id: str, names: Sequence[str]) -> list[Holder]:
        """The named holders that exist (absent names are simply not returned)."""
        rows = fast.select_in(conn, self.postgres, "holders", tenant_id, list(names))
        return [holder_from_row(row) for row in rows]

    def load_holders_later(
        self, conn: Connection, tenant_id: str, names: Sequence[str]
    ) -> Callable[[], list[Holder]]:
        """``load_holders`` sent now, read when called for (in a pipeline: with its other
        statements, one round trip)."""
        rows = fast.select_in_later(conn, self.postgres, "holders", tenant_id, list(names))
        return lambda: [holder_from_row(row) for row in rows()]

    def find_journals(
        self, conn: Connection, tenant_id: str, keys: Iterable[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored journals by idempotency key: ``{key: (fingerprint, result)}``."""
        return self.find_journals_later(conn, tenant_id, keys)()

    def find_journals_later(
        self, conn: Connection, tenant_id: str, keys: Iterable[str]
    ) -> Callable[[], dict[str, tuple[str, dict[str, Any]]]]:
        """``find_journals`` sent now, read when called for: on PostgreSQL inside a pipeline,
        with the pipeline's other statements in one round trip."""
        wanted = list(dict.fromkeys(keys))
        rows = fast.select_in_later(conn, self.postgres, "journals", tenant_id, wanted)
        return lambda: {key: (fp, json.loads(result)) for key, fp, result in rows()}

    # -- writing ------------------------------------------------------------------------------

    def write_holders(
        self, conn: Connection, tenant_id: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert or overwrite holder rows (HOLDER_FIELDS order) in one statement."""
        fast.insert_rows(conn, self.postgres, "holders", tenant_id, rows)

    def prepare_batch(self, tenant_id: str, batch: Batch) -> list[fast.Statement] | None:
        """PostgreSQL: the batch's four writes as ``(sql, parameters)``, built without a
        connection (the overlapping writer builds them while the batch before commits);
        ``write_batch(…, prepared=…)`` then only sends them. None on SQLite or when empty."""
        if not self.postgres or batch.empty:
            return None
        journal_out, posting_out = journal_rows(batch)
        statements = [
            fast.pg_insert(table, tenant_id, rows)
            for table, rows in (
                ("holders", batch.holders),
                ("journals", journal_out),
                ("postings", posting_out),
            )
            if rows
        ]
        statements.append(self._state_statement(tenant_id, batch.state))
        return statements

    def write_batch(
        self,
        conn: Connection,
        tenant_id: str,
        batch: Batch,
        prepared: list[fast.Statement] | None = None,
    ) -> None:
        """Write what ``TenantBook.take_batch()`` returned; a handful of statements
        (``prepared``: what ``prepare_batch`` built for this very batch)."""
        if batch.tenant_id != tenant_id:
            raise ValueError(f"batch of {batch.tenant_id} written to {tenant_id}")
        if batch.empty:
            return
        if batch.params:
            conn.execute(
                tenant_params.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "version": p.version,
                        "params": json.dumps(p.params, ensure_ascii=False, sort_keys=True),
                        "journal_id": p.journal_id,
                        "changed_by": p.changed_by,
                    }
                    for p in batch.params
                ],
            )
            last = batch.params[-1]
            conn.execute(
                update(tenants)
                .where(tenants.c.tenant_id == tenant_id)
                .values(
                    params=json.dumps(last.params, ensure_ascii=False, sort_keys=True),
                    params_version=last.version,
                )
            )
        if self.postgres:
            # The four statements go out in one pipeline, one round trip.
            statements = prepared or self.prepare_batch(tenant_id, batch) or []
            with fast.pipeline(conn, self.postgres):
                fast.execute(conn, statements)
            return
        journal_out, posting_out = journal_rows(batch)
        self.write_holders(conn, tenant_id, batch.holders)
        fast.insert_rows(conn, self.postgres, "journals", tenant_id, journal_out)
        fast.insert_rows(conn, self.postgres, "postings", tenant_id, posting_out)
        self.write_state(conn, tenant_id, batch.state)

    def commit_batch(
        self,
        conn: Connection,
        tenant_id: str,
        batch: Batch,
        prepared: list[fast.Statement],
        on_send: Callable[[], object] | None = None,
        bound: list[fast.Bound] | None = None,
    ) -> bool:
        """PostgreSQL: write a prepared batch and commit it, in one round trip, on a
        connection with no transaction open (the overlapping writer's committer); False, and
        nothing done, if the driver's session has a transaction open after all.

        The statements go as one pipeline of statements prepared once per session, one
        implicit transaction (``fast.commit_pipelined``): nothing is parsed or planned per
        batch, and the driver's cursor machinery is not involved (psycopg's own pipeline cost
        ~0.6 ms of Python a batch). SQLAlchemy does not see this transaction; if anything
        fails it is rolled back (on Citus: straight to the tenant's worker as its statements
        when ``self.direct`` can send it there, a booked key then refused by the journals'
        unique key; else the call through the coordinator, ``citus_batch.Replayed`` when a key
        of the batch is already booked, nothing written). ``on_send`` runs just before the
        statements are sent;
        ``bound``: what ``bind_batch`` made of ``prepared`` already (the overlapping writer
        binds a batch on its own thread, off the path between two commits)."""
        if batch.tenant_id != tenant_id:
            raise ValueError(f"batch of {batch.tenant_id} written to {tenant_id}")
        import psycopg

        raw = conn.connection.driver_connection
        assert raw is not None
        if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return False
        statements = bound if bound is not None else fast.bind_text(prepared)
        if self.keys_checked_at_commit(conn):
            if self.direct is not None and self.direct.send(tenant_id, statements, on_send):
                return True  # (straight to the worker; else through the coordinator:)
            call = citus_batch.call(tenant_id, statements, batch.state)
            (answer,) = fast.commit_pipelined(raw, call, on_send)
            found = citus_batch.replayed(answer)
            if found:
                raise citus_batch.Replayed(tenant_id, found)
            return True
        if citus.is_citus(conn):
            statements = citus.pipelined(fast.for_citus(statements), tenant_id)
        fast.commit_pipelined(raw, statements, on_send)
        return True

    def keys_checked_at_commit(self, conn: Connection) -> bool:
        """Whether the writer leaves the batch's idempotency keys to ``commit_batch`` (Citus
        with the one call): it then writes nothing if one is already booked and raises
        ``citus_batch.Replayed`` naming those keys with their stored answers (through the
        coordinator), or the journals' unique key refuses it (straight to the worker: the
        writer does the batch again with every key looked up)."""
        return self.citus_batch_call and citus.is_citus(conn)

    def bind_batch(self, prepared: list[fast.Statement]) -> list[fast.Bound]:
        """PostgreSQL: ``prepared`` as ``commit_batch`` sends it (parameters as text)."""
        return fast.bind_text(prepared)

    def write_state(self, conn: Connection, tenant_id: str, state: dict[str, Any]) -> None:
        """Set the named columns of the tenant's economy_state row (one fixed statement)."""
        fast.execute(conn, [self._state_statement(tenant_id, state)])

    def _state_statement(self, tenant_id: str, state: dict[str, Any]) -> fast.Statement:
        names = tuple(state)
        sql = self._state_sql.get(names)
        if sql is None:
            unknown = [name for name in names if name not in economy_state.c]
            if unknown:
                raise ValueError(f"not columns of economy_state: {unknown}")
            mark = "%s" if self.postgres else "?"
            sets = ", ".join(f"{name} = {mark}" for name in names)
            sql = self._state_sql[names] = (
                f"UPDATE economy_state SET {sets} WHERE tenant_id = {mark}"
            )
        return sql, (*state.values(), tenant_id)
