"""``tokenmall bench drop``: a drop (首发) over HTTP, thousands of buyers pressing "buy" at once.

The server is ``bench api``'s (``uvicorn`` in a child process on 127.0.0.1, ``api.Server``), its
reservations waiting ``hold`` seconds for payment. The tenant is made through the API; the
collection (money, ``editions`` places, ``limit`` per buyer) and the ``buyers`` consumers with
their sessions are written straight to the database (the set-up is not what is measured). Then:

1. **the rush**: every buyer presses buy once, all at once, from ``clients`` keep-alive
   connections (``http_client``); each press asks for 1..``limit`` places, and one buyer in
   ten presses twice (the second press must be refused over the limit, or sold out);
2. **payments**: a buyer who got a reservation pays at once on the sandbox gateway's page (its
   signed webhook assigns the serials), but one reservation in twenty is paid late: after its
   expiry, so its places returned to sale and the money is refunded automatically;
3. **the second wave**: buyers left without a place try again for the returned places, and pay.

Then the figures are read from the database: sold, oversold (serials beyond the edition, or
given twice), over the limit, paid without a token (a succeeded payment whose reservation is
neither assigned nor refunded), the latency of the presses, the seconds until sold out, and
``audit`` of the tenant. Figures are printed, never asserted on (the test checks the shape and
the zero counters only).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall.payments import gateway_events
from tokenmall.adapters.db.market.store import MarketSettings
from tokenmall.adapters.db.nfg import drop as drop_queries
from tokenmall.adapters.db.nfg.tables import nfg_reservations
from tokenmall.adapters.db.store import Store
from tokenmall.bench import api
from tokenmall.bench.http_client import Connection, run_load
from tokenmall.bootstrap import log_config
from tokenmall.config import Settings
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.nfg.events import collection_created
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.ledger.audit import audit
from tokenmall.services.log.appending import record
from tokenmall.services.mall import auth, ids, passwords
from tokenmall.services.mall.uow import Database

PRICE_FEN = 19_900
LATE_EVERY = 20  # one reservation in this many is paid after its expiry (fewer: tiny drops)
TWICE_EVERY = 10  # one buyer in this many presses buy twice


def _set_up_drop(
    store: Store, tenant_id: str, editions: int, buyers: int, limit: int, profile: str = "open"
) -> tuple[str, list[tuple[str, str]]]:
    """The collection on sale now and ``buyers`` consumers: (session token, user id) each;
    the tenant's market ``profile`` (``cn-licensed``: the holder limit applies to the drop)."""
    settings = Settings()
    config = log_config(settings.secret_key.get_secret_value(), settings.log_host)
    passwords.configure(fast_for_tests=True)  # throwaway buyers of one run; not timed
    digest = passwords.hash_password(secrets.token_urlsafe(16))
    now = datetime.now(UTC)
    collection = Collection(
        tenant_id=tenant_id,
        collection_id=ids.new_id("col"),
        name="首发 bench vintage",
        description="",
        issuer_merchant_id=None,
        edition_size=editions,
        price=PRICE_FEN,
        price_asset=PriceAsset.MONEY,
        per_user_limit=limit,
        rights=Rights(),
        status=CollectionStatus.PUBLISHED,
        created_at=now,
        sale_starts_at=now,
    )
    db = Database(store.engine)
    tokens: list[tuple[str, str]] = []
    with db.unit() as unit:
        unit.nfg.add_collection(collection)
        record(unit.log, config, tenant_id, [collection_created(collection)], now)
        if profile != "open":
            unit.market.put_settings(MarketSettings(tenant_id, profile, True), now)
        for n in range(buyers):
            user = User(
                tenant_id=tenant_id,
                user_id=ids.new_id("usr"),
                email=f"drop{n}@bench.invalid",
                display_name=f"buyer {n}",
                role=Role.CONSUMER,
                kyc_status=KycStatus.NONE,
                invite_code=ids.new_invite_code(),
                inviter_id=None,
                created_at=now,
            )
            people_repo.add_user(unit.conn, user, digest)
            issued = auth.issue_session(unit, tenant_id, user.user_id, now, timedelta(hours=2))
            tokens.append((issued.token, user.user_id))
    return collection.collection_id, tokens


class _Rush:
    """What the presses of a rush saw: reservations made (and whether paid at once), when the
    first sold-out came, the refusals and the other answers."""

    def __init__(self, late_every: int = 0) -> None:
        self.late_every = late_every  # every n-th reservation is left to be paid late
        self.made: list[dict[str, Any]] = []
        self.late: list[dict[str, Any]] = []
        self.sold_out_at: float | None = None  # float-ok: time (perf_counter)
        self.refusals: dict[str, int] = {}
        self.errors = 0
        self.answered: dict[int, list[float]] = {201: [], 409: []}  # float-ok: press latencies
        self.error_kinds: dict[str, int] = {}  # what the flows counted as errors answered


