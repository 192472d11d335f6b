"""The API's interactive documentation at ``/docs``: Swagger UI served from the project's own
static files (``static/vendor/swagger-ui``), so it works offline and behind a firewall. The
page loads only same-origin scripts (its start-up is a file too, not an inline script)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tokenmall.web.pages.rendering import STATIC_PREFIX

router = APIRouter(include_in_schema=False)

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the application's OpenAPI document."""
    title = escape(f"{request.app.title} — API")
    spec = escape(request.app.openapi_url or "/openapi.json", quote=True)
    vendor = f"{STATIC_PREFIX}/vendor/swagger-ui"
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="{vendor}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{vendor}/swagger-ui-bundle.js"></script>
<script src="{STATIC_PREFIX}/api_docs.js"></script>
</body>
</html>
"""
    return HTMLResponse(
        page,
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"},
    )
