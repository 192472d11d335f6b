"""What every page shares: templates, the locale, formatting, the session, CSRF, form posts and
the error page.

Pages are the API's twin for people: they call the same use cases (``services/mall/*``) with the
caller read from the ``tokenmall_session`` cookie (operators: ``tokenmall_operator``, scoped to
the platform console's path), so no rule is written twice. A form is a plain POST answered by a
303 redirect (it works without JavaScript; HTMX only enhances). Every form carries

* a CSRF token: an HMAC of the session's credential id (or, before login, of a random cookie)
  under the settings' secret key, compared in constant time, and
* a form key: the form's idempotency key, so a double submit replays the first answer through
  the same idempotency store as the API (``services/mall/idempotency.py``).

A refused form re-renders with the message next to the field at fault and changes nothing (one
transaction, rolled back). ``PageRoute`` turns every other error into an HTML page: never a
traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenmall.config import Settings
from tokenmall.domain.errors import DomainError
from tokenmall.services.mall import auth, idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web.deps import SESSION_COOKIE
from tokenmall.web.errors import status_of as status_of  # re-exported for the pages
from tokenmall.web.logs import request_id_var

log = logging.getLogger("tokenmall.web.pages")

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
I18N = WEB / "i18n"

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "tokenmall_lang"
OPERATOR_COOKIE = "tokenmall_operator"
ANON_COOKIE = "tokenmall_csrf"
PLATFORM = "/-/platform"  # "-" is never a tenant id, so no tenant's pages can shadow these
STATIC_PREFIX = "/-/static"
MAX_FORM_BYTES = 64 * 1024


# --- translations -------------------------------------------------------------------------------


@cache
def translations(locale: str) -> Translations:
    """The locale's Babel catalogue, compiled from its .po files once per process (no build
    step: the .po files are the source and what is packaged). ``messages.po`` first, then
    every other ``*.po`` of the folder (one per part of the pages: ``mall_*.po``,
    ``admin_*.po``…) merged into it; a later file's translation of the same id wins."""
    folder = I18N / locale / "LC_MESSAGES"
    paths = [folder / "messages.po"]
    paths += sorted(p for p in folder.glob("*.po") if p.name != "messages.po")
    catalog = None
    for path in paths:
        with path.open("rb") as handle:
            part = read_po(handle, locale=locale)
        if catalog is None:
            catalog = part
            continue
        for message in part:
            if message.id and message.string:
                catalog[message.id] = message
    assert catalog is not None
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def locale_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in ("en", "en_US", "en-US"):
        return "en"
    if asked in ("zh", "zh_CN", "zh-CN"):
        return "zh_CN"
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Fmt:
    """Locale-aware formatting of exact decimal strings (never through a float)."""

    locale: str

    def money(self, value: str | int | None) -> str:
        """Money from a decimal string ("12.50") or fen (an int)."""
        if value is None:
            return "—"
        amount = Decimal(value).scaleb(-2) if isinstance(value, int) else Decimal(value)
        return str(format_currency(amount, "CNY", locale=self.locale))

    def points(self, value: str | None, places: int = 4) -> str:
        """Points to ``places`` shown (the full 8 in a title attribute where it matters)."""
        if value is None:
            return "—"
        pattern = "#,##0." + "0" * places
        return str(format_decimal(Decimal(value), format=pattern, locale=self.locale))

    def number(self, value: str | int | None) -> str:
        if value is None:
            return "—"
        return str(format_decimal(Decimal(value), locale=self.locale))

    def price(self, value: str | None) -> str:
        if value is None:
            return "—"
        pattern = "#,##0.0000"
        text = format_decimal(Decimal(value), format=pattern, locale=self.locale)
        return f"¥{text}"

    def percent(self, value: str | None) -> str:
        if value is None:
            return "—"
        scaled = Decimal(value) * 100
        return str(format_decimal(scaled, format="#,##0.##", locale=self.locale)) + "%"

    def statement(self, line: str) -> str:
        """One line of the health statement (Chinese, then English) in this locale."""
        zh, sep, en = line.partition("。 ")
        if not sep:
            return line
        return zh + "。" if self.locale == "zh_CN" else en

    def date(self, value: Any) -> str:
        if value is None:
            return "—"
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return text[:16].replace("T", " ")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["new_form_key"] = lambda: uuid.uuid4().hex  # one idempotency key per form shown
    return env


# --- callers ------------------------------------------------------------------------------------


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def _principal(request: Request, cookie: str) -> Principal | None:
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        with database(request).read() as conn:
            return auth.authenticate(conn, token, utc_now())
    except Unauthenticated:
        return None


