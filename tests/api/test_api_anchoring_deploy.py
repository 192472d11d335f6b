"""Deploying the anchoring contract through the admin API on an in-process EVM (py-evm), on
SQLite and PostgreSQL: the deployment's transaction and block recorded, a replay deploying
nothing, a deployed contract replaced only with ``replace`` (409 naming the field otherwise),
the endpoint's problems answered as 409s naming the field with nothing changed, and after a
replacement the next checkpoint anchored on the new contract while ``log verify --anchors``
checks each anchor against the contract it was sent to."""

from __future__ import annotations

from typing import Any

from anchoring_kit import (
    cli,
    config,  # noqa: F401
    configure,
    db,  # noqa: F401
    evm,  # noqa: F401
    how,  # noqa: F401
    run,
    settings_path,
)
from mall_api import Api, TenantFixture, ok
from nfg_helpers import grant, published
from sqlalchemy import text

from evm_kit import RPC, UNREACHABLE, EvmAccess
from tokenmall.domain.log.anchors import tenant_tag
from tokenmall.services.log.anchoring import Anchoring
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database


def stored(db: Database, tenant_id: str) -> tuple[Any, ...]:
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT contract, deploy_tx_hash, deploy_block FROM log_anchor_settings "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
    return tuple(row)


def refused(answer: Any, field: str) -> str:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["field"] == field, error
    message: str = error["message"]
    return message


def test_deploy_errors_name_the_field_and_change_nothing(
    api: Api, tenant: TenantFixture, evm: EvmAccess, db: Database
) -> None:
    t = tenant
    deploy = settings_path(t, "/deploy")
    assert api.post(deploy, t.admin_token, {}).status_code == 404  # no settings yet
    configure(api, t, evm, rpc_url=UNREACHABLE)
    head = evm.w3.eth.block_number
    assert "unreachable" in refused(api.post(deploy, t.admin_token, {}), "rpc_url")
    configure(api, t, evm, chain_id=evm.chain_id + 1, private_key=None)
    assert "wrong chain id" in refused(api.post(deploy, t.admin_token, {}), "chain_id")
    shown = configure(api, t, evm, private_key=None)
    assert "no funds" in refused(api.post(deploy, t.admin_token, {}), "private_key")
    assert stored(db, t.tenant_id) == (None, None, None)
    assert evm.w3.eth.block_number == head  # nothing sent
    # Only the tenant's admins deploy; a bad body names its field.
    evm.fund(shown["account"])
    assert api.post(deploy, t.consumer_token, {}).status_code == 403
    assert api.post(deploy, None, {}).status_code in (401, 403)
    bad = api.post(deploy, t.admin_token, {"replace": "perhaps"})
    assert 400 <= bad.status_code < 500
    assert "replace" in bad.text
    assert stored(db, t.tenant_id) == (None, None, None)


def test_deploy_replace_and_anchor_again_on_the_new_contract(
    api: Api,
    tenant: TenantFixture,
    evm: EvmAccess,
    server: Any,
    db_url: str,
    db: Database,
    config: LogConfig,
    how: Anchoring,
) -> None:
    t = tenant
    deploy = settings_path(t, "/deploy")
    shown = configure(api, t, evm)
    evm.fund(shown["account"])
    key = "deploy-once"
    first = ok(api.post(deploy, t.admin_token, {}, key=key), 201)
    chain = evm.connect(RPC, None)
    assert chain.has_code(first["contract"])
    receipt = evm.w3.eth.get_transaction_receipt(first["tx_hash"])
    assert str(receipt["contractAddress"]).lower() == first["contract"]
    assert receipt["blockNumber"] == first["block_number"]
    assert first["replaced"] is None
    assert stored(db, t.tenant_id) == (first["contract"], first["tx_hash"], first["block_number"])
    view = ok(api.get(settings_path(t), t.admin_token))
    assert (view["contract"], view["deploy_tx_hash"], view["deploy_block"]) == (
        first["contract"],
        first["tx_hash"],
        first["block_number"],
    )
    # A replay answers the same and deploys nothing.
    head = evm.w3.eth.block_number
    assert ok(api.post(deploy, t.admin_token, {}, key=key), 201) == first
    assert evm.w3.eth.block_number == head
    # Anchor a checkpoint on the first contract.
    grant(api, t, published(api, t)["collection_id"], 2)
    assert run(db, config, how, t.tenant_id, later=1).status == "anchored"
    # Without replace: 409 naming the field, nothing changed, nothing sent.
    head = evm.w3.eth.block_number
    message = refused(api.post(deploy, t.admin_token, {}), "replace")
    assert first["contract"] in message
    assert refused(api.post(deploy, t.admin_token, {"replace": False}), "replace")
    assert evm.w3.eth.block_number == head
    assert stored(db, t.tenant_id)[0] == first["contract"]
    # With replace: a new contract, recorded with its transaction.
    second = ok(api.post(deploy, t.admin_token, {"replace": True}), 201)
    assert second["contract"] != first["contract"]
    assert second["replaced"] == first["contract"]
    assert stored(db, t.tenant_id) == (
        second["contract"],
        second["tx_hash"],
        second["block_number"],
    )
    # The next checkpoint is anchored on the new contract; the old anchor stays checked
    # against the contract it was sent to.
    grant(api, t, published(api, t)["collection_id"], 1)
    assert run(db, config, how, t.tenant_id, later=1).status == "anchored"
    with db.reading() as unit:
        checkpoint = unit.log.latest_checkpoint(t.tenant_id)
    assert checkpoint is not None
    tag = tenant_tag(config.origin(t.tenant_id))
    assert chain.latest(second["contract"], tag) == (checkpoint.size, checkpoint.root)
    assert chain.latest(first["contract"], tag)[0] < checkpoint.size
    with db.engine.connect() as conn:
        contracts = conn.execute(
            text("SELECT contract FROM log_anchors WHERE tenant_id = :t ORDER BY size"),
            {"t": t.tenant_id},
        ).scalars()
        assert list(contracts) == [first["contract"], second["contract"]]
    args = ["log", "verify", "--anchors", "--tenant", t.tenant_id, "--database", db_url]
    checked = cli(server, *args)
    assert checked.exit_code == 0, checked.output
    assert "2 anchors checked on chain" in checked.output
