"""SIGKILL in the middle of a load: every acknowledged purchase survives, the audit is clean.

A child process books purchases from eight threads through its writer and reports each
acknowledgement on a file as it comes. The test kills it with SIGKILL mid-stream, then a new
writer (this process: on PostgreSQL it can take the tenant only because the dead child's
session released the lock) carries on from what the database holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.writers.pool import WriterPool

CHILD = Path(__file__).with_name("crash_child.py")


def wait_for_acks(path: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert child.poll() is None, "the child died on its own"
        time.sleep(0.02)
    raise AssertionError("the child acknowledged too little in 60 s")


def test_acknowledged_purchases_survive_sigkill(
    store: Store, tenant: str, db_url: str, tmp_path: Path
) -> None:
    # given a child process booking purchases on the tenant as fast as it can
    acks_file = tmp_path / "acks.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), db_url, tenant, str(acks_file)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        wait_for_acks(acks_file, 300, child)
        # when it is killed mid-stream
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    acked = [line for line in acks_file.read_text().splitlines() if line]
    # then every acknowledged purchase is in the ledger
    with store.read() as conn:
        stored = store.find_journals(conn, tenant, acked)
        total = conn.execute(
            text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant}
        ).scalar_one()
    assert len(acked) >= 300
    assert sorted(stored) == sorted(acked)
    assert total >= len(acked)  # committed but killed before its ack reached the file: fine
    assert clean(audit(store, tenant))
    # and after the restart a new writer goes on from the database's state
    with WriterPool(store) as pool:
        after = pool.call(
            c.Purchase(tenant_id=tenant, idempotency_key="after", user="u0", amount_fen=5_000),
            timeout=30,
        )
        replay = pool.call(
            c.Purchase(
                tenant_id=tenant,
                idempotency_key=acked[0],
                user=acked[0].split("-")[0].replace("child", "u"),
                amount_fen=1_000,
            ),
            timeout=30,
        )
    assert after["journal_id"] == total + 1
    assert replay == stored[acked[0]][1]
    assert clean(audit(store, tenant))
