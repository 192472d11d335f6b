"""Queries of the transparency log (``log_tables``): the ``TransparencyLog`` port in SQL.

An append locks the tenant's head row (``head(for_update=True)``), so one transaction at a
time extends a tenant's log and indexes are dense; the leaves and the nodes they complete are
inserted in the same transaction as the change they record. Node reads of one unit are cached
(a node never changes once written).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from tokenmall.adapters.db.mall import tenants as mall_tenants
from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.nfg.log_tables import (
    log_checkpoints,
    log_days,
    log_heads,
    log_keys,
    log_leaves,
    log_nodes,
)
from tokenmall.adapters.db.tables import journals, postings, settled_days


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    signed_size: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredKey:
    name: str
    public_key: bytes
    sealed_private_key: bytes


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    index: int
    type: str
    subject: str | None
    leaf: bytes


@dataclass(frozen=True, slots=True)
class LeafRun:
    leaves: bytes  # the leaves' bytes, joined by newlines
    kinds: str  # their stored types, joined by newlines
    count: int
    low: str | None  # the least and the greatest stored type (equal: one type)
    high: str | None
    first: int  # the least and the greatest index (-1 when there is none)
    last: int


@dataclass(frozen=True, slots=True)
class SettledDay:
    day: date
    first_journal_id: int | None
    last_journal_id: int | None


@dataclass(frozen=True, slots=True)
class LoggedDay:
    day: date
    first_journal_id: int | None
    last_journal_id: int | None
    journals: int
    digest: bytes
    leaf_index: int


class SqlLog:
    """One tenant's log, or several: every call names the tenant."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._nodes: dict[tuple[str, int, int], bytes] = {}

    # -- the head

    def head(self, tenant_id: str, *, for_update: bool = False, now: datetime) -> Head:
        """The tenant's head (made, empty, on first use)."""
        query = select(log_heads.c.size, log_heads.c.signed_size, log_heads.c.updated_at).where(
            log_heads.c.tenant_id == tenant_id
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
            self.conn.execute(
                dialect.insert(log_heads)
                .values(tenant_id=tenant_id, size=0, signed_size=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            row = self.conn.execute(query).first()
            assert row is not None
        return Head(int(row.size), int(row.signed_size), aware(row.updated_at))

    def peek(self, tenant_id: str) -> Head | None:
        row = self.conn.execute(
            select(log_heads.c.size, log_heads.c.signed_size, log_heads.c.updated_at).where(
                log_heads.c.tenant_id == tenant_id
            )
        ).first()
        return (
            None
            if row is None
            else Head(int(row.size), int(row.signed_size), aware(row.updated_at))
        )

    def set_size(self, tenant_id: str, size: int, now: datetime) -> None:
        self.conn.execute(
            update(log_heads)
            .where(log_heads.c.tenant_id == tenant_id)
            .values(size=size, updated_at=now)
        )

    def tenant_exists(self, tenant_id: str) -> bool:
        return mall_tenants.exists(self.conn, tenant_id)

    def tenants(self) -> list[str]:
        """The tenants with a log, in id order."""
        return list(
            self.conn.execute(
                select(log_heads.c.tenant_id).order_by(log_heads.c.tenant_id)
            ).scalars()
        )

    def settled_tenants(self) -> list[str]:
        """The tenants with a settled ledger day."""
        return list(self.conn.execute(select(settled_days.c.tenant_id).distinct()).scalars())

    # -- leaves and nodes

    def add_leaves(
        self,
        tenant_id: str,
        leaves: Sequence[StoredLeaf],
        nodes: Sequence[tuple[int, int, bytes]],
        now: datetime,
    ) -> None:
        if leaves:
            self.conn.execute(
                insert(log_leaves),
                [
                    {
                        "tenant_id": tenant_id,
                        "idx": leaf.index,
                        "type": leaf.type,
                        "subject": leaf.subject,
                        "leaf": leaf.leaf,
                        "created_at": now,
                    }
                    for leaf in leaves
                ],
            )
        if nodes:
            self.conn.execute(
                insert(log_nodes),
                [
                    {"tenant_id": tenant_id, "level": level, "idx": index, "hash": digest}
                    for level, index, digest in nodes
                ],
            )
            for level, index, digest in nodes:
                self._nodes[(tenant_id, level, index)] = digest

    def node(self, tenant_id: str, level: int, index: int) -> bytes:
        key = (tenant_id, level, index)
        found = self._nodes.get(key)
        if found is None:
            found = self.conn.execute(
                select(log_nodes.c.hash).where(
                    log_nodes.c.tenant_id == tenant_id,
                    log_nodes.c.level == level,
                    log_nodes.c.idx == index,
                )
            ).scalar_one_or_none()
            if found is None:
                raise LookupError(f"log node ({level}, {index}) of {tenant_id} is missing")
            found = bytes(found)
            self._nodes[key] = found
        return found

    def nodes(self, tenant_id: str, wanted: Sequence[tuple[int, int]]) -> None:
        """Read these nodes into the unit's cache in one query (a proof's nodes)."""
        missing = [w for w in wanted if (tenant_id, *w) not in self._nodes]
        if not missing:
            return
        rows = self.conn.execute(
            select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(
                log_nodes.c.tenant_id == tenant_id,
                tuple_(log_nodes.c.level, log_nodes.c.idx).in_(missing),
            )
        )
        for row in rows:
            self._nodes[(tenant_id, int(row.level), int(row.idx))] = bytes(row.hash)

    def entries(self, tenant_id: str, start: int, end: int) -> list[StoredLeaf]:
        rows = self.conn.execute(
            select(log_leaves.c.idx, log_leaves.c.type, log_leaves.c.subject, log_leaves.c.leaf)
            .where(
                log_leaves.c.tenant_id == tenant_id,
                log_leaves.c.idx >= start,
                log_leaves.c.idx < end,
            )
            .order_by(log_leaves.c.idx)
        )
        return [StoredLeaf(int(r.idx), r.type, r.subject, bytes(r.leaf)) for r in rows]

    def each_leaf(self, tenant_id: str, batch: int = 50_000) -> Iterator[StoredLeaf]:
        """Every leaf in index order, read in batches."""
        start = 0
        while True:
            found = self.entries(tenant_id, start, start + batch)
            yield from found
            if len(found) < batch:
                return
            start += batch

    def each_node(self, tenant_id: str) -> Iterator[tuple[int, int, bytes]]:
        rows = self.conn.execute(
            select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash)
            .where(log_nodes.c.tenant_id == tenant_id)
            .order_by(log_nodes.c.level, log_nodes.c.idx)
        )
        for row in rows:
            yield int(row.level), int(row.idx), bytes(row.hash)

    # -- bulk reads for the verifier: the driver's own cursor, no SQLAlchemy rows

    def _raw(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        """All rows of ``sql`` (``?`` for each parameter) through the driver's cursor, in the
        unit's transaction."""
        if self.conn.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        driver = self.conn.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def leaf_batches(
        self, tenant_id: str, batch: int = 50_000, after: int = -1
    ) -> Iterator[list[tuple[int, str, bytes]]]:
        """Every leaf after index ``after`` as ``(index, type, leaf)`` in index order, ``batch``
        at a time (each batch starts after the last index of the one before, so a gap does not
        end it)."""
        while True:
            rows = self._raw(
                "SELECT idx, type, leaf FROM log_leaves WHERE tenant_id = ? AND idx > ? "
                "ORDER BY idx LIMIT ?",
                (tenant_id, after, batch),
            )
            if not rows:
                return
            if type(rows[0][2]) is not bytes:  # a driver's memoryview
                rows = [(index, kind, bytes(leaf)) for index, kind, leaf in rows]
            yield rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def leaf_run(self, tenant_id: str, start: int, end: int) -> LeafRun:
        """The leaves ``start`` up to ``end`` (excluded) put together by the database in index
        order: their bytes and their stored types, each joined by newlines, their count, the
        least and greatest type and index."""
        if self.conn.dialect.name == "postgresql":
            sql = (
                "SELECT string_agg(leaf, decode('0a', 'hex') ORDER BY idx), "
                "string_agg(type, chr(10) ORDER BY idx), count(*), min(type), max(type), "
                "min(idx), max(idx) FROM log_leaves WHERE tenant_id = ? AND idx >= ? AND idx < ?"
            )
        else:
            # SQLite's group_concat keeps the order of the ordered subquery it reads
            sql = (
                "SELECT CAST(group_concat(leaf, char(10)) AS BLOB), group_concat(type, char(10)), "
                "count(*), min(type), max(type), min(idx), max(idx) FROM "
                "(SELECT idx, leaf, type FROM log_leaves "
                "WHERE tenant_id = ? AND idx >= ? AND idx < ? ORDER BY idx)"
            )
        ((leaves, kinds, count, low, high, first, last),) = self._raw(sql, (tenant_id, start, end))
        return LeafRun(
            bytes(leaves or b""),
            kinds or "",
            int(count),
            low,
            high,
            -1 if first is None else int(first),
            -1 if last is None else int(last),
        )

    def node_run(self, tenant_id: str, level: int, start: int, end: int) -> tuple[bytes, int, bool]:
        """The stored nodes ``(level, start)`` up to ``(level, end)`` (excluded) as one string,
        in index order, put together by the database; how many there are; and whether every one
        is 32 bytes long (so that equal strings mean equal nodes, one by one)."""
        if self.conn.dialect.name == "postgresql":
            joined = "string_agg(hash, ''::bytea ORDER BY idx)"
            sql = (
                f"SELECT {joined}, count(*), coalesce(bool_and(length(hash) = 32), true) "
                "FROM log_nodes WHERE tenant_id = ? AND level = ? AND idx >= ? AND idx < ?"
            )
        else:
            # SQLite's group_concat keeps the order of the ordered subquery it reads
            sql = (
                "SELECT CAST(group_concat(hash, '') AS BLOB), count(*), "
                "coalesce(min(length(hash)) = 32 AND max(length(hash)) = 32, 1) FROM "
                "(SELECT hash FROM log_nodes WHERE tenant_id = ? AND level = ? AND idx >= ? "
                "AND idx < ? ORDER BY idx)"
            )
        ((joined_nodes, count, even),) = self._raw(sql, (tenant_id, level, start, end))
        return bytes(joined_nodes or b""), int(count), bool(even)

    def leaf_count(self, tenant_id: str) -> int:
        count = select(func.count()).select_from(log_leaves)
        return int(self.conn.execute(count.where(log_leaves.c.tenant_id == tenant_id)).scalar_one())

    def node_count(self, tenant_id: str) -> int:
        count = select(func.count()).select_from(log_nodes)
        return int(self.conn.execute(count.where(log_nodes.c.tenant_id == tenant_id)).scalar_one())

    def indexes_of_type(self, tenant_id: str, kind: str, end: int) -> list[int]:
        rows = self.conn.execute(
            select(log_leaves.c.idx)
            .where(
                log_leaves.c.tenant_id == tenant_id,
                log_leaves.c.type == kind,
                log_leaves.c.idx < end,
            )
            .order_by(log_leaves.c.idx)
        )
        return [int(index) for (index,) in rows]

    def of_subject(self, tenant_id: str, subject: str) -> list[StoredLeaf]:
        rows = self.conn.execute(
            select(log_leaves.c.idx, log_leaves.c.type, log_leaves.c.subject, log_leaves.c.leaf)
            .where(log_leaves.c.tenant_id == tenant_id, log_leaves.c.subject == subject)
            .order_by(log_leaves.c.idx)
        )
        return [StoredLeaf(int(r.idx), r.type, r.subject, bytes(r.leaf)) for r in rows]

    # -- checkpoints and keys

    def add_checkpoint(
        self, tenant_id: str, size: int, root: bytes, note: str, now: datetime
    ) -> None:
        self.conn.execute(
            insert(log_checkpoints).values(
                tenant_id=tenant_id, size=size, root=root, note=note, created_at=now
            )
        )
        self.conn.execute(
            update(log_heads)
            .where(log_heads.c.tenant_id == tenant_id, log_heads.c.signed_size < size)
            .values(signed_size=size)
        )

    def latest_checkpoint(self, tenant_id: str) -> StoredCheckpoint | None:
        row = self.conn.execute(
            select(log_checkpoints)
            .where(log_checkpoints.c.tenant_id == tenant_id)
            .order_by(log_checkpoints.c.size.desc())
            .limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self, tenant_id: str) -> list[StoredCheckpoint]:
        rows = self.conn.execute(
            select(log_checkpoints)
            .where(log_checkpoints.c.tenant_id == tenant_id)
            .order_by(log_checkpoints.c.size)
        )
        return [_checkpoint(row) for row in rows]

    def key(self, tenant_id: str) -> StoredKey | None:
        row = self.conn.execute(select(log_keys).where(log_keys.c.tenant_id == tenant_id)).first()
        if row is None:
            return None
        return StoredKey(row.name, bytes(row.public_key), bytes(row.sealed_private_key))

    def add_key(self, tenant_id: str, key: StoredKey, now: datetime) -> bool:
        """Store the tenant's key unless another transaction stored one first; True if stored."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        result = self.conn.execute(
            dialect.insert(log_keys)
            .values(
                tenant_id=tenant_id,
                name=key.name,
                public_key=key.public_key,
                sealed_private_key=key.sealed_private_key,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        return bool(result.rowcount)

    # -- the ledger's settled days

    def settled_days(self, tenant_id: str) -> list[SettledDay]:
        """The ledger's settled days in order, each with the journals it closes: those after the
        previous day's last settlement journal, up to its own."""
        rows = self.conn.execute(
            select(
                settled_days.c.business_date,
                func.max(settled_days.c.dividend_journal_id).label("a"),
                func.max(settled_days.c.exit_journal_id).label("b"),
            )
            .where(settled_days.c.tenant_id == tenant_id)
            .group_by(settled_days.c.business_date)
            .order_by(settled_days.c.business_date)
        )
        days: list[SettledDay] = []
        previous = 0
        for row in rows:
            last = max(int(row.a), int(row.b))
            days.append(SettledDay(row.business_date, previous + 1, last))
            previous = last
        return days

    def logged_days(self, tenant_id: str) -> list[LoggedDay]:
        rows = self.conn.execute(
            select(log_days).where(log_days.c.tenant_id == tenant_id).order_by(log_days.c.day)
        )
        return [
            LoggedDay(
                r.day,
                r.first_journal_id,
                r.last_journal_id,
                int(r.journals),
                bytes(r.digest),
                int(r.leaf_index),
            )
            for r in rows
        ]

    def add_day(self, tenant_id: str, day: LoggedDay) -> None:
        self.conn.execute(
            insert(log_days).values(
                tenant_id=tenant_id,
                day=day.day,
                first_journal_id=day.first_journal_id,
                last_journal_id=day.last_journal_id,
                journals=day.journals,
                digest=day.digest,
                leaf_index=day.leaf_index,
            )
        )

    def journals_between(
        self, tenant_id: str, first: int, last: int
    ) -> Iterator[tuple[dict[str, object], list[tuple[int, str, str, str, int]]]]:
        """The journals ``first..last`` in id order, each with its postings in line order."""
        heads = self.conn.execute(
            select(
                journals.c.journal_id,
                journals.c.code,
                journals.c.idempotency_key,
                journals.c.fingerprint,
                journals.c.result,
                journals.c.business_date,
                journals.c.reverses,
                journals.c.created_at,
            )
            .where(
                journals.c.tenant_id == tenant_id,
                journals.c.journal_id >= first,
                journals.c.journal_id <= last,
            )
            .order_by(journals.c.journal_id)
        ).all()
        lines: dict[int, list[tuple[int, str, str, str, int]]] = {}
        for p in self.conn.execute(
            select(
                postings.c.journal_id,
                postings.c.line,
                postings.c.account,
                postings.c.holder,
                postings.c.asset,
                postings.c.amount,
            )
            .where(
                postings.c.tenant_id == tenant_id,
                postings.c.journal_id >= first,
                postings.c.journal_id <= last,
            )
            .order_by(postings.c.journal_id, postings.c.line)
        ):
            lines.setdefault(int(p.journal_id), []).append(
                (int(p.line), p.account, p.holder, p.asset, int(p.amount))
            )
        for h in heads:
            yield dict(h._mapping), lines.get(int(h.journal_id), [])


def _checkpoint(row: object) -> StoredCheckpoint:
    r = row._mapping  # type: ignore[attr-defined]
    return StoredCheckpoint(int(r["size"]), bytes(r["root"]), r["note"], aware(r["created_at"]))


__all__ = [
    "Head",
    "LeafRun",
    "LoggedDay",
    "SettledDay",
    "SqlLog",
    "StoredCheckpoint",
    "StoredKey",
    "StoredLeaf",
]
