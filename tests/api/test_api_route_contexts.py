"""The server's start-up builds FastAPI's route contexts, so no request has to.

FastAPI builds the contexts of the routers included inside an included router (the API's,
inside the ``GuardedRouter``) when a request first walks past them; ``tokenmall serve`` and
``bench api``'s workers build them all at start-up (``web/routing.build_route_contexts``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient

from served import app_settings
from tokenmall.web.app import create_app
from tokenmall.web.routing import build_route_contexts

PATHS = ("/api/v1/tenants/t1/orders/o1", "/api/v1/tenants/t1/market/offers", "/sandbox/pay/x")


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    context = getattr(fastapi.routing, "_EffectiveRouteContext", None)
    if context is None or not hasattr(context, "from_api_route"):
        pytest.skip("this FastAPI builds no route contexts lazily")
    built: list[int] = []
    real = context.from_api_route

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(context, "from_api_route", counted)
    return built


def _first_requests(app: Any) -> list[int]:
    with TestClient(app) as client:
        return [client.get(path).status_code for path in PATHS]


def test_no_request_builds_a_route_context_after_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _counting(monkeypatch)
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'routes.db'}"), configure_logging=False)
    assert build_route_contexts(app.router) > 0
    built.clear()
    answers = _first_requests(app)
    assert built == []
    # The same answers as an application left to build them as requests come.
    lazy = create_app(app_settings(f"sqlite:///{tmp_path / 'lazy.db'}"), configure_logging=False)
    built.clear()
    assert _first_requests(lazy) == answers
    assert built  # what the start-up spared the first requests
