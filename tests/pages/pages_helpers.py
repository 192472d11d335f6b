"""Helpers of the page tests: a cookie-keeping HTTP client that fills forms as a browser
without JavaScript would, and readers of what a page shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from tokenmall.demo import living as demo

OPERATOR_EMAIL = demo.OPERATOR_EMAIL
PASSWORD = demo.PASSWORD


@dataclass
class Site:
    base_url: str
    app: Any


class Browser:
    """httpx with a cookie jar, no redirects followed, and form helpers (no JavaScript)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def form(self, path: str, action: str | None = None) -> dict[str, str]:
        """The hidden fields of the form posting to ``action`` (else the last form) on the page
        at ``path``: its CSRF token, form key and whatever else it carries."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:500])
        return hidden_fields(page.text, action)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        return self.http.post(path, data=data, **kw)

    def submit(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Open ``page``, fill its form's hidden fields, post ``data`` to ``action``."""
        return self.post(action, {**self.form(page, action), **data})

    def login(self, tenant_id: str, email: str, password: str = PASSWORD) -> None:
        answer = self.submit(
            f"/{tenant_id}/login", f"/{tenant_id}/login", {"email": email, "password": password}
        )
        assert answer.status_code == 303, answer.text[:500]

    def operator_login(self) -> None:
        answer = self.submit(
            "/-/platform/login",
            "/-/platform/login",
            {"email": OPERATOR_EMAIL, "password": PASSWORD},
        )
        assert answer.status_code == 303, answer.text[:500]

    def close(self) -> None:
        self.http.close()


def hidden_fields(html: str, action: str | None = None) -> dict[str, str]:
    """The hidden inputs of the (first) form posting to ``action``, else of the page's last
    form (the consoles' first form is the side bar's log-out), and its radio buttons checked
    as shown (a browser sends those too: the checkout's chosen address)."""
    forms = re.findall(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', html, re.S)
    assert forms, "no form on the page"
    chosen = [body for target, body in forms if action is None or target == action]
    assert chosen, f"no form posting to {action}"
    body = chosen[0] if action is not None else chosen[-1]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    checked = re.findall(r'<input type="radio" name="([^"]+)" value="([^"]*)" checked>', body)
    return {**dict(checked), **fields}


def field_error(html: str, name: str) -> str | None:
    """The message shown next to the field ``name``, if any."""
    match = re.search(
        rf'<p class="error[^"]*"[^>]*data-field="{re.escape(name)}">([^<]*)</p>', html
    )
    return None if match is None else match.group(1)
