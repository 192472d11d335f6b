"""Tenant ownership across processes: an advisory lock per tenant and a command inbox.

On PostgreSQL the process whose writer holds ``pg_try_advisory_lock(lock_key(tenant))`` (a
session lock, on the writer's own connection) is the tenant's only writer. Any other process
inserts its command into ``command_inbox`` and waits for the row to be answered; the owner
reads pending rows in id order, applies them in its next batch, and marks each row ``done``
(or ``refused`` with the domain error) in the same transaction as the batch's journals, so a
row is answered exactly when its effect is committed. If the owner's session dies, PostgreSQL
releases the lock; the next process to try takes the tenant and drains what is pending.

SQLite runs one process: the in-process writer is enough and the inbox is never used there
(the table exists on both so the schema is the same).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from tokenmall.adapters.db.tables import NAMING, TENANT

metadata = sa.MetaData(naming_convention=NAMING)

command_inbox = sa.Table(
    "command_inbox",
    metadata,
    sa.Column("tenant_id", sa.String(TENANT), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("command", sa.Text, nullable=False),  # JSON: {"type": …, "fields": {…}}
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("result", sa.Text),  # JSON: the answer the caller gets
    sa.Column("error_type", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('pending', 'done', 'refused', 'failed')", name="status"),
)
sa.Index(
    "ix_command_inbox_pending",
    command_inbox.c.tenant_id,
    command_inbox.c.status,
    command_inbox.c.id,
)

# The key is hashed by the server from the schema and the tenant, so two schemas of one database
# (test runs, side-by-side installs) never contend for each other's tenants.
_KEY = "hashtextextended('tokenmall.writer:' || current_schema() || ':' || :tenant, 0)"


def try_lock(conn: Connection, tenant_id: str) -> bool:
    """Take the tenant's writer lock for this session, if no other session holds it."""
    got = conn.execute(sa.text(f"SELECT pg_try_advisory_lock({_KEY})"), {"tenant": tenant_id})
    owner = bool(got.scalar())
    conn.commit()
    return owner


def unlock(conn: Connection, tenant_id: str) -> None:
    conn.execute(sa.text(f"SELECT pg_advisory_unlock({_KEY})"), {"tenant": tenant_id})


CHANNEL = "tokenmall_inbox"

# -- commands as JSON -----------------------------------------------------------------------


def encode(command: Any) -> str:
    fields = {f.name: _plain(getattr(command, f.name)) for f in dataclasses.fields(command)}
    return json.dumps({"type": type(command).__name__, "fields": fields}, sort_keys=True)


def decode(text: str, kinds: Mapping[str, type]) -> Any:
    """The command ``encode`` wrote, as one of ``kinds`` (its type's name -> the type)."""
    data = json.loads(text)
    cls = kinds.get(data["type"])
    if cls is None or not dataclasses.is_dataclass(cls):
        raise ValueError(f"not a command type: {data['type']}")
    return cls(**{name: _restore(value) for name, value in data["fields"].items()})


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return {"__tuple__": [_plain(v) for v in value]}
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot put {type(value).__name__} into the command inbox")


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_restore(v) for v in value["__tuple__"])
        if "__datetime__" in value:
            return dt.datetime.fromisoformat(value["__datetime__"])
        if "__date__" in value:
            return dt.date.fromisoformat(value["__date__"])
        if "__dict__" in value:
            return {_restore(k): _restore(v) for k, v in value["__dict__"]}
    return value


# -- rows -----------------------------------------------------------------------------------


def put(conn: Connection, tenant_id: str, command: Any) -> int:
    """Insert a command for the tenant's owner; the caller commits."""
    row_id = conn.execute(
        sa.insert(command_inbox)
        .values(tenant_id=tenant_id, command=encode(command))
        .returning(command_inbox.c.id)
    ).scalar_one()
    # Delivered at commit: wakes the owner (see ``listen``); polling is only its safety net.
    conn.execute(
        sa.text("SELECT pg_notify(:channel, :tenant)"), {"channel": CHANNEL, "tenant": tenant_id}
    )
    return int(row_id)


