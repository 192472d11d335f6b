"""A router that says "not mine" in one regular expression.

FastAPI matches a request by asking every included router in turn, and each router asks each
of its routes, with some bookkeeping per route; the pages come after the API's routers and the
mall's after the console's, so a shopper's page was matched only after some seventy routes
had been tried (more of its time than the page itself took). A ``GuardedRouter`` holds the
union of its routes' path patterns and answers ``Match.NONE`` at once for a path none of them
can match, whatever the method; any other path is matched exactly as before, so what answers a
request (a page, a 404, a 405) does not change.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

SEEN_PATHS = 4096  # paths a guard remembers its answer for (forgotten all at once when full)
_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


def build_route_contexts(router: Any) -> int:
    """Have FastAPI build every included router's route contexts now, at start-up.

    FastAPI builds the contexts of a router included in an included router (the API's
    routers, inside the ``GuardedRouter``) when a request first walks past them: about a
    second of CPU (more on a busy machine) added to the first requests of each worker. Asking
    each inclusion for its candidates here builds and caches the same objects requests use.
    How many inclusions were walked (0 if this FastAPI builds them some other way)."""
    walked = 0
    pending = list(getattr(router, "routes", ()))
    while pending:
        route = pending.pop()
        candidates = getattr(type(route), "effective_candidates", None)
        if not callable(candidates):
            continue
        walked += 1
        pending.extend(route.effective_candidates())
        inner = getattr(route, "original_router", None)
        if isinstance(inner, GuardedRouter):
            inner.freeze()
    return walked


class GuardedRouter(APIRouter):
    """An ``APIRouter`` of routers included without a prefix (``include_router(router)``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._held: list[APIRouter] = []
        self._guard: re.Pattern[str] | None = None
        self._guarded = False
        self._frozen: int | None = None
        self._seen: dict[str, bool] = {}  # path → whether the guard lets it through

    def include_router(self, router: APIRouter, **kwargs: Any) -> None:
        if kwargs.get("prefix"):
            raise ValueError("a GuardedRouter includes routers without a prefix")
        self._held.append(router)
        self._guarded = False
        self._frozen = None
        super().include_router(router, **kwargs)

    def freeze(self) -> None:
        """No route is added from now on (the server has started): the version of the routes
        below this router, which FastAPI sums over every included router each time a request
        walks past it (to know whether its cached route contexts still hold), is taken once."""
        self._frozen = None
        self._frozen = self._get_routes_version()

    def _get_routes_version(self, seen: set[int] | None = None) -> int:
        if self._frozen is not None:
            return self._frozen
        return int(super()._get_routes_version(seen))

    def patterns(self) -> list[str] | None:
        """Every path pattern this router can match, or None when one is not known."""
        found: list[str] = []
        for route in self.routes:
            if isinstance(route, Route | Mount):
                found.append(route.path_regex.pattern)
            elif getattr(route, "original_router", None) not in self._held:
                return None  # a route of a kind whose paths are not known
        for router in self._held:
            if isinstance(router, GuardedRouter):
                inner = router.patterns()
                if inner is None:
                    return None
                found += inner
                continue
            for route in router.routes:
                if not isinstance(route, Route | Mount):
                    return None  # a nested inclusion: its paths are not looked into
                found.append(route.path_regex.pattern)
        return found

    def _compiled(self) -> re.Pattern[str] | None:
        if not self._guarded:
            found = self.patterns()
            self._guard = (
                None
                if found is None
                else re.compile("|".join(f"(?:{_GROUP.sub('(?:', p)})" for p in found))
            )
            self._guarded = True
            self._seen = {}
        return self._guard

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        guard = self._compiled()
        if guard is not None and scope["type"] == "http" and not self._may_match(guard, scope):
            return Match.NONE, {}
        return super().matches(scope)

    def _may_match(self, guard: re.Pattern[str], scope: Scope) -> bool:
        """Whether one of the patterns matches the path, remembered for the last paths seen
        (a drop's presses, a product's page: the same path again and again; the union of a
        module's patterns is tried alternative by alternative)."""
        path = get_route_path(scope)
        seen = self._seen.get(path)
        if seen is None:
            seen = guard.match(path) is not None
            if len(self._seen) >= SEEN_PATHS:
                self._seen.clear()
            self._seen[path] = seen
        return seen
