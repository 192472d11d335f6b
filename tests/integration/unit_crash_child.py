"""The child of ``test_unit_writer_crash.py``: pushes units of work (a purchase and a marker
row of the unit's own) through the tenant's unit writer until it is killed.

Each acknowledged unit's key goes to the ack file (one line, flushed) only after the writer
answered, i.e. after its batch committed. Arguments: database URL, tenant, ack file.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.writers.units import UnitWriters, Writes


class PurchaseUnit:
    def __init__(self, tenant_id: str, key: str, user: str, fen: int) -> None:
        self.tenant_id = tenant_id
        self.command = c.Purchase(
            tenant_id=tenant_id, idempotency_key=key, user=user, amount_fen=fen
        )

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> dict[str, Any]:
        store = Store(conn.engine)
        batch = ledger.LedgerBatch(
            store,
            conn,
            self.tenant_id,
            [self.command.idempotency_key],
            book=book,
            write_on_exit=False,
        )
        with batch:
            result = batch.run(self.command)
        with writes():
            batch.flush()
        return result


def main() -> None:
    url, tenant, ack_path = sys.argv[1:4]
    store = Store.open(url, migrate_now=False)
    writers = UnitWriters(store)
    lock = threading.Lock()
    with open(ack_path, "a", encoding="utf-8") as acks:

        def client(n: int) -> None:
            i = 0
            while True:
                key = f"unit{n}-{i}"
                writers.call(PurchaseUnit(tenant, key, f"u{n}", 1_000 + i))
                with lock:
                    acks.write(key + "\n")
                    acks.flush()
                i += 1

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
        for thread in threads:
            thread.start()
        os.write(1, b"started\n")
        for thread in threads:
            thread.join()


if __name__ == "__main__":
    main()
