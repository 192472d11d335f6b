"""Helpers of the browser tests: the served site and screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "artifacts" / "screenshots"


@dataclass
class Site:
    base_url: str
    app: Any


def shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page: Any, expression: str, timeout_ms: int = 15_000) -> None:
    """Poll ``expression`` in the page until it is truthy.

    Not ``page.wait_for_function``: once its first check fails, Playwright re-evaluates the
    predicate with ``eval`` inside the page, which the pages' Content-Security-Policy
    (``script-src 'self'``, no ``'unsafe-eval'``) rightly refuses — a race that made the test
    flaky. ``page.evaluate`` goes through the DevTools protocol, which the policy does not
    govern."""
    waited = 0
    while not page.evaluate(expression):
        if waited >= timeout_ms:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(50)
        waited += 50
