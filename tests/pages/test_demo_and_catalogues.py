"""``tokenmall demo`` (set up twice: the second run adds nothing; the ledger audits clean), the
Babel catalogues (every message of the templates has its Chinese), and the HTML error page of
an unexpected error (no traceback, the request id)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from jinja2.ext import babel_extract
from typer.testing import CliRunner

from tokenmall.adapters.db.store import Store
from tokenmall.cli.main import app as cli
from tokenmall.demo import living as demo
from tokenmall.services.ledger import audit
from tokenmall.web.pages import errors, i18n, rendering

TEMPLATES = Path(rendering.TEMPLATES)


def test_demo_sets_up_once_and_a_second_run_adds_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--no-serve", "--database", url])
    assert first.exit_code == 0, first.output
    assert "14 days settled" in first.output
    for line in ("li.na@wine.demo", "cellar@wine.demo", "admin@wine.demo", demo.OPERATOR_EMAIL):
        assert line in first.output
    assert "http://127.0.0.1:8000/wine/" in first.output
    assert "/wine/register?invite=" in first.output
    assert "NFG certificate:  http://127.0.0.1:8000/wine/c/col_demo_vintage_2015/1" in first.output
    assert "Log checkpoint:   http://127.0.0.1:8000/api/v1/tenants/wine/log/checkpoint" in (
        first.output
    )
    verified = runner.invoke(
        cli, ["log", "verify", "--database", url], env={"TOKENMALL_ENV": "development"}
    )
    assert verified.exit_code == 0, verified.output
    assert "log verify clean" in verified.output
    store = Store.open(url)
    try:
        with store.read() as conn:
            journals_before = Store(conn.engine).load_state(conn, demo.TENANT_ID)[1]
        second = runner.invoke(cli, ["demo", "--no-serve", "--database", url, "--port", "9000"])
        assert second.exit_code == 0, second.output
        assert "already set up: nothing added" in second.output
        assert "http://127.0.0.1:9000/wine/" in second.output
        with store.read() as conn:
            assert Store(conn.engine).load_state(conn, demo.TENANT_ID)[1] == journals_before
        reports = audit.audit(store, demo.TENANT_ID)
        assert audit.clean(reports), reports
    finally:
        store.dispose()


def _template_messages() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        with path.open("rb") as handle:
            for _, _, message, _ in babel_extract(handle, ["_", "gettext"], [], {}):
                text = message if isinstance(message, str) else None
                if text:
                    found.add(text)
    return found


def test_every_template_message_has_its_chinese() -> None:
    zh = i18n.translations("zh_CN")
    messages = _template_messages()
    assert len(messages) > 100
    missing = sorted(m for m in messages if zh.gettext(m) == m)
    assert not missing, missing
    # Dynamic ids built in templates and code: roles, KYC states, parameter labels.
    from tokenmall.web.pages.params_form import FIELDS

    dynamic = ["consumer", "merchant", "admin", "active", "hidden"]
    dynamic += [f"kyc_{k}" for k in ("none", "pending", "verified", "rejected")]
    dynamic += [f.label for f in FIELDS] + [f.help for f in FIELDS if f.help]
    dynamic += list(errors._TITLES.values())
    assert not [m for m in dynamic if zh.gettext(m) == m]
    en = i18n.translations("en")
    assert en.gettext("Backing pool") == "Backing pool"


def test_no_wording_promises_returns() -> None:
    zh = i18n.translations("zh_CN")
    chinese = " ".join(zh.gettext(m) for m in _template_messages())
    for promise in ("保本", "稳赚", "保证收益", "只涨不跌", "躺赚", "guaranteed"):
        assert promise not in chinese


@pytest.mark.parametrize(("lang", "words"), [("zh_CN", "出错了"), ("en", "Something went wrong")])
def test_an_unexpected_error_is_an_html_page_without_a_traceback(lang: str, words: str) -> None:
    app = FastAPI()
    router = APIRouter(route_class=errors.PageRoute)

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail of a bug")

    app.include_router(router)

    class _State:
        secret_key = __import__("pydantic").SecretStr("x")
        cookie_secure = False

    app.state.settings = _State()
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get(f"/boom?lang={lang}")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text
    assert "secret detail" not in answer.text
    assert "Traceback" not in answer.text
    assert re.search(r"(request id|请求编号)", answer.text)
