"""Workloads for ``tokenmall bench nfg``: the transparency log's tree, storage and proofs.

* appends: NFG event leaves (canonical JSON, made beforehand) appended to a ``MemoryTree``;
* encodes: the same events made into leaves by ``leaf_bytes`` (canonical JSON), for reference;
* verify: a log of ``leaves`` leaves written into a temporary SQLite database (the log's own
  tables, bulk inserted in batches) with one checkpoint signed through the log's services, then
  verified from SQLite by ``services/log/verify.verify_tenant``, as ``tokenmall log verify
  --jobs N`` does it (``jobs`` worker processes, ``services/log/fanout.py``; every leaf checked
  canonical, the tree recomputed, every stored node and the checkpoint compared);
* recompute: the leaves read and checked and the tree recomputed (``verify.recompute``, the
  first part of ``verify_tenant``), its root checked against the signed checkpoint: the
  verification without the stored nodes' comparison;
* proofs: one inclusion proof of that tree verified, its length in hashes.

Seconds are wall-clock figures for a person to read (``time.perf_counter``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tokenmall import bootstrap
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.log import merkle, note
from tokenmall.domain.log.leaves import Event, leaf_bytes, log_time
from tokenmall.domain.nfg import events
from tokenmall.services.log import checkpoints, fanout, verify
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database

TENANT = "bench-nfg"
COLLECTION = "col_01JBENCHCOLLECTION0000000000"
SENDER = "usr_01JBENCHSENDER000000000000000"
RECIPIENT = "usr_01JBENCHRECIPIENT000000000000"
EDITION = 1_000
BATCH = 50_000
SECRET = "tokenmall-bench-nfg-secret-key-not-for-production"
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NfgFigures:
    leaves: int
    jobs: int
    appends_per_second: float  # float-ok: a rate
    encodes_per_second: float  # float-ok: a rate
    verify_seconds: float  # float-ok: time
    recompute_seconds: float  # float-ok: time
    verify_cpu_seconds: float  # float-ok: time (CPU of this process and its workers)
    recompute_cpu_seconds: float  # float-ok: time
    proof_verify_microseconds: float  # float-ok: time
    proof_hashes: int
    verified: bool

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {
            "leaves": self.leaves,
            "jobs": self.jobs,
            "log_appends_per_second": round(self.appends_per_second),
            "leaf_encodes_per_second": round(self.encodes_per_second),
            "log_verify_seconds": round(self.verify_seconds, 3),
            "log_recompute_seconds": round(self.recompute_seconds, 3),
            "log_verify_cpu_seconds": round(self.verify_cpu_seconds, 3),
            "log_recompute_cpu_seconds": round(self.recompute_cpu_seconds, 3),
            "proof_verify_microseconds": round(self.proof_verify_microseconds, 1),
            "proof_hashes": self.proof_hashes,
            "verified": self.verified,
        }
        if self.leaves == 1_000_000:
            out["log_verify_seconds_1m"] = out["log_verify_seconds"]
            out["log_recompute_seconds_1m"] = out["log_recompute_seconds"]
            out["proof_hashes_1m"] = self.proof_hashes
        return out


def _event(index: int) -> Event:
    return events.transfer(COLLECTION, index % EDITION + 1, SENDER, RECIPIENT)


def event_leaves(count: int, tenant_id: str = TENANT) -> Iterator[bytes]:
    """``count`` transfer leaves, byte for byte what ``leaf_bytes`` makes (the canonical JSON
    written out by a template: the bench measures the tree and the storage, not the encoder)."""
    time_text = log_time(MOMENT)
    head = f'{{"collection":"{COLLECTION}","from":"{SENDER}","index":'
    for index in range(count):
        serial = index % EDITION + 1
        yield (
            f'{head}{index},"serial":{serial},"tenant":"{tenant_id}","time":"{time_text}",'
            f'"to":"{RECIPIENT}","token":"{COLLECTION}/{serial}","type":"transfer"}}'
        ).encode()


def encodes_per_second(count: int) -> float:  # float-ok: a rate
    made = [_event(i) for i in range(count)]
    started = time.perf_counter()
    for index, event in enumerate(made):
        leaf_bytes(TENANT, index, MOMENT, event)
    return count / (time.perf_counter() - started)


def appends(leaves: list[bytes]) -> tuple[merkle.MemoryTree, float]:  # float-ok: a rate
    tree = merkle.MemoryTree()
    started = time.perf_counter()
    tree.append_many(leaves)
    return tree, len(leaves) / (time.perf_counter() - started)


def _store(db: Database, tree: merkle.MemoryTree, leaves: list[bytes]) -> None:
    """The tree's leaves and nodes into the log's tables, one checkpoint signed over them."""
    config = bootstrap.log_config(SECRET, "bench.tokenmall.example")
    with db.unit() as unit:
        Store(unit.conn.engine).create_tenant(unit.conn, TENANT)
        tenants_repo.add(unit.conn, TENANT, "bench", MOMENT)
        unit.log.head(TENANT, now=MOMENT)
    for start in range(0, len(leaves), BATCH):
        end = min(start + BATCH, len(leaves))
        with db.unit() as unit:
            # the nodes the batch's leaves complete: those whose last leaf is in the batch
            nodes = [
                (level, index, row[index])
                for level, row in enumerate(tree.levels)
                for index in range(start >> level, end >> level)
            ]
            at = MOMENT.strftime("%Y-%m-%d %H:%M:%S.%f")
            unit.conn.exec_driver_sql(
                "INSERT INTO log_leaves (tenant_id, idx, type, subject, leaf, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (TENANT, i, "transfer", f"{COLLECTION}/{i % EDITION + 1}", leaves[i], at)
                    for i in range(start, end)
                ],
            )
            unit.conn.exec_driver_sql(
                "INSERT INTO log_nodes (tenant_id, level, idx, hash) VALUES (?, ?, ?, ?)",
                [(TENANT, level, index, digest) for level, index, digest in nodes],
            )
            unit.log.set_size(TENANT, end, MOMENT)
    with db.unit() as unit:
        checkpoints.sign_if_due(unit.log, config, TENANT, MOMENT, force=True)


def recompute(db: Database, config: LogConfig, tenant_id: str, jobs: int = 1) -> bool:
    """The tree recomputed from the stored leaves (each leaf checked, as ``log verify`` does,
    by ``jobs`` worker processes); whether the latest signed checkpoint's root is its root."""
    with fanout.Fanout.of(db, jobs) as workers, db.reading() as unit:
        done = workers.recompute(unit.log, tenant_id, nodes=False) or verify.recompute(
            unit.log, tenant_id
        )
        latest = unit.log.latest_checkpoint(tenant_id)
        key = unit.log.key(tenant_id)
    tree = done.tree
    if done.problem is not None or latest is None or key is None:
        return False
    opened = note.open_note(latest.note, checkpoints.verifier_key(key), config.signer.verify)
    return opened.size <= tree.size and tree.root(opened.size) == opened.root


