"""``tokenmall bench api``: the HTTP API under load, on 127.0.0.1, bounded in time and count.

It migrates the database and creates a platform operator, then starts ``uvicorn`` in a child
process (several worker processes if asked, e.g. on PostgreSQL) on a socket it has already bound
to an ephemeral port and put in the listening state, and waits until every worker has built
its application and ``/readyz`` answers. So no other process can take the port between
choosing and binding it, and a request sent while the workers still start waits in the
socket's backlog instead of being refused. The operator
is made before the workers start because each worker would otherwise create it at its own
start-up: two workers racing to insert the same operator make one of them fail its start-up,
and ``uvicorn`` then stops every worker. Then it creates a tenant with ``grant_on = paid``
through the API as the platform operator, an admin API key, and then runs its scenarios from C
concurrent keep-alive connections until ``requests`` are sent or ``duration`` seconds pass
(each after an untimed warm-up of up to ``WARM_UP`` orders and an ``ANALYZE``, as ``pgbench``
vacuums first: a live database's statistics are kept by autovacuum, and a table never analysed,
or analysed when it held a few rows, may be planned as if the tenant had one row):
integration orders (``paid``: money recorded and rewards booked), the same orders pushed in
batches, and a consumer's checkout paid on the sandbox gateway. It reports requests/s and
p50/p99 latency of the successful requests, the error count, the load client's own CPU per
request, and runs ``audit`` on the tenant afterwards.

The load comes from ``http_client`` (asyncio streams in one thread, a fraction of a millisecond
of CPU per request), not from ``httpx`` threads, which cost 1-2 ms of CPU per request on the
cores the server under test runs on; ``httpx`` only makes the set-up calls.

Figures are printed, never asserted on: they depend on the machine and what else runs on it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tokenmall.bench.api_figures import Scenario, headline, process_cpu_seconds
from tokenmall.bench.http_client import Connection, Flow, run_load

# The folder where each server worker leaves a file once its application is built.
READY_DIR = "TOKENMALL_BENCH_READY_DIR"
# The bench's server names the process that answered in this header (the bench's own
# application only), so the load client can spread its connections over the processes.
WORKER_HEADER = "x-bench-worker"


def app_from_env() -> Any:
    """The application from ``TOKENMALL_*`` settings (uvicorn ``--factory`` with workers).

    Each worker marks itself built in ``READY_DIR``: ``/readyz`` is answered by whichever
    worker started first, and on a busy machine the others may still be building theirs for
    seconds; the load's keep-alive connections opened meanwhile would all be accepted by the
    first worker and stay there for the whole run."""
    from tokenmall.config import Settings
    from tokenmall.services.process import freeze_startup_objects
    from tokenmall.web.app import create_app
    from tokenmall.web.routing import build_route_contexts

    app = create_app(Settings())
    build_route_contexts(app.router)  # as ``tokenmall serve`` does
    freeze_startup_objects()
    app = _naming_worker(app)
    ready = os.environ.get(READY_DIR)
    if ready:
        with open(os.path.join(ready, str(os.getpid())), "w"):
            pass
    return app


def _naming_worker(app: Any) -> Any:
    """``app`` answering with ``WORKER_HEADER`` (this process's id) on every response."""
    named = (WORKER_HEADER.encode(), str(os.getpid()).encode())

    async def naming(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), named]}
            await send(message)

        await app(scope, receive, send_named)

    return naming


def _listening_socket() -> socket.socket:
    """A TCP socket on 127.0.0.1, an ephemeral port, already listening (``uvicorn --fd``).

    ``TCP_NODELAY`` is set here, on the listening socket, and the connections it accepts
    inherit it (Linux): uvicorn wraps a ``--fd`` socket as a Unix-domain one, so neither it
    nor the event loop sets the option on them. Without it, a response written in two sends
    (headers, then body) waits for the client's delayed ACK of the first (Nagle's rule),
    up to 40 ms a request."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _create_operator(store: Any, email: str, password: str) -> None:
    """The run's platform operator, made once here rather than by each server worker."""
    from tokenmall.services.mall import operators, passwords
    from tokenmall.services.mall.uow import MallUnitOfWork, utc_now

    passwords.configure(fast_for_tests=True)  # a throwaway operator of one run; not timed
    with store.transaction() as conn:
        operators.ensure(MallUnitOfWork.joining(conn), email, password, utc_now())


