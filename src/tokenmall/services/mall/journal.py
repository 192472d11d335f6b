"""Run one ledger command inside the caller's transaction (the mall services' shared step)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger import execute as ledger


def run(conn: Connection, command: c.Command) -> dict[str, Any]:
    """Execute ``command`` as a balanced journal in ``conn``'s open transaction."""
    return ledger.execute_in(Store(conn.engine), conn, command)
