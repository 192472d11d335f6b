"""Stock is never oversold under concurrency, over HTTP and through the service call that
checkout will use, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mall_api import Api, TenantFixture, ok

from tokenmall.services.mall import catalogue
from tokenmall.services.mall.errors import OutOfStock
from tokenmall.services.mall.uow import utc_now


def test_concurrent_takes_over_http_never_oversell(api: Api, tenant: TenantFixture) -> None:
    # Given 10 in stock, when 24 clients each take 1 at once,
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")

    def take(_: int) -> int:
        client = Api(str(api.http.base_url))
        try:
            return client.post(
                path, tenant.merchant_token, {"change": -1, "reason": "adjustment"}
            ).status_code
        finally:
            client.http.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(take, range(24)))
    # then exactly 10 succeed, the rest are told out of stock, and stock is 0, never below.
    assert sorted(statuses) == [201] * 10 + [409] * 14
    assert ok(api.get(tenant.path(f"/skus/{tenant.sku_id}"), tenant.admin_token))["stock"] == 0
    movements = ok(api.get(path, tenant.merchant_token))["items"]
    takes = [m for m in movements if m["change"] == -1]
    assert sorted(m["stock_after"] for m in takes) == list(range(10))


def test_concurrent_reservations_through_the_service_never_oversell(
    server: Any, tenant: TenantFixture
) -> None:
    db = server.app.state.database
    taken: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def reserve(worker: int) -> None:
        start.wait()
        for n in range(4):
            try:
                with db.unit() as uow:
                    reference = f"order-{worker}-{n}"
                    catalogue.reserve(
                        uow.catalogue, tenant.tenant_id, tenant.sku_id, 1, reference, utc_now()
                    )
                with lock:
                    taken.append(worker)
            except OutOfStock:
                with lock:
                    refused.append(worker)

    threads = [threading.Thread(target=reserve, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(taken), len(refused)) == (10, 22)
    with db.reading() as uow:
        sku = uow.catalogue.get_sku(tenant.tenant_id, tenant.sku_id)
        movements = uow.catalogue.list_movements(tenant.tenant_id, tenant.sku_id, 100)
    assert sku is not None
    assert sku.stock == 0
    assert sum(m.change for m in movements) == 0
    # Releasing gives units back.
    with db.unit() as uow:
        catalogue.release(uow.catalogue, tenant.tenant_id, tenant.sku_id, 2, "order-0-0", utc_now())
    with db.reading() as uow:
        sku = uow.catalogue.get_sku(tenant.tenant_id, tenant.sku_id)
    assert sku is not None
    assert sku.stock == 2
