"""A large log's leaves checked in worker processes side by side (``log verify --jobs N``).

The leaves ``0..n-1`` (``n``: the leaves stored) are cut into ranges of ``chunk`` leaves, a
power of two, so that the perfect nodes of a range's subtree are nodes of the log's tree. Each
worker process opens its own connection on the database's URL, scans its range as one process
would (``leaf_scan.scan``), builds the range's subtree and compares its stored nodes, and sends
back the subtree (the hashes of each level joined into one string) or where its scan stopped.

The parent takes the ranges in index order. While each holds whole, its levels join the tree's;
the first that does not is scanned again in the parent, from its first leaf to the end of the
log, so the broken leaf named is the one a single scan names (a broken leaf in a later range is
never reported before one in an earlier range). After the last range the parent scans on from
leaf ``n`` (a leaf stored past the count), builds the levels above the ranges and compares
those; the node count, the checkpoints and the rest are ``verify_tenant``'s as before.

Workers are forked (they inherit the loaded code; nothing but the range's bounds is sent to
them, and the hashes come back). Where fork is missing, the database is in memory, ``jobs``
is 1 or the log has fewer than ``threshold`` leaves, ``Fanout.recompute`` answers None and the
caller scans in one process; so does a pool that breaks.
"""

from __future__ import annotations

import multiprocessing
import os
import struct
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import util
from types import TracebackType
from typing import NamedTuple

from tokenmall.adapters.db.engine import make_engine
from tokenmall.domain.log import merkle
from tokenmall.services.log import leaf_scan
from tokenmall.services.log.leaf_scan import Recomputed
from tokenmall.services.log.ports import LogStore
from tokenmall.services.mall.uow import Database

THRESHOLD = 100_000  # fewer leaves than this: one process (forking costs more than it saves)
CHUNK = 1 << 16  # leaves a range (a power of two; 16 ranges a million leaves)
MAX_JOBS = 8
_HASHES = struct.Struct("32s")


def default_jobs() -> int:
    """One worker a core, at most ``MAX_JOBS``."""
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


class Part(NamedTuple):
    """What a worker found in its range."""

    stop: int  # the index after the last leaf that held
    problem: str | None  # the first broken leaf of the range
    levels: list[bytes]  # the range's subtree, a level a string (empty unless the range held)
    nodes_hold: bool  # whether the stored nodes of the subtree match it


_DATABASES: dict[tuple[int, str], Database] = {}


def _database(url: str) -> Database:
    """This worker process's own engine on ``url`` (the parent's connections are left alone)."""
    key = (os.getpid(), url)
    if key not in _DATABASES:
        db = Database(make_engine(url, pool_size=1))
        util.Finalize(db, db.dispose, exitpriority=10)  # closed when the worker exits
        _DATABASES[key] = db
    return _DATABASES[key]


def check_range(
    url: str, tenant_id: str, start: int, end: int, batch: int, nodes: bool = True
) -> Part:
    """A worker's task: leaves ``start`` up to ``end`` checked, their subtree built and (if
    ``nodes``) compared with the stored nodes (``start`` a multiple of the range size, a power
    of two)."""
    with _database(url).reading() as unit:
        hashes: list[bytes] = []
        stop, problem = leaf_scan.scan(unit.log, tenant_id, start, end, hashes, None, batch)
        if problem is not None or stop != end:
            return Part(stop, problem, [], False)
        tree = merkle.MemoryTree.of_leaf_hashes(hashes)
        holds = not nodes or all(
            leaf_scan.level_holds(unit.log, tenant_id, level, start >> level, nodes)
            for level, nodes in enumerate(tree.levels)
        )
        return Part(end, None, [b"".join(nodes) for nodes in tree.levels], holds)


def _hashes(joined: bytes) -> list[bytes]:
    """The 32-byte hashes a string of them holds, in order."""
    return [digest for (digest,) in _HASHES.iter_unpack(joined)]


def shareable_url(db: Database) -> str | None:
    """The URL a worker opens ``db`` again with; None for a database only this process sees."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        name = url.database or ""
        if name in ("", ":memory:") or url.query.get("mode") == "memory":
            return None
    return url.render_as_string(hide_password=False)


class Fanout:
    """Worker processes for the logs of one verification (a pool made when first needed)."""

    def __init__(
        self,
        url: str | None,
        jobs: int,
        threshold: int = THRESHOLD,
        chunk: int = CHUNK,
        batch: int = leaf_scan.LEAF_BATCH,
    ) -> None:
        if chunk < 1 or chunk & (chunk - 1):
            raise ValueError(f"chunk must be a power of two, not {chunk}")
        self.url = url
        self.jobs = jobs
        self.threshold = threshold
        self.chunk = chunk
        self.batch = batch
        self._pool: ProcessPoolExecutor | None = None
        self._usable = (
            url is not None and jobs > 1 and "fork" in multiprocessing.get_all_start_methods()
        )

    @classmethod
    def of(cls, db: Database, jobs: int, threshold: int = THRESHOLD) -> Fanout:
        return cls(shareable_url(db), jobs, threshold)

    def __enter__(self) -> Fanout:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _workers(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self._usable:
            try:
                self._pool = ProcessPoolExecutor(
                    self.jobs, mp_context=multiprocessing.get_context("fork")
                )
            except (OSError, ValueError, NotImplementedError, ImportError):
                self._usable = False  # no processes here: one process checks every log
        return self._pool

    def _parts(self, tenant_id: str, count: int, nodes: bool) -> list[Part] | None:
        """The ranges' findings in index order, up to the first that does not hold whole;
        None if the pool broke."""
        pool = self._workers()
        if pool is None:
            return None
        url = self.url
        assert url is not None
        futures: list[Future[Part]] = []
        parts: list[Part] = []
        try:
            for start in range(0, count, self.chunk):
                end = min(start + self.chunk, count)
                futures.append(
                    pool.submit(check_range, url, tenant_id, start, end, self.batch, nodes)
                )
            for future in futures:
                part = future.result()
                parts.append(part)
                if not part.levels:
                    break
        except BrokenProcessPool:
            self.close()
            self._usable = False
            return None
        finally:
            for future in futures:
                future.cancel()
        return parts

    def recompute(self, log: LogStore, tenant_id: str, nodes: bool = True) -> Recomputed | None:
        """What ``leaf_scan.recompute`` finds, the ranges checked by the workers (and, if
        ``nodes``, the stored nodes under them compared); None where one process is to check
        the log (see the module)."""
        if not self._usable:
            return None
        count = log.leaf_count(tenant_id)
        if count < max(self.threshold, 1):
            return None
        parts = self._parts(tenant_id, count, nodes)
        if parts is None:
            return None
        held = [part for part in parts if part.levels]
        depth = max((len(part.levels) for part in held), default=1)
        levels = [
            _hashes(b"".join(part.levels[level] for part in held if level < len(part.levels)))
            for level in range(depth)
        ]
        first = held[-1].stop if held else 0
        stop, problem = leaf_scan.scan(log, tenant_id, first, None, levels[0], None, self.batch)
        if stop == count and len(held) == len(parts) and problem is None:
            tree = merkle.MemoryTree.of_lower_levels(levels)
            hold = all(part.nodes_hold for part in held)
            checked = depth if nodes else 0
            return Recomputed(
                tree,
                None,
                None,
                log=log,
                tenant_id=tenant_id,
                nodes_checked=checked,
                nodes_hold=hold,
            )
        tree = merkle.MemoryTree.of_leaf_hashes(levels[0])
        return Recomputed(tree, None, problem, log=log, tenant_id=tenant_id)