def listen(conn: Connection) -> None:
    """Subscribe the owner's session to inbox notifications (PostgreSQL)."""
    conn.exec_driver_sql(f"LISTEN {CHANNEL}")
    conn.commit()


def unlisten(conn: Connection) -> None:
    """Before the session goes back to the pool: no more notifications piling up on it."""
    conn.exec_driver_sql("UNLISTEN *")


def hear(conn: Connection) -> set[str]:
    """Tenants notified since the last call, without a round trip: psycopg keeps what
    arrived during the session's other statements, and this also reads what is waiting."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return {notify.payload for notify in raw.notifies(timeout=0)}


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one inbox row: ``done`` with a result, or ``refused``/``failed``."""

    row_id: int
    status: str
    error_type: str | None = None
    error: str | None = None
    result: Any = None


def claimable(
    conn: Connection, tenant_id: str, limit: int, kinds: Mapping[str, type]
) -> list[tuple[int, Any]]:
    """Pending commands in arrival order, decoded as ``kinds`` (see ``decode``; only the
    tenant's lock holder calls this)."""
    rows = conn.execute(
        sa.select(command_inbox.c.id, command_inbox.c.command)
        .where(command_inbox.c.tenant_id == tenant_id, command_inbox.c.status == "pending")
        .order_by(command_inbox.c.id)
        .limit(limit)
    ).all()
    conn.commit()
    found: list[tuple[int, Any]] = []
    broken: list[Reply] = []
    for row_id, text in rows:
        try:
            found.append((int(row_id), decode(text, kinds)))
        except Exception as error:  # a row nobody can apply must not block the ones after it
            broken.append(Reply(int(row_id), "failed", type(error).__name__, str(error)))
    if broken:
        answer(conn, tenant_id, broken)
        conn.commit()
    return found


def answer(conn: Connection, tenant_id: str, replies: Iterable[Reply]) -> None:
    """Write the answers, in the caller's transaction (the batch's own)."""
    params = [
        {
            "row_id": r.row_id,
            "new_status": r.status,
            "new_result": None if r.result is None else json.dumps(r.result, sort_keys=True),
            "new_type": r.error_type,
            "new_error": r.error,
        }
        for r in replies
    ]
    if not params:
        return
    conn.execute(
        sa.update(command_inbox)
        .where(
            command_inbox.c.tenant_id == tenant_id,
            command_inbox.c.id == sa.bindparam("row_id"),
        )
        .values(
            status=sa.bindparam("new_status"),
            result=sa.bindparam("new_result"),
            error_type=sa.bindparam("new_type"),
            error=sa.bindparam("new_error"),
            finished_at=sa.func.now(),
        ),
        params,
    )


def answers(conn: Connection, tenant_id: str, ids: Sequence[int]) -> dict[int, Reply]:
    """The answered rows among ``ids``."""
    if not ids:
        return {}
    c = command_inbox.c
    rows = conn.execute(
        sa.select(c.id, c.status, c.error_type, c.error, c.result).where(
            c.tenant_id == tenant_id, c.id.in_(list(ids)), c.status != "pending"
        )
    ).all()
    conn.commit()
    found: dict[int, Reply] = {}
    for row_id, status, error_type, error, result in rows:
        value = None if result is None else json.loads(result)
        found[int(row_id)] = Reply(int(row_id), str(status), error_type, error, value)
    return found


def prune(conn: Connection, tenant_id: str, before: dt.datetime) -> int:
    """Delete answered rows finished before ``before``; the caller commits."""
    result = conn.execute(
        sa.delete(command_inbox).where(
            command_inbox.c.tenant_id == tenant_id,
            command_inbox.c.status != "pending",
            command_inbox.c.finished_at < before,
        )
    )
    return int(result.rowcount or 0)
