"""The console's 部署合约 button in real Chromium, the chain an in-process EVM: the contract
deployed and shown with its transaction; replacing it refused until the confirmation is
ticked, then a new contract."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_helpers import Site, shot
from sqlalchemy import text

from evm_kit import RPC, EvmAccess
from tokenmall import bootstrap
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID


def contract(site: Site) -> Any:
    with site.app.state.database.engine.connect() as conn:
        return conn.execute(
            text("SELECT contract FROM log_anchor_settings WHERE tenant_id = :t"), {"t": TENANT}
        ).scalar_one()


def test_the_deploy_button(site: Site, desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    evm = EvmAccess()
    monkeypatch.setattr(bootstrap, "chain_access", evm)
    key = evm.new_key()
    evm.fund(evm.address_of(bytes.fromhex(key[2:])))
    desk.goto(f"{site.base_url}/{TENANT}/login")
    desk.fill("#f-email", demo.ADMIN_EMAIL)
    desk.fill("#f-password", demo.PASSWORD)
    desk.click("button[type=submit] >> nth=-1")
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/$"))
    desk.goto(f"{site.base_url}/{TENANT}/admin/anchoring")
    desk.fill("#f-rpc_url", RPC)
    desk.fill("#f-chain_id", str(evm.chain_id))
    desk.fill("#f-private_key", key)
    desk.click("form[data-testid=anchoring-settings] button[type=submit]")
    desk.wait_for_selector("[data-testid=anchoring-saved]")
    desk.click("[data-testid=anchoring-deploy-button]")
    desk.wait_for_selector("[data-testid=anchoring-deployed]")
    first = contract(site)
    assert first
    assert first in desk.inner_text("[data-testid=anchoring-contract]")
    assert desk.inner_text("[data-testid=anchoring-deploy-tx]").startswith("0x")
    # Replacing: behind a confirmation that names the contract.
    button = desk.locator("[data-testid=anchoring-deploy-button]")
    assert not button.is_visible()
    desk.click("[data-testid=anchoring-replace] summary")
    assert "重新存证" in desk.inner_text("[data-testid=anchoring-replace]")
    button.click()
    desk.wait_for_selector("[data-field=replace]")
    assert contract(site) == first
    desk.check("[data-testid=anchoring-replace-confirm]")
    desk.click("[data-testid=anchoring-deploy-button]")
    desk.wait_for_selector("[data-testid=anchoring-deployed]")
    second = contract(site)
    assert second != first
    shot(desk, "console-anchoring-replaced")