class _Opening:
    """The moment a drop opens: each of ``expected`` connections reads the drop's page, then
    waits until all have (one that failed counts too: its error is the flow's)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.event: asyncio.Event | None = None  # made on the load's own event loop

    async def wait(self, conn: Connection, page: str) -> None:
        event = self.event = self.event or asyncio.Event()
        try:
            await conn.request("GET", page)
        finally:
            self.arrived += 1
            if self.arrived >= self.expected:
                event.set()
        await event.wait()


def _rush(
    port: int,
    tenant_id: str,
    collection_id: str,
    presses: list[tuple[str, int]],
    clients: int,
    rush: _Rush,
    on_page: bool = False,
) -> list[float]:  # float-ok: time
    """Every (token, quantity) pressed at once; a reservation made is paid at once on the
    sandbox's page (but every ``late_every``-th, kept for later). The latencies of the presses
    answered (the press only, not its payment).

    ``on_page``: the buyers are on the drop's page before it opens, as they are at a 首发's
    countdown: each connection first reads the drop (``GET /drops/{id}``, not timed) and the
    first presses go only once every connection has, all at once. Without it the first
    presses also open the connections, and the server's pools grow under them."""
    path = f"/api/v1/tenants/{tenant_id}/nfg/collections/{collection_id}/reservations"
    page = f"/api/v1/tenants/{tenant_id}/nfg/drops/{collection_id}"
    run = secrets.token_hex(3)
    latencies: list[float] = []  # float-ok: time
    connections = max(1, min(clients, len(presses)))
    opening = _Opening(connections)

    async def press(conn: Connection, n: int) -> int:
        token, quantity = presses[n]
        if on_page and n < connections:
            await opening.wait(conn, page)
        began = time.perf_counter()  # float-ok: time
        answer = await conn.request(
            "POST",
            path,
            json={"quantity": quantity},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"{run}-{n}"},
        )
        if answer.status in (201, 409):
            took = time.perf_counter() - began  # float-ok: time
            latencies.append(took)
            rush.answered[answer.status].append(took)
        if answer.status == 201:
            made = answer.json()
            rush.made.append(made)
            if rush.late_every and len(rush.made) % rush.late_every == 0:
                rush.late.append(made)
                return 201
            paid = await conn.request("POST", str(made["payment_url"]), form={"outcome": "approve"})
            return 201 if paid.status == 200 else paid.status
        if answer.status == 409:
            code = str(answer.json()["error"]["code"])
            rush.refusals[code] = rush.refusals.get(code, 0) + 1
            if code == "sold_out" and rush.sold_out_at is None:
                rush.sold_out_at = time.perf_counter()
        return answer.status

    result = run_load(
        "127.0.0.1",
        port,
        press,
        clients=connections,
        requests=len(presses),
        duration=600,
        expect=(201, 409),
    )
    rush.errors += result.errors
    for code, n in result.statuses.items():
        if code not in ("201", "409"):  # a status, or the exception's name (a time-out)
            rush.error_kinds[code] = rush.error_kinds.get(code, 0) + n
    return latencies


def _pay(port: int, made: list[dict[str, Any]], clients: int) -> int:
    """Approve each reservation's payment on the sandbox's page; how many pages answered 200."""
    if not made:
        return 0

    async def approve(conn: Connection, n: int) -> int:
        url = str(made[n]["payment_url"])
        answer = await conn.request("POST", url, form={"outcome": "approve"})
        return answer.status

    result = run_load(
        "127.0.0.1",
        port,
        approve,
        clients=max(1, min(clients, len(made))),
        requests=len(made),
        duration=600,
        expect=200,
    )
    return result.ok


def _percentile(values: list[float], q: float) -> float | None:  # float-ok: time
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] * 1000, 2)
    cut = statistics.quantiles(values, n=100, method="inclusive")
    return round(cut[int(q) - 1] * 1000, 2)


