"""``tokenmall log verify --jobs N``: the worker processes asked for, the same lines as one
process; a count below one is the user's mistake (exit 2 naming ``--jobs``)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from tokenmall import bootstrap
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.log.leaves import Event
from tokenmall.services.log import appending

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = bootstrap.log_config("a-test-secret-for-the-jobs-test", "test.tokenmall.example")


def _log_database(path: Path, tenant_id: str) -> str:
    url = f"sqlite:///{path}"
    db = bootstrap.open_database(url)
    try:
        bootstrap.upgrade(db.engine)
        with db.unit() as unit:
            Store(unit.conn.engine).create_tenant(unit.conn, tenant_id)
            tenants_repo.add(unit.conn, tenant_id, "jobs test", MOMENT)
        events = [Event("transfer", f"col_a/{k}", {"token": f"col_a/{k}"}) for k in range(12)]
        with db.unit() as unit:
            appending.record(unit.log, CONFIG, tenant_id, events, MOMENT)
    finally:
        db.dispose()
    return url


def _verify(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", "log", "verify", "--database", url, *extra],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_log_verify_takes_a_count_of_jobs(tmp_path: Path) -> None:
    url = _log_database(tmp_path / "log.db", "tjobs")
    one = _verify(url, "--jobs", "1")
    two = _verify(url, "--jobs", "2")
    assert one.returncode == 0, one.stdout + one.stderr
    assert two.stdout == one.stdout
    assert "tenant tjobs: 12 leaves" in two.stdout
    assert "log verify clean" in two.stdout


def test_a_broken_log_reads_the_same_whatever_the_jobs(tmp_path: Path) -> None:
    url = _log_database(tmp_path / "log.db", "tjobs")
    engine = bootstrap.open_database(url).engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM log_leaves WHERE idx = 7"))
    engine.dispose()
    one = _verify(url, "--jobs", "1")
    two = _verify(url, "--jobs", "2")
    assert one.returncode == two.returncode == 1
    assert "leaf 8: expected leaf 7 (the log has a gap)" in two.stdout
    assert two.stdout == one.stdout


def test_fewer_than_one_job_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    url = _log_database(path, "tjobs")
    before = path.read_bytes()
    refused = _verify(url, "--jobs", "0")
    assert refused.returncode == 2
    assert "--jobs" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert path.read_bytes() == before
