"""Is the service ready: the database answers, and its schema is at the newest migration."""

from __future__ import annotations

from sqlalchemy import text

from tokenmall import bootstrap
from tokenmall.services.mall.uow import Database


def check(db: Database) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["migrations"] = bootstrap.schema_status(conn)
    except Exception as exc:  # any failure to reach the database means "not ready"
        checks.setdefault("database", f"unreachable: {type(exc).__name__}")
        checks.setdefault("migrations", "unknown")
    return checks
