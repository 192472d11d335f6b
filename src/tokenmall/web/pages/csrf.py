"""CSRF tokens: an HMAC of the session's credential id (or, before login, of a random cookie)
under the settings' secret key, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.datastructures import FormData

from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden
from tokenmall.web.pages.sessions import settings

ANON_COOKIE = "tokenmall_csrf"


def _csrf_basis(request: Request, caller: Principal | None) -> str | None:
    if caller is not None:
        return f"session:{caller.credential_id}"
    anon = request.cookies.get(ANON_COOKIE) or getattr(request.state, "anon_csrf", None)
    return None if anon is None else f"anon:{anon}"


def csrf_token(request: Request, caller: Principal | None) -> str:
    basis = _csrf_basis(request, caller)
    if basis is None:
        # First visit: a random value for the anonymous CSRF cookie, set by ``render``.
        request.state.anon_csrf = secrets.token_urlsafe(24)
        basis = f"anon:{request.state.anon_csrf}"
    key = settings(request).secret_key.get_secret_value().encode()
    return hmac.new(key, f"csrf:{basis}".encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, caller: Principal | None, form: FormData) -> None:
    sent = form.get("csrf_token")
    basis = _csrf_basis(request, caller)
    if not isinstance(sent, str) or basis is None:
        raise Forbidden("the form has expired: reload the page and try again", "csrf_token")
    key = settings(request).secret_key.get_secret_value().encode()
    expected = hmac.new(key, f"csrf:{basis}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sent, expected):
        raise Forbidden("the form has expired: reload the page and try again", "csrf_token")