def _cpu() -> float:  # float-ok: time
    """CPU seconds of this process and of its worker processes that have ended."""
    spent = os.times()
    return time.process_time() + spent.children_user + spent.children_system


def run(leaves_count: int = 1_000_000, encodes: int = 20_000, jobs: int = 1) -> NfgFigures:
    """The figures; the log verified (and recomputed) by ``jobs`` processes, as
    ``tokenmall log verify --jobs`` does (their pool made inside the time)."""
    leaves = list(event_leaves(leaves_count))
    assert leaves[-1] == leaf_bytes(TENANT, leaves_count - 1, MOMENT, _event(leaves_count - 1))
    tree, rate = appends(leaves)
    with tempfile.TemporaryDirectory(prefix="tokenmall-bench-nfg-") as folder:
        url = f"sqlite:///{Path(folder) / 'log.db'}"
        db = bootstrap.open_database(url)
        try:
            bootstrap.upgrade(db.engine)
            _store(db, tree, leaves)
            config = bootstrap.log_config(SECRET, "bench.tokenmall.example")
            started, cpu = time.perf_counter(), _cpu()
            with fanout.Fanout.of(db, jobs) as workers, db.reading() as unit:
                verdict = verify.verify_tenant(unit.log, config, TENANT, fanout=workers)
            seconds, cpu_seconds = time.perf_counter() - started, _cpu() - cpu
            started, cpu = time.perf_counter(), _cpu()
            recomputed = recompute(db, config, TENANT, jobs)
            recompute_seconds = time.perf_counter() - started
            recompute_cpu = _cpu() - cpu
        finally:
            db.dispose()
    index = leaves_count * 7 // 9
    proof = tree.inclusion_proof(index)
    leaf = merkle.leaf_hash(leaves[index])
    root = tree.root()
    rounds = 2_000
    started = time.perf_counter()
    for _ in range(rounds):
        merkle.verify_inclusion(index, leaves_count, leaf, proof, root)
    micro = (time.perf_counter() - started) / rounds * 1e6
    return NfgFigures(
        leaves=leaves_count,
        jobs=jobs,
        appends_per_second=rate,
        encodes_per_second=encodes_per_second(min(encodes, leaves_count)),
        verify_seconds=seconds,
        recompute_seconds=recompute_seconds,
        verify_cpu_seconds=cpu_seconds,
        recompute_cpu_seconds=recompute_cpu,
        proof_verify_microseconds=micro,
        proof_hashes=len(proof),
        verified=verdict.problem is None and verdict.size == leaves_count and recomputed,
    )