def _figures(
    store: Store, tenant_id: str, collection_id: str, editions: int, limit: int
) -> dict[str, Any]:
    with store.engine.connect() as conn:
        per_status = drop_queries.reservations_by_status(conn, tenant_id, collection_id)
        owners = drop_queries.tokens_per_owner(conn, tenant_id, collection_id)
        serials = drop_queries.assigned_serials(conn, tenant_id, collection_id)
        r, g = nfg_reservations.c, gateway_events.c
        paid = conn.execute(
            select(r.status)
            .select_from(
                nfg_reservations.join(
                    gateway_events,
                    (g.tenant_id == r.tenant_id) & (g.payment_id == r.payment_id),
                )
            )
            .where(
                r.tenant_id == tenant_id,
                r.collection_id == collection_id,
                g.event_type == "payment.succeeded",
            )
        ).all()
    sold = sum(owners.values())
    out_of_range = sum(1 for s in serials if not 1 <= s <= editions)
    return {
        "sold": sold,
        "oversold": max(0, sold - editions) + (len(serials) - len(set(serials))) + out_of_range,
        "over_limit": sum(1 for n in owners.values() if n > limit),
        "paid_without_token": sum(1 for (st,) in paid if st not in ("assigned", "refunded")),
        "refunded": per_status.get("refunded", 0),
        "expired": per_status.get("expired", 0),
    }


def run(
    database_url: str,
    *,
    editions: int,
    buyers: int,
    limit: int,
    profile: str = "open",
    clients: int = 256,
    hold: int = 15,
    workers: int = 1,
    on_page: bool = True,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Run one drop; its figures as one JSON-safe dict."""
    say = progress or (lambda _: None)
    store = Store.open(database_url)
    email, password = f"drop-{secrets.token_hex(4)}@bench.invalid", secrets.token_urlsafe(16)
    try:
        api._create_operator(store, email, password)
        previous = os.environ.get("TOKENMALL_NFG_RESERVATION_SECONDS")
        os.environ["TOKENMALL_NFG_RESERVATION_SECONDS"] = str(hold)
        try:
            say(f"starting uvicorn ({workers} worker(s)) on 127.0.0.1 …")
            server = api.Server(database_url, workers)
        finally:
            if previous is None:
                os.environ.pop("TOKENMALL_NFG_RESERVATION_SECONDS", None)
            else:
                os.environ["TOKENMALL_NFG_RESERVATION_SECONDS"] = previous
        try:
            tenant_id, admin, _ = api._set_up(server.base_url, email, password)
            say(f"tenant {tenant_id}: {buyers} buyers for {editions} places …")
            collection_id, tokens = _set_up_drop(store, tenant_id, editions, buyers, limit, profile)
            presses = [(tok, 1 + n % limit) for n, (tok, _) in enumerate(tokens)]
            presses += [(tok, 1) for n, (tok, _) in enumerate(tokens) if n % TWICE_EVERY == 0]
            rush = _Rush(min(LATE_EVERY, max(2, editions // 4)))
            began = time.perf_counter()
            latencies = _rush(
                server.port, tenant_id, collection_id, presses, clients, rush, on_page
            )
            late = rush.late
            say(f"the rush: {len(rush.made)} reservations, refusals {rush.refusals}")
            holders = {m["user_id"] for m in rush.made}
            if late:
                wait = max(m["expires_at"] for m in late)
                left = datetime.fromisoformat(wait).timestamp() - time.time() + 0.5
                say(f"paying {len(late)} reservations late, after {max(left, 0):.1f} s …")
                time.sleep(max(left, 0))
                _pay(server.port, late, clients)
            # The second wave: those without a place try again for the places returned.
            second = _Rush()
            waiting = [(tok, 1) for tok, user in tokens if user not in holders]
            again = waiting[: 2 * limit * len(late) + 10]
            latencies += _rush(
                server.port, tenant_id, collection_id, again, clients, second, on_page
            )
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                http.post(
                    f"/api/v1/tenants/{tenant_id}/nfg/reservations/expire-due",
                    headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": "tick"},
                )
        finally:
            server.close()
        figures = _figures(store, tenant_id, collection_id, editions, limit)
        (report,) = audit(store, tenant_id)
    finally:
        store.dispose()
    sold_out = rush.sold_out_at
    return {
        "database": "postgresql" if store.postgres else "sqlite",
        "tenant_id": tenant_id,
        "editions": editions,
        "buyers": buyers,
        "limit": limit,
        "on_page": on_page,
        "presses": len(presses) + len(again),
        **figures,
        "paid_late": len(late),
        "errors": rush.errors + second.errors,
        "error_kinds": {
            code: rush.error_kinds.get(code, 0) + second.error_kinds.get(code, 0)
            for code in sorted({*rush.error_kinds, *second.error_kinds})
        },
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "p99_ms_reserved": _percentile(rush.answered[201] + second.answered[201], 99),
        "p99_ms_refused": _percentile(rush.answered[409] + second.answered[409], 99),
        "p99_ms_first_wave": _percentile(rush.answered[201] + rush.answered[409], 99),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "seconds_to_sold_out": None if sold_out is None else round(sold_out - began, 3),
        "audit_clean": not report.findings,
        "audit_findings": report.findings[:5],
    }