def member(request: Request, tenant_id: str) -> Principal | None:
    """The tenant's logged-in user, or None (no session, expired, or another tenant's)."""
    found = _principal(request, SESSION_COOKIE)
    if found is None or found.tenant_id != tenant_id:
        return None
    return found


def operator(request: Request) -> Principal | None:
    found = _principal(request, OPERATOR_COOKIE)
    return found if found is not None and found.is_operator else None


class LoginNeeded(Exception):
    """Raised by a page that needs a session; ``PageRoute`` redirects to ``login_url``."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


def need_member(request: Request, tenant_id: str) -> Principal:
    found = member(request, tenant_id)
    if found is None:
        raise LoginNeeded(f"/{tenant_id}/login?next={request.url.path}")
    return found


def need_operator(request: Request) -> Principal:
    found = operator(request)
    if found is None:
        raise LoginNeeded(f"{PLATFORM}/login")
    return found


# --- CSRF ---------------------------------------------------------------------------------------


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


async def read_form(request: Request) -> FormData:
    """The posted form (URL-encoded or multipart), bounded in size."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise InvalidInput("the form is too large", None)
    return await request.form(max_files=0, max_fields=100)


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# --- rendering ----------------------------------------------------------------------------------


@dataclass
class FormState:
    """What a re-rendered form shows: the values sent and the message of the field at fault."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, form: FormData, exc: DomainError | None = None) -> FormState:
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "password"}
        state = cls(values)
        if exc is not None:
            state.fail(exc)
        return state

    def fail(self, exc: DomainError) -> None:
        name = getattr(exc, "field", None) or "_form"
        self.errors[str(name)] = str(exc)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def move_errors(self, names: Mapping[str, str]) -> None:
        """Show the message of each field ``names`` maps from next to the field it maps to
        (the service's field name → the form's)."""
        for source, target in names.items():
            if source in self.errors:
                self.errors[target] = self.errors.pop(source)


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
        form.errors = {name: trans.gettext(message) for name, message in form.errors.items()}
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
    html = environment().get_template(template).render(page)
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


# --- form posts through the idempotency store ---------------------------------------------------


class Replayed(Exception):
    """Internal: the form key was already used for this very form; answer its first redirect."""


def submit(
    request: Request,
    form: FormData,
    *,
    tenant_id: str,
    caller: Principal | None,
    action: Callable[[Connection], str],
) -> str:
    """Run ``action`` (which returns where to go next) once per form key, in one transaction
    with the stored answer; a double submit answers the first redirect and changes nothing."""
    key = text_field(form, "form_key")
    if not key:
        key = uuid.uuid4().hex  # a hand-made post without a key: no replay protection needed
    idempotency.check_key(key)
    body = {k: v for k, v in sorted(form.items()) if isinstance(v, str) and k != "form_key"}
    body.pop("csrf_token", None)
    if "password" in body:
        body["password"] = hashlib.sha256(body["password"].encode()).hexdigest()
    request_hash = idempotency.request_hash("POST", request.url.path, body)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        return idempotency.Done(303, action(attempt.conn))

    outcome = idempotency.run_once(
        database(request),
        tenant_id=tenant_id,
        caller=caller,
        scope_prefix="page:",
        key=key,
        request=request_hash,
        action=act,
    )
    return outcome.body


# --- errors -------------------------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    500: "Something went wrong",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    locale = locale_of(request)
    trans = translations(locale)
    title = trans.gettext(_TITLES.get(status, "Error"))
    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": title, "message": message},
            status_code=status,
        )
    except Exception:  # the error page itself must never fail with a traceback
        log.exception("error page failed")
        return HTMLResponse(
            f"<!doctype html><title>{status}</title><h1>{status}</h1>", status_code=status
        )


def page_error(request: Request, exc: Exception) -> Response:
    trans = translations(locale_of(request))
    if isinstance(exc, LoginNeeded):
        return redirect(exc.login_url)
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        message = trans.gettext("There is no such page.") if status == 404 else str(exc.detail)
        return error_page(request, status, message)
    if isinstance(exc, NotFound):
        return error_page(request, 404, str(exc))
    if isinstance(exc, DomainError):
        return error_page(request, status_of(exc), str(exc))
    log.exception("unhandled error on a page", exc_info=exc)
    message = trans.gettext("An internal error occurred (request id %(id)s).") % {
        "id": request_id_var.get()
    }
    return error_page(request, 500, message)


class PageRoute(APIRoute):
    """A page's route: every exception becomes an HTML error page (or a redirect to login)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Exception as exc:
                return page_error(request, exc)

        return handler
