"""The console's anchoring page over real HTTP (SQLite and PostgreSQL), the chain an in-process
EVM: bad settings refused next to the field with nothing stored, the key never shown back,
and the connection test naming the problem (unreachable endpoint, no funds) as a page, never
a 500; Chinese first, English with ``?lang=en``."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pages_helpers import Browser, Site, field_error
from sqlalchemy import text
from test_pages import no_traceback

from evm_kit import RPC, UNREACHABLE, EvmAccess
from tokenmall import bootstrap
from tokenmall.adapters.db.nfg.anchors import AnchorRecord
from tokenmall.demo import living as demo
from tokenmall.domain.log.anchors import AnchorStatus
from tokenmall.services.log import checkpoints
from tokenmall.services.log.anchoring import DROPPED
from tokenmall.services.mall.uow import utc_now

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/admin/anchoring"


def stored(site: Site) -> list[tuple[object, ...]]:
    with site.app.state.database.engine.connect() as conn:
        found = conn.execute(
            text("SELECT rpc_url, chain_id, account FROM log_anchor_settings WHERE tenant_id = :t"),
            {"t": TENANT},
        )
        return [tuple(r) for r in found]


def test_the_anchoring_page_saves_tests_and_never_shows_the_key(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    evm = EvmAccess()
    monkeypatch.setattr(bootstrap, "chain_access", evm)
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "上链存证" in page.text
    assert "Chain anchoring" in browser.get(PAGE + "?lang=en").text
    before = stored(site)
    key = evm.new_key()
    good = {"rpc_url": RPC, "chain_id": str(evm.chain_id), "contract": "", "private_key": key}
    for change, name in (
        ({"rpc_url": "gopher://x"}, "rpc_url"),
        ({"chain_id": "abc"}, "chain_id"),
        ({"contract": "0xnothex"}, "contract"),
        ({"private_key": "12"}, "private_key"),
    ):
        answer = browser.submit(PAGE, PAGE, {**good, **change})
        assert 400 <= answer.status_code < 500, (change, answer.status_code)
        assert field_error(answer.text, name), (change, answer.text[:2000])
        no_traceback(answer)
    assert stored(site) == before
    saved = browser.submit(PAGE, PAGE, good)
    assert saved.status_code == 303
    [(url, chain_id, account)] = stored(site)
    assert (url, chain_id) == (RPC, evm.chain_id)
    shown = browser.get(PAGE)
    assert str(account) in shown.text
    assert key[2:] not in shown.text
    # The connection test names the problem: no funds, then (another URL) unreachable.
    checked = browser.get(PAGE + "?check=1")
    assert checked.status_code == 200
    assert f"the account {account} has no funds to pay for gas" in checked.text
    moved = browser.submit(PAGE, PAGE, {**good, "rpc_url": UNREACHABLE, "private_key": ""})
    assert moved.status_code == 303
    assert [(r[0], r[2]) for r in stored(site)] == [(UNREACHABLE, account)]
    checked = browser.get(PAGE + "?check=1")
    assert checked.status_code == 200
    assert "the JSON-RPC endpoint is unreachable" in checked.text
    no_traceback(checked)


def test_the_deploy_button_deploys_and_replaces_only_when_confirmed(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    evm = EvmAccess()
    monkeypatch.setattr(bootstrap, "chain_access", evm)
    browser.login(TENANT, demo.ADMIN_EMAIL)
    deploy = PAGE + "/deploy"
    key = evm.new_key()
    good = {"rpc_url": RPC, "chain_id": str(evm.chain_id), "contract": "", "private_key": key}
    assert browser.submit(PAGE, PAGE, good).status_code == 303
    page = browser.get(PAGE)
    assert "部署合约" in page.text
    assert 'data-testid="anchoring-deploy-button"' in page.text
    assert "Deploy contract" in browser.get(PAGE + "?lang=en").text

    def contract() -> tuple[object, ...]:
        with site.app.state.database.engine.connect() as conn:
            return tuple(
                conn.execute(
                    text(
                        "SELECT contract, deploy_tx_hash FROM log_anchor_settings "
                        "WHERE tenant_id = :t"
                    ),
                    {"t": TENANT},
                ).one()
            )

    # No funds: refused on the page naming the account, nothing deployed, never a 500.
    [(_, _, account)] = stored(site)
    poor = browser.submit(PAGE, deploy, {})
    assert poor.status_code == 409, poor.text[:1000]
    assert field_error(poor.text, "private_key")
    no_traceback(poor)
    assert contract() == (None, None)
    evm.fund(str(account))
    done = browser.submit(PAGE, deploy, {})
    assert done.status_code == 303, done.text[:1000]
    first, tx = contract()
    assert first
    assert tx
    shown = browser.get(PAGE + "?lang=zh_CN")
    assert str(first) in shown.text
    assert str(tx) in shown.text
    assert 'data-testid="anchoring-replace-confirm"' in shown.text
    assert "重新存证" in shown.text
    # An anchor a reorganisation removed, nothing newer covering it yet: shown as a gap.
    now = utc_now()
    with site.app.state.database.unit() as unit:
        checkpoints.sign_if_due(unit.log, site.app.state.log_config, TENANT, now, force=True)
        newest = unit.log.latest_checkpoint(TENANT)
        assert newest is not None
        record = AnchorRecord(
            TENANT,
            newest.size,
            newest.root,
            AnchorStatus.PENDING,
            evm.chain_id,
            str(first),
            None,
            None,
            None,
            None,
            0,
            now,
            None,
            now,
            now,
        )
        assert unit.anchors.claim(record)
        unit.anchors.save(replace(record, status=DROPPED, tx_hash="0x" + "ab" * 32))
    listed = browser.get(PAGE + "?lang=zh_CN")
    assert f"检查点 {newest.size}（因链重组被移除）" in listed.text
    assert "尚无存证覆盖" in listed.text
    # Replacing without the confirmation: refused next to it, the contract kept.
    again = browser.submit(PAGE, deploy, {})
    assert again.status_code == 409
    assert 'data-field="replace"' in again.text
    no_traceback(again)
    assert contract() == (first, tx)
    replaced = browser.submit(PAGE, deploy, {"replace": "1"})
    assert replaced.status_code == 303
    second, tx2 = contract()
    assert second != first
    assert tx2 != tx
