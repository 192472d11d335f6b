"""``tokenmall bench pages``: the mall's home and a product page under load, as shoppers see them.

The command (``cli/bench.py``) sets up the demo tenant first (``demo/living.py``, the wine
brand with ``--days`` of history; safe to run again on the same database). This starts
``uvicorn`` with ``workers`` processes as ``bench api`` does (its ``Server``: a socket bound
and listening before the workers start, ``TCP_NODELAY``, ``/readyz`` waited for), finds a
product from the home page itself, signs in a few of the mall's consumers through the API
(their session tokens sent as the pages' session cookie), then asks ``GET /{tenant}/`` and
``GET /{tenant}/products/{id}`` from ``clients`` keep-alive connections (``http_client``) for
``duration`` seconds each: first as anonymous visitors, then as signed-in members (each
connection one member's cookie). It prints requests/s and p50/p99 of each, and checks every
answer is a 200 whose page names the tenant.

Figures are printed, never asserted on: they depend on the machine and what else runs on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tokenmall.bench.api import Server, _load
from tokenmall.bench.api_figures import Scenario
from tokenmall.bench.http_client import Connection, Flow

_PRODUCT = re.compile(rb'href="/[^/"]+/products/([A-Za-z0-9_-]+)"')


@dataclass(frozen=True)
class Mall:
    """The tenant to time, set up before: its id, its name (every page shows it) and the
    members to sign in (email, password)."""

    tenant_id: str
    name: str
    members: list[tuple[str, str]]


def _first_product(base_url: str, tenant_id: str) -> str:
    page = httpx.get(f"{base_url}/{tenant_id}/", timeout=30)
    if page.status_code != 200:
        raise RuntimeError(f"the home page answered {page.status_code}")
    found = _PRODUCT.search(page.content)
    if found is None:
        raise RuntimeError("the home page shows no product")
    return found.group(1).decode()


def _sign_in(base_url: str, tenant_id: str, members: list[tuple[str, str]]) -> list[str]:
    tokens = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for email, password in members:
            answer = http.post(
                f"/api/v1/tenants/{tenant_id}/login", json={"email": email, "password": password}
            )
            if answer.status_code != 200:
                raise RuntimeError(f"signing in {email} failed: {answer.status_code}")
            tokens.append(str(answer.json()["token"]))
    return tokens


def _page_flow(path: str, marker: bytes, cookies: list[str]) -> Flow:
    """GET ``path``; a 200 without ``marker`` (the tenant's name) counts as status 0."""

    async def get(conn: Connection, n: int) -> int:
        headers = {"Cookie": cookies[n % len(cookies)]} if cookies else None
        answer = await conn.request("GET", path, headers=headers)
        if answer.status == 200 and marker not in answer.body:
            return 0
        return answer.status

    return get


def _scenario(
    port: int,
    name: str,
    flow: Flow,
    clients: int,
    requests: int,
    duration: float,  # float-ok: time
) -> Scenario:
    scenario = Scenario(name, clients)
    _load(port, Scenario("warm-up", clients), min(requests, 20 * clients), duration, flow, 200)
    _load(port, scenario, requests, duration, flow, 200)
    return scenario


def _member_cookies(tokens: list[str]) -> list[str]:
    from tokenmall.web.deps import SESSION_COOKIE

    return [f"{SESSION_COOKIE}={token}" for token in tokens]


def run(
    database_url: str,
    mall: Mall,
    *,
    duration: float,  # float-ok: time
    requests: int,
    clients: int,
    workers: int,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Serve ``mall`` (already in the database) and time its home and a product page:
    anonymous, then signed in. One JSON-ready dict; ``home_requests_per_second`` and
    ``product_requests_per_second`` are the anonymous visitors'."""
    say = progress or (lambda _: None)
    tenant_id, marker = mall.tenant_id, mall.name.encode()
    say(f"starting uvicorn ({workers} worker(s)) on 127.0.0.1 …")
    server = Server(database_url, workers)
    try:
        product_id = _first_product(server.base_url, tenant_id)
        cookies = _member_cookies(_sign_in(server.base_url, tenant_id, mall.members))
        paths = {"home": f"/{tenant_id}/", "product": f"/{tenant_id}/products/{product_id}"}
        done: dict[str, dict[str, Scenario]] = {"anonymous": {}, "member": {}}
        for visitor, sent in (("anonymous", []), ("member", cookies)):
            for page, path in paths.items():
                say(f"{visitor} {page} ({path}): {clients} clients for {duration} s …")
                flow = _page_flow(path, marker, sent)
                done[visitor][page] = _scenario(
                    server.port, f"{page}_{visitor}", flow, clients, requests, duration
                )
    finally:
        server.close()
    report: dict[str, Any] = {
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "workers": workers,
        "clients": clients,
        "tenant_id": tenant_id,
        "product_id": product_id,
    }
    for visitor, pages in done.items():
        figures = {}
        for page, scenario in pages.items():
            shown = scenario.figures()
            figures[f"{page}_requests_per_second"] = shown["requests_per_second"]
            figures[f"{page}_p50_ms"] = shown["p50_ms"]
            figures[f"{page}_p99_ms"] = shown["p99_ms"]
            figures[f"{page}_requests"] = shown["requests"]
            figures[f"{page}_errors"] = shown["errors"]
            figures[f"{page}_statuses"] = shown["statuses"]
        report[visitor] = figures
    report["home_requests_per_second"] = report["anonymous"]["home_requests_per_second"]
    report["product_requests_per_second"] = report["anonymous"]["product_requests_per_second"]
    return report
