"""SIGKILL in the middle of a load of units (``services/writers/units.py``): every unit that was
acknowledged is committed, the audit is clean, and a new writer goes on from the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from test_crash import wait_for_acks
from unit_crash_child import PurchaseUnit

from tokenmall.adapters.db.store import Store
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.writers.units import UnitWriters

CHILD = Path(__file__).with_name("unit_crash_child.py")


def test_acknowledged_units_survive_sigkill(
    store: Store, tenant: str, db_url: str, tmp_path: Path
) -> None:
    # given a child process pushing units on the tenant from eight threads
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
    # then every acknowledged unit is in the ledger
    with store.read() as conn:
        stored = store.find_journals(conn, tenant, acked)
        total = conn.execute(
            text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant}
        ).scalar_one()
    assert len(acked) >= 300
    assert sorted(stored) == sorted(acked)
    assert total >= len(acked)  # committed but killed before its ack reached the file: fine
    assert clean(audit(store, tenant))
    # and a new writer goes on from the database's state; a replay answers the first result
    writers = UnitWriters(store)
    after = writers.call(PurchaseUnit(tenant, "after", "u0", 5_000))
    user = acked[0].split("-")[0].replace("unit", "u")
    replay = writers.call(PurchaseUnit(tenant, acked[0], user, 1_000))
    assert after["journal_id"] == total + 1
    assert replay == stored[acked[0]][1]
    assert clean(audit(store, tenant))
