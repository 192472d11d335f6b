"""The pages' errors: a refused request, a missing page or a bug becomes an HTML error page
(or a redirect to login), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenmall.domain.errors import DomainError
from tokenmall.services.mall.errors import NotFound
from tokenmall.web.errors import status_of
from tokenmall.web.logs import request_id_var
from tokenmall.web.pages.i18n import locale_of, translations
from tokenmall.web.pages.rendering import redirect, render
from tokenmall.web.pages.sessions import LoginNeeded

log = logging.getLogger("tokenmall.web.pages")


_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
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


# What a refused or missing page says in Chinese when the use case's own (English) message has no
# translation: that message may name internal ids or the caller's role, which a Chinese page never
# shows. Other refusals (422, 409) keep their message: it names what to fix.
_PLAIN = {
    403: "You may not do this with your account's role.",
    404: "There is no such page.",
}


def _said(request: Request, status: int, message: str) -> str:
    """``message`` in the page's language: its translation, else (a 403 or 404 in Chinese) the
    plain words of the status, else the message as it is."""
    locale = locale_of(request)
    trans = translations(locale)
    translated = trans.gettext(message)
    if translated != message or locale == "en" or status not in _PLAIN:
        return translated
    return trans.gettext(_PLAIN[status])


def page_error(request: Request, exc: Exception) -> Response:
    trans = translations(locale_of(request))
    if isinstance(exc, LoginNeeded):
        return redirect(exc.login_url)
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        message = trans.gettext("There is no such page.") if status == 404 else str(exc.detail)
        return error_page(request, status, _said(request, status, message))
    if isinstance(exc, NotFound):
        return error_page(request, 404, _said(request, 404, str(exc)))
    if isinstance(exc, DomainError):
        status = status_of(exc)
        return error_page(request, status, _said(request, status, str(exc)))
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
