"""``/docs`` works offline: Swagger UI's page names only files this server serves itself (no
CDN), each served with its type, and a policy that lets the page load nothing from elsewhere."""

from __future__ import annotations

import re

from mall_api import Api


def test_the_api_documentation_loads_only_this_servers_files(api: Api) -> None:
    page = api.http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "cdn" not in html.lower()
    assert "https://" not in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert len(scripts) == 2
    assert len(styles) == 1
    for path in scripts + styles:
        assert path.startswith("/-/static/"), path
        served = api.http.get(path)
        assert served.status_code == 200, path
        expected = "text/javascript" if path.endswith(".js") else "text/css"
        assert served.headers["content-type"].startswith(expected), path
        assert "sourceMappingURL" not in served.text[-300:], path
    assert "SwaggerUIBundle" in api.http.get(scripts[0]).text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert 'data-spec="/openapi.json"' in html
    assert api.http.get("/openapi.json").status_code == 200