class Server:
    """``uvicorn`` in a child process, stopped (and waited for) on ``close``."""

    def __init__(self, database_url: str, workers: int) -> None:
        env = dict(os.environ)
        self.ready = tempfile.TemporaryDirectory()
        env.update(
            {READY_DIR: self.ready.name},
            TOKENMALL_DATABASE_URL=database_url,
            TOKENMALL_MIGRATE_ON_START="false",  # migrated once before; workers would race
            TOKENMALL_LOG_LEVEL="WARNING",
            TOKENMALL_INSECURE_FAST_PASSWORD_HASHING="true",  # a few logins; not what we time
        )
        # Made once before the server starts (``_create_operator``), never by its workers.
        for name in ("ENV_FILE", "OPERATOR_EMAIL", "OPERATOR_PASSWORD"):
            env.pop(f"TOKENMALL_{name}", None)
        sock = _listening_socket()
        self.port = int(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tokenmall.bench.api:app_from_env",
            "--fd",
            str(sock.fileno()),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        # The server's stderr goes to a file: a pipe nobody reads would fill and block it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        try:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                pass_fds=(sock.fileno(),),
            )
        finally:
            # The server holds its own copy; without ours a server that dies refuses at once
            # instead of leaving connections waiting in the backlog.
            sock.close()
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                err = self.log.read().decode(errors="replace")
                self.ready.cleanup()
                raise RuntimeError(f"the API server exited at start-up: {err[-2000:]}")
            try:
                built = len(os.listdir(self.ready.name)) >= workers
                if built and httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    f"the API server's {workers} worker(s) were not ready within 120 s"
                )
            time.sleep(0.2)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.ready.cleanup()


def _ok(answer: httpx.Response, status: int) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"set-up request failed: {answer.status_code} {answer.text[:500]}")
    return answer.json()


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _set_up(base_url: str, email: str, password: str) -> tuple[str, str, str]:
    """A fresh tenant (grant_on = paid), an admin's session and an admin's API key."""
    tenant_id = "bench-" + secrets.token_hex(4)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        op = _ok(
            http.post("/api/v1/platform/login", json={"email": email, "password": password}),
            200,
        )["token"]
        admin_password = secrets.token_urlsafe(16)
        _ok(
            http.post(
                "/api/v1/platform/tenants",
                headers={"Authorization": f"Bearer {op}", **_key()},
                json={
                    "tenant_id": tenant_id,
                    "name": "Bench shop",
                    "params": {"grant_on": "paid"},
                    "admin": {"email": "admin@bench.invalid", "password": admin_password},
                },
            ),
            201,
        )
        session = _ok(
            http.post(
                f"/api/v1/tenants/{tenant_id}/login",
                json={"email": "admin@bench.invalid", "password": admin_password},
            ),
            200,
        )["token"]
        key = _ok(
            http.post(
                f"/api/v1/tenants/{tenant_id}/api-keys",
                headers={"Authorization": f"Bearer {session}", **_key()},
                json={"name": "bench"},
            ),
            201,
        )["token"]
    return tenant_id, str(session), str(key)


