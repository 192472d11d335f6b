"""A worker killed in the middle of a tenant's batches: nothing acknowledged is lost.

It needs the cluster of ``scripts/citus-cluster.sh`` (it stops and starts that worker's
server); on another cluster it is skipped.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import cluster
import pytest
from sqlalchemy.engine import make_url

from tokenmall.adapters.db import citus
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.writers.pool import WriterPool

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "citus-cluster.sh"
BIN = Path(os.environ.get("TOKENMALL_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _data_dir(port: int) -> Path | None:
    """The local cluster's data directory of the worker on ``port``, if it is that cluster."""
    folder = Path(os.environ.get("TOKENMALL_CITUS_DIR", "/tmp/tokenmall-citus"))
    base = make_url(cluster.coordinator_url()).port or 0
    name = {base + 1: "worker1", base + 2: "worker2"}.get(port)
    data = folder / name if name else None
    return data if data is not None and (data / "PG_VERSION").exists() else None


def _as_owner(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


def test_a_worker_killed_mid_batch_loses_no_acknowledged_purchase(store: Store) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant)
    with store.engine.connect() as conn:
        _, worker = citus.tenant_worker(conn, tenant)
    data = _data_dir(worker.port)
    if data is None:
        pytest.skip("needs the cluster of scripts/citus-cluster.sh (it stops a worker)")
    acknowledged: list[str] = []
    refused: list[str] = []
    stop = threading.Event()

    def book(pool: WriterPool) -> None:
        n = 0
        while not stop.is_set():
            key = f"k{n}"
            n += 1
            try:
                pool.call(
                    c.Purchase(
                        tenant_id=tenant,
                        idempotency_key=key,
                        user=f"u{n % 9}",
                        amount_fen=1_000 + n,
                    ),
                    timeout=60,
                )
            except Exception:  # the worker is down: not acknowledged, the caller may retry
                refused.append(key)
                time.sleep(0.05)
            else:
                acknowledged.append(key)

    with WriterPool(store) as pool:
        bookers = [threading.Thread(target=book, args=(pool,)) for _ in range(1)]
        for booker in bookers:
            booker.start()
        try:
            while len(acknowledged) < 20:
                time.sleep(0.02)
            # when the tenant's worker dies in the middle of its batches (no clean shutdown)
            _as_owner(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
            time.sleep(1.0)
            # and comes back
            subprocess.run([str(SCRIPT), "start"], check=True, capture_output=True, timeout=120)
            during = len(acknowledged)
            deadline = time.monotonic() + 60
            while len(acknowledged) < during + 20 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for booker in bookers:
                booker.join(timeout=90)
    # then the writer books again, every acknowledged purchase is stored, and audit is clean
    assert len(acknowledged) >= during + 20
    with store.read() as conn:
        stored = set(store.find_journals(conn, tenant, acknowledged + refused))
    assert set(acknowledged) <= stored
    assert audit(store, tenant)[0].findings == []
