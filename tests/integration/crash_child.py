"""The child of ``test_crash.py``: books purchases through the writer until it is killed.

It writes each acknowledged idempotency key to the ack file (one line, flushed) only after
the writer answered, i.e. after the commit. Arguments: database URL, tenant, ack file.
"""

from __future__ import annotations

import os
import sys
import threading

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.writers.pool import WriterPool


def main() -> None:
    url, tenant, ack_path = sys.argv[1:4]
    store = Store.open(url, migrate_now=False)
    pool = WriterPool(store)
    lock = threading.Lock()
    with open(ack_path, "a", encoding="utf-8") as acks:

        def client(n: int) -> None:
            i = 0
            while True:
                key = f"child{n}-{i}"
                pool.call(
                    c.Purchase(
                        tenant_id=tenant, idempotency_key=key, user=f"u{n}", amount_fen=1_000 + i
                    )
                )
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