def _shop(base_url: str, tenant_id: str, admin: str, buyers: int) -> tuple[str, list[str]]:
    """A merchant with one SKU in ample stock, and ``buyers`` logged-in consumers."""
    base = f"/api/v1/tenants/{tenant_id}"
    auth = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        seller_password = secrets.token_urlsafe(12)
        seller = _ok(
            http.post(
                f"{base}/users",
                headers={**auth, **_key()},
                json={
                    "email": "seller@bench.invalid",
                    "password": seller_password,
                    "role": "merchant",
                },
            ),
            201,
        )
        _ok(
            http.post(
                f"{base}/merchants",
                headers={**auth, **_key()},
                json={"name": "Bench wines", "owner_user_id": seller["user_id"]},
            ),
            201,
        )
        merchant = _ok(
            http.post(
                f"{base}/login",
                json={"email": "seller@bench.invalid", "password": seller_password},
            ),
            200,
        )["token"]
        mauth = {"Authorization": f"Bearer {merchant}"}
        product = _ok(
            http.post(f"{base}/products", headers={**mauth, **_key()}, json={"title": "Wine"}),
            201,
        )
        sku = _ok(
            http.post(
                f"{base}/products/{product['product_id']}/skus",
                headers={**mauth, **_key()},
                json={
                    "name": "750ml",
                    "price": "100.00",
                    "stock": 100_000_000,
                    "pool_contribution": "30.00",
                },
            ),
            201,
        )
        tokens = []
        for n in range(buyers):
            who = {"email": f"buyer{n}@bench.invalid", "password": secrets.token_urlsafe(12)}
            # Made by the admin: self-registration is throttled per client (one client here).
            made = {**who, "role": "consumer"}
            _ok(http.post(f"{base}/users", headers={**auth, **_key()}, json=made), 201)
            tokens.append(str(_ok(http.post(f"{base}/login", json=who), 200)["token"]))
    return str(sku["sku_id"]), tokens


# Orders (flows) each scenario makes from its clients before its clock, untimed: the sessions
# connected and the caches filled, and rows enough in the tables that the ANALYZE after it
# (``settle``) describes a mall with some history. Each session keeps the plans it built on
# those statistics while the load grows the tables: analysed at a few rows, a look-up by key
# is planned as a scan of the whole table and stays one for the whole run (in a live mall
# autovacuum analyses again as a table grows, and every session then plans again).
WARM_UP = 500


def _load(
    port: int,
    scenario: Scenario,
    requests: int,
    duration: float,  # float-ok: time
    flow: Flow,
    expect: int,
    pid: int | None = None,
    workers: int = 1,
) -> None:
    """``scenario.clients`` keep-alive connections (``http_client``: one thread, one event loop)
    share a counter of flows; each stops when the count is reached or the time is up. With
    ``pid`` (the server's), the CPU its workers used meanwhile is added to the scenario. The
    connections are spread evenly over the server's ``workers`` processes first (as a load
    balancer would), and how many each held is reported."""
    cpu_before = 0.0 if pid is None else process_cpu_seconds(pid)  # float-ok: time
    result = run_load(
        "127.0.0.1",
        port,
        flow,
        clients=scenario.clients,
        requests=requests,
        duration=duration,
        expect=expect,
        spread=("/readyz", WORKER_HEADER, workers) if workers > 1 else None,
    )
    scenario.per_worker = sorted(result.per_worker.values(), reverse=True)
    scenario.sent += result.sent
    scenario.ok += result.ok
    scenario.errors += result.errors
    for code, count in result.statuses.items():
        scenario.statuses[code] = scenario.statuses.get(code, 0) + count
    scenario.latencies.extend(result.latencies)
    scenario.seconds += result.seconds
    scenario.cpu_seconds += result.cpu_seconds
    scenario.http_requests += result.http_requests
    scenario.connections += result.connections
    if pid is not None:
        scenario.server_cpu_seconds += process_cpu_seconds(pid) - cpu_before


def _paid_order(user: str) -> dict[str, Any]:
    return {"user": {"external_id": user}, "amount": "100.00", "contribution": "30.00"}


