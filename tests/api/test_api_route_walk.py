"""A request is matched against the routes of its own module, not every route before it.

FastAPI asks each included router in turn and each router each of its routes; the API's
modules are each behind a guard (``web/routing.GuardedRouter``) as the pages' parts are, so a
path is tried only against the module whose patterns can match it. Counted here: the route
patterns a request tries (FastAPI's ``APIRoute.matches``), which without the guards grow with
every route registered before the request's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from served import app_settings
from tokenmall.web.app import create_app
from tokenmall.web.routing import build_route_contexts

# Paths of modules far down the API's list (the drop, the market) and near its top.
PATHS = (
    ("POST", "/api/v1/tenants/t1/nfg/collections/c1/reservations"),
    ("GET", "/api/v1/tenants/t1/market/holidays"),
    ("GET", "/api/v1/tenants/t1/orders/o1"),
    ("POST", "/api/v1/tenants/t1/integration/orders/o1/paid"),
)


def _api_routes(router: Any) -> list[APIRoute]:
    """Every ``APIRoute`` under ``router``, through its included routers."""
    found: list[APIRoute] = []
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found += _api_routes(inner)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _module_routes(routes: list[APIRoute], path: str, method: str) -> int:
    """How many routes share the module of the route that answers ``method path``."""
    for route in routes:
        if method in route.methods and route.path_regex.match(path):
            module = route.endpoint.__module__
            return sum(1 for other in routes if other.endpoint.__module__ == module)
    raise AssertionError(f"no route answers {method} {path}")


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_a_request_tries_only_its_modules_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'walk.db'}"), configure_logging=False)
    build_route_contexts(app.router)
    routes = _api_routes(app.router)
    total = len(routes)
    tried: list[str] = []
    real = APIRoute.matches

    def counted(self: APIRoute, scope: Any) -> Any:
        tried.append(self.path)
        return real(self, scope)

    monkeypatch.setattr(APIRoute, "matches", counted)
    with TestClient(app, raise_server_exceptions=False) as client:
        tried.clear()
        answer = client.request(method, path, json={})
    assert "no such endpoint" not in answer.text  # answered by its route
    own = _module_routes(routes, path, method)
    # Matched, then selected again by the handler: at most twice its own module's routes.
    assert 0 < len(tried) <= 2 * own, (len(tried), own, total)
    assert len(tried) < total // 4


def test_after_start_up_a_request_does_not_walk_the_router_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI sums the routes' version over every router below an inclusion each time a
    request walks past it; once the server has built its route contexts
    (``build_route_contexts``) the guarded routers answer theirs without walking."""
    import fastapi.routing

    walks: list[int] = []
    real = fastapi.routing.APIRouter._get_routes_version

    def counted(self: Any, seen: Any = None) -> int:
        walks.append(1)
        return int(real(self, seen))

    def walked(app: Any) -> int:
        with TestClient(app, raise_server_exceptions=False) as client:
            client.get("/api/v1/tenants/t1/market/holidays")  # the first builds what is lazy
            walks.clear()
            client.post("/api/v1/tenants/t1/nfg/collections/c1/reservations", json={})
        return len(walks)

    monkeypatch.setattr(fastapi.routing.APIRouter, "_get_routes_version", counted)
    started = create_app(app_settings(f"sqlite:///{tmp_path / 'a.db'}"), configure_logging=False)
    build_route_contexts(started.router)
    lazy = create_app(app_settings(f"sqlite:///{tmp_path / 'b.db'}"), configure_logging=False)
    after_start, without = walked(started), walked(lazy)
    assert after_start <= 6 < without, (after_start, without)
