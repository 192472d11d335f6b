"""Rendering a page: the Jinja environment, the context every template gets (locale,
formatting, CSRF token, form key), the security headers, and the 303 answer of a form that
worked (it works without JavaScript; HTMX only enhances)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tokenmall.services.mall.auth import Principal
from tokenmall.web.pages.csrf import ANON_COOKIE, csrf_token
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.i18n import LANG_COOKIE, Fmt, locale_of, translations
from tokenmall.web.pages.sessions import PLATFORM, settings

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
STATIC_PREFIX = "/-/static"


@cache
def environment(reload: bool = False) -> Environment:
    """The templates, compiled once; ``reload`` (development) looks for edited template files
    on every render, a file system check of the page and each template it extends or imports."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        auto_reload=reload,
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["new_form_key"] = lambda: uuid.uuid4().hex  # one idempotency key per form shown
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    caller: Principal | None = None,
) -> HTMLResponse:
    locale = locale_of(request)
    trans = translations(locale)
    token = csrf_token(request, caller)
    form = context.get("form")
    if isinstance(form, FormState):
        # Messages the pages raise themselves are catalogue entries; the use cases' own
        # messages are English and shown as they are.
        form.errors = {
            name: form.zh[name] if locale == "zh_CN" and name in form.zh else trans.gettext(message)
            for name, message in form.errors.items()
        }
    page = {
        "request": request,
        "path": request.url.path,
        "locale": locale,
        "lang_html": "zh-CN" if locale == "zh_CN" else "en",
        "_": trans.gettext,
        "gettext": trans.gettext,
        "ngettext": trans.ngettext,
        "fmt": Fmt(locale),
        "csrf_token": token,
        "form_key": uuid.uuid4().hex,
        "static": STATIC_PREFIX,
        "platform": PLATFORM,
        "form": FormState(),
        "empty_form": FormState(),
        "caller": caller,
        "htmx": request.headers.get("hx-request") == "true",
        **context,
    }
    reload = getattr(settings(request), "development", False)  # an error page renders whatever
    html = environment(reload).get_template(template).render(page)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    anon = getattr(request.state, "anon_csrf", None)
    if anon is not None:
        response.set_cookie(
            ANON_COOKIE,
            anon,
            httponly=True,
            samesite="lax",
            secure=settings(request).cookie_secure,
        )
    asked = request.query_params.get("lang")
    if asked is not None and asked in ("en", "zh_CN", "zh-CN", "zh"):
        response.set_cookie(
            LANG_COOKIE, locale, samesite="lax", max_age=365 * 24 * 3600, httponly=True
        )
    return response


def redirect(location: str) -> RedirectResponse:
    """The answer to a form that worked: 303 See Other, so a reload does not post again."""
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response