def integration_orders(
    port: int,
    tenant_id: str,
    key: str,
    clients: int,
    requests: int,
    duration: float,  # float-ok: time
    users: int,
    pid: int | None = None,
    workers: int = 1,
    settle: Callable[[], object] = lambda: None,
) -> Scenario:
    scenario = Scenario("integration_paid", clients)
    run = secrets.token_hex(3)
    auth = f"Bearer {key}"
    base = f"/api/v1/tenants/{tenant_id}/integration/orders"

    def flow(offset: int) -> Flow:
        async def push(conn: Connection, n: int) -> int:
            n += offset
            answer = await conn.request(
                "POST",
                f"{base}/B{run}-{n}/paid",
                json=_paid_order(f"U{n % users}"),
                headers={"Authorization": auth, "Idempotency-Key": f"{run}-{n}"},
            )
            return answer.status

        return push

    warm = Scenario("warm-up", clients)
    _load(port, warm, min(WARM_UP, requests), duration, flow(0), 201)
    settle()
    _load(port, scenario, requests, duration, flow(10**9), 201, pid, workers)
    return scenario


def integration_batch(
    port: int,
    tenant_id: str,
    key: str,
    clients: int,
    requests: int,
    duration: float,  # float-ok: time
    users: int,
    batch_size: int,
    pid: int | None = None,
    workers: int = 1,
    settle: Callable[[], object] = lambda: None,
) -> Scenario:
    """Integration orders paid in batches of ``batch_size`` a request
    (``POST …/integration/batches/paid``); ``requests`` counts orders, as for the other
    scenarios, so at most ``ceil(requests / batch_size)`` requests are sent. A request is ok
    when answered 200; an order when its item's status is 201."""
    scenario = Scenario("integration_batch", clients, batch_size=batch_size)
    run = secrets.token_hex(3)
    auth = f"Bearer {key}"
    path = f"/api/v1/tenants/{tenant_id}/integration/batches/paid"

    def flow(offset: int, counts: Scenario) -> Flow:
        async def push(conn: Connection, n: int) -> int:
            n += offset
            first = n * batch_size
            orders = [
                {"external_order_id": f"B{run}-{n}-{i}", **_paid_order(f"U{(first + i) % users}")}
                for i in range(batch_size)
            ]
            answer = await conn.request(
                "POST",
                path,
                json={"orders": orders},
                headers={"Authorization": auth, "Idempotency-Key": f"{run}-b{n}"},
            )
            if answer.status == 200:
                for item in answer.json()["results"]:
                    code = str(item.get("status"))
                    counts.order_statuses[code] = counts.order_statuses.get(code, 0) + 1
                    if code == "201":
                        counts.orders_ok += 1
            return answer.status

        return push

    batches = -(-requests // batch_size)
    warm = Scenario("warm-up", clients, batch_size=batch_size)
    _load(port, warm, min(-(-WARM_UP // batch_size), batches), duration, flow(0, warm), 200)
    settle()
    _load(port, scenario, batches, duration, flow(10**9, scenario), 200, pid, workers)
    return scenario


def checkout_and_pay(
    base_url: str,
    port: int,
    tenant_id: str,
    admin: str,
    clients: int,
    requests: int,
    duration: float,  # float-ok: time
    pid: int | None = None,
    workers: int = 1,
    settle: Callable[[], object] = lambda: None,
) -> Scenario:
    """The consumer's flow: check out one unit (stock reserved, an order, a payment), then
    approve it on the sandbox gateway's page, whose signed webhook marks the order paid and
    books its rewards. One flow is two requests; latency and rate are per flow."""
    sku_id, buyers = _shop(base_url, tenant_id, admin, min(clients, 16))
    scenario = Scenario("checkout_and_pay", clients)
    run = secrets.token_hex(3)
    path = f"/api/v1/tenants/{tenant_id}/checkout"
    lines = {"lines": [{"sku_id": sku_id, "quantity": 1}]}

    def flow(offset: int) -> Flow:
        async def buy(conn: Connection, n: int) -> int:
            n += offset
            token = buyers[n % len(buyers)]
            answer = await conn.request(
                "POST",
                path,
                json=lines,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"{run}-{n}"},
            )
            if answer.status != 201:
                return answer.status
            (payment,) = answer.json()["payments"]
            paid = await conn.request("POST", payment["redirect_url"], form={"outcome": "approve"})
            return paid.status

        return buy

    _load(port, Scenario("warm-up", clients), min(WARM_UP, requests), duration, flow(0), 200)
    settle()
    _load(port, scenario, requests, duration, flow(10**9), 200, pid, workers)
    return scenario


SCENARIOS = ("integration", "batch", "checkout")
BATCH_SIZE = 50  # orders a batch request, by default (the endpoint takes 1..100)
# A shop pushing batches does so from a few connections: more clients only queue on the
# tenant's writer (16 clients x 50: 1,600 orders/s, p99 0.66 s; 2 x 50: 1,840, p99 69 ms).
BATCH_CLIENTS = 2


def run(
    database_url: str,
    *,
    duration: float,  # float-ok: time
    requests: int,
    clients: int,
    workers: int,
    users: int,
    batch_size: int = BATCH_SIZE,
    batch_clients: int = BATCH_CLIENTS,
    scenarios: tuple[str, ...] = SCENARIOS,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    from tokenmall.adapters.db.engine import analyze
    from tokenmall.adapters.db.store import Store
    from tokenmall.services.ledger.audit import audit

    say = progress or (lambda _: None)
    store = Store.open(database_url)  # migrates once, before the workers start

    def settle() -> None:  # after a scenario's warm-up, before its clock
        analyze(store.engine)

    postgres = store.postgres
    # A new operator each run: a rerun on the same database never meets an operator with
    # another run's password.
    email, password = f"bench-{secrets.token_hex(4)}@bench.invalid", secrets.token_urlsafe(16)
    try:
        say(f"starting uvicorn ({workers} worker(s)) on 127.0.0.1 …")
        _create_operator(store, email, password)
        server = Server(database_url, workers)
        try:
            tenant_id, admin, key = _set_up(server.base_url, email, password)
            done = []
            if "integration" in scenarios:
                say(
                    f"tenant {tenant_id}: pushing up to {requests} integration orders for "
                    f"{duration} s from {clients} clients …"
                )
                done.append(
                    integration_orders(
                        server.port,
                        tenant_id,
                        key,
                        clients,
                        requests,
                        duration,
                        users,
                        server.process.pid,
                        workers=workers,
                        settle=settle,
                    )
                )
            if "batch" in scenarios:
                say(
                    f"tenant {tenant_id}: pushing up to {requests} integration orders in "
                    f"batches of {batch_size} for {duration} s from {batch_clients} clients …"
                )
                done.append(
                    integration_batch(
                        server.port,
                        tenant_id,
                        key,
                        batch_clients,
                        requests,
                        duration,
                        users,
                        batch_size,
                        server.process.pid,
                        workers=workers,
                        settle=settle,
                    )
                )
            if "checkout" in scenarios:
                say(f"tenant {tenant_id}: up to {requests} checkouts paid on the sandbox …")
                done.append(
                    checkout_and_pay(
                        server.base_url,
                        server.port,
                        tenant_id,
                        admin,
                        clients,
                        requests,
                        duration,
                        server.process.pid,
                        workers=workers,
                        settle=settle,
                    )
                )
        finally:
            server.close()
        (report,) = audit(store, tenant_id)
    finally:
        store.dispose()
    return {
        "database": "postgresql" if postgres else "sqlite",
        "workers": workers,
        "tenant_id": tenant_id,
        **headline(done),
        "scenarios": [scenario.figures() for scenario in done],
        "audit": {
            "clean": not report.findings,
            "findings": len(report.findings),
            "journals": report.journals,
        },
    }
