"""Anchoring the log's checkpoints on an in-process EVM (web3 + eth-tester on py-evm), on SQLite
and PostgreSQL: the settings through the admin API (never shown back, bad input refused naming
the field, the connection test naming the problem), the contract deployed by
``tokenmall log anchor-deploy``, the job anchoring the newest checkpoint once, a failed send
retried after its backoff while the log goes on, a reorganisation found and re-anchored, a
tampered anchor record found by ``tokenmall log verify --anchors``, several anchors removed by
a reorganisation (the newest sent again with the account's next nonce, the older ones shown
covered by it, a gap named by verify), and the anchor in the certificate's page and proof
bundle, checked by the offline verifier."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
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
from tokenmall.cli import settle as settle_cli
from tokenmall.domain.log.anchors import tenant_tag
from tokenmall.services.log.anchoring import Anchoring
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database, utc_now

VERIFIER = (
    Path(__file__).parents[2] / "src" / "tokenmall" / "web" / "static" / "tokenmall_verify.py"
)


def ready(api: Api, t: TenantFixture, evm: EvmAccess, server: Any, db_url: str) -> str:
    """Settings stored, the account funded, the contract deployed: its address."""
    shown = configure(api, t, evm)
    evm.fund(shown["account"])
    deployed = cli(server, "log", "anchor-deploy", "--tenant", t.tenant_id, "--database", db_url)
    assert deployed.exit_code == 0, deployed.output
    contract: str = ok(api.get(settings_path(t), t.admin_token))["contract"]
    assert contract in deployed.output
    return contract


def mint(api: Api, t: TenantFixture, count: int = 2) -> str:
    cid: str = published(api, t)["collection_id"]
    grant(api, t, cid, count)
    return cid


def rows(db: Database, tenant_id: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT size, status, tx_hash, block_number, block_hash, attempts, last_error "
                "FROM log_anchors WHERE tenant_id = :t ORDER BY size"
            ),
            {"t": tenant_id},
        )
        return [tuple(r) for r in found]


def verify_anchors(server: Any, db_url: str, tenant_id: str) -> Any:
    return cli(server, "log", "verify", "--anchors", "--tenant", tenant_id, "--database", db_url)


def test_settings_never_show_the_key_and_bad_input_changes_nothing(
    api: Api, tenant: TenantFixture, evm: EvmAccess, db: Database
) -> None:
    t = tenant
    assert ok(api.get(settings_path(t), t.admin_token))["configured"] is False
    for body, field in [
        ({"rpc_url": "ftp://x"}, "rpc_url"),
        ({"chain_id": 0}, "chain_id"),
        ({"contract": "0x12"}, "contract"),
        ({"private_key": "not-a-key"}, "private_key"),
    ]:
        payload = {"rpc_url": RPC, "chain_id": 7, "private_key": "11" * 32, **body}
        answer = api.call("PUT", settings_path(t), t.admin_token, payload)
        assert 400 <= answer.status_code < 500, answer.text
        assert field in answer.text
    assert ok(api.get(settings_path(t), t.admin_token))["configured"] is False
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log_anchor_settings")).scalar_one() == 0
    key = evm.new_key()
    shown = configure(api, t, evm, private_key=key)
    assert shown["account"] == evm.address_of(bytes.fromhex(key[2:]))
    assert key[2:] not in json.dumps(shown)
    with db.engine.connect() as conn:
        sealed = conn.execute(text("SELECT sealed_key FROM log_anchor_settings")).scalar_one()
    assert bytes.fromhex(key[2:]) not in bytes(sealed)
    # Another change without a key keeps the stored one; consumers may not look.
    again = configure(api, t, evm, private_key=None, rpc_url=UNREACHABLE)
    assert again["account"] == shown["account"]
    assert api.get(settings_path(t), t.consumer_token).status_code == 403
    assert api.call("PUT", settings_path(t), None, {"rpc_url": RPC, "chain_id": 1}).status_code in (
        401,
        403,
    )


def test_the_connection_test_names_the_problem(
    api: Api, tenant: TenantFixture, evm: EvmAccess, server: Any, db_url: str
) -> None:
    t = tenant
    configure(api, t, evm, rpc_url=UNREACHABLE)
    found = ok(api.get(settings_path(t, "/check"), t.admin_token))
    assert found["ok"] is False
    assert "unreachable" in found["problem"]
    configure(api, t, evm, chain_id=evm.chain_id + 1, private_key=None)
    found = ok(api.get(settings_path(t, "/check"), t.admin_token))
    assert "wrong chain id" in found["problem"]
    assert found["chain_id"] == evm.chain_id
    shown = configure(api, t, evm, private_key=None)
    found = ok(api.get(settings_path(t, "/check"), t.admin_token))
    assert found["problem"] == f"the account {shown['account']} has no funds to pay for gas"
    evm.fund(shown["account"])
    assert "no contract yet" in ok(api.get(settings_path(t, "/check"), t.admin_token))["problem"]
    deployed = cli(server, "log", "anchor-deploy", "--tenant", t.tenant_id, "--database", db_url)
    assert deployed.exit_code == 0, deployed.output
    found = ok(api.get(settings_path(t, "/check"), t.admin_token))
    assert (found["ok"], found["problem"]) == (True, None)
    assert int(found["balance_wei"]) > 0


def test_anchor_once_verify_and_show_on_the_certificate(
    api: Api,
    tenant: TenantFixture,
    evm: EvmAccess,
    server: Any,
    db_url: str,
    db: Database,
    config: LogConfig,
    how: Anchoring,
    tmp_path: Path,
) -> None:
    t = tenant
    contract = ready(api, t, evm, server, db_url)
    cid = mint(api, t)
    outcome = run(db, config, how, t.tenant_id)
    assert outcome.status == "anchored", outcome.line()
    with db.reading() as unit:
        checkpoint = unit.log.latest_checkpoint(t.tenant_id)
    assert checkpoint is not None
    [(size, status, tx_hash, block, block_hash, attempts, error)] = rows(db, t.tenant_id)
    assert (size, status, attempts, error) == (checkpoint.size, "confirmed", 0, None)
    chain = evm.connect(RPC, None)
    assert chain.latest(contract, tenant_tag(config.origin(t.tenant_id))) == (
        checkpoint.size,
        checkpoint.root,
    )
    assert chain.block_hash(block) == block_hash
    # Nothing new signed: nothing sent again.
    head = evm.w3.eth.block_number
    assert run(db, config, how, t.tenant_id).status == "idle"
    assert evm.w3.eth.block_number == head
    assert len(rows(db, t.tenant_id)) == 1
    checked = verify_anchors(server, db_url, t.tenant_id)
    assert checked.exit_code == 0, checked.output
    assert "1 anchors checked on chain, 0 not confirmed: ok" in checked.output
    # The certificate shows the anchoring transaction; its bundle carries the anchor.
    page = api.get(f"/{t.tenant_id}/c/{cid}/1")
    assert page.status_code == 200
    assert tx_hash in page.text
    assert 'data-testid="anchor-tx"' in page.text
    bundle = api.get(f"/{t.tenant_id}/c/{cid}/1?format=json").json()
    assert bundle["anchor"] == {
        "chain_id": evm.chain_id,
        "contract": contract,
        "tx_hash": tx_hash,
        "block_number": block,
        "block_hash": block_hash,
        "tenant_tag": tenant_tag(config.origin(t.tenant_id)).hex(),
        "tree_size": checkpoint.size,
        "root": checkpoint.root.hex(),
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    done = subprocess.run(
        [sys.executable, str(VERIFIER), str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
    assert f"tx {tx_hash}" in done.stdout
    assert "not checked on the chain (offline)" in done.stdout
    # An anchor naming another root is refused offline.
    bundle["anchor"]["root"] = "00" * 32
    path.write_text(json.dumps(bundle))
    done = subprocess.run(
        [sys.executable, str(VERIFIER), str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "the anchor does not record this checkpoint" in done.stdout


def test_a_failed_send_is_retried_after_its_backoff_and_the_log_goes_on(
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
    ready(api, t, evm, server, db_url)
    mint(api, t, 1)
    evm.faults.sends = 1
    failed = run(db, config, how, t.tenant_id)
    assert failed.status == "failed"
    assert "503 Service Unavailable" in failed.message
    [(size, status, _, block, _, attempts, error)] = rows(db, t.tenant_id)
    assert (status, block, attempts) == ("sent", None, 1)
    assert "503" in error
    shown = ok(api.get(settings_path(t), t.admin_token))["latest"]
    assert (shown["status"], shown["attempts"]) == ("sent", 1)
    # The log goes on: more events append and a newer checkpoint is signed.
    mint(api, t, 1)
    # Before its backoff nothing is tried; after it, the same transaction goes (same nonce).
    assert run(db, config, how, t.tenant_id).status == "waiting"
    with db.reading() as unit:
        newer = unit.log.latest_checkpoint(t.tenant_id)
    assert newer is not None
    assert newer.size > size
    retried = run(db, config, how, t.tenant_id, later=31)
    assert retried.status == "anchored", retried.line()
    assert [r[:2] for r in rows(db, t.tenant_id)] == [(size, "confirmed")]
    # The next run anchors the newest checkpoint.
    assert run(db, config, how, t.tenant_id, later=32).status == "anchored"
    assert [r[:2] for r in rows(db, t.tenant_id)] == [
        (size, "confirmed"),
        (newer.size, "confirmed"),
    ]
    assert verify_anchors(server, db_url, t.tenant_id).exit_code == 0


def test_a_reorganisation_is_found_and_reanchored(
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
    ready(api, t, evm, server, db_url)
    mint(api, t, 1)
    before = evm.tester.take_snapshot()
    assert run(db, config, how, t.tenant_id).status == "anchored"
    [(size, _, tx_hash, block, block_hash, _, _)] = rows(db, t.tenant_id)
    evm.tester.revert_to_snapshot(before)
    evm.tester.mine_blocks(2)  # another branch, longer: the anchor's block is gone
    assert evm.connect(RPC, None).block_hash(block) != block_hash
    found = verify_anchors(server, db_url, t.tenant_id)
    assert found.exit_code == 1
    assert f"anchor of checkpoint {size} (transaction {tx_hash})" in found.output
    again = run(db, config, how, t.tenant_id)
    assert again.status == "anchored", again.line()
    assert f"block {block} ({block_hash}) no longer holds transaction {tx_hash}" in again.message
    assert "reorganised" in again.message
    [(size2, status, tx2, block2, hash2, _, _)] = rows(db, t.tenant_id)
    assert (size2, status) == (size, "confirmed")
    assert hash2 != block_hash
    assert evm.connect(RPC, None).block_hash(block2) == hash2
    checked = verify_anchors(server, db_url, t.tenant_id)
    assert checked.exit_code == 0, checked.output
    assert tx2


@pytest.mark.parametrize(
    ("column", "value"),
    [("root", b"\x00" * 32), ("tx_hash", "0x" + "ab" * 32), ("block_hash", "0x" + "cd" * 32)],
)
def test_a_tampered_anchor_record_is_found(
    api: Api,
    tenant: TenantFixture,
    evm: EvmAccess,
    server: Any,
    db_url: str,
    db: Database,
    config: LogConfig,
    how: Anchoring,
    column: str,
    value: object,
) -> None:
    t = tenant
    ready(api, t, evm, server, db_url)
    mint(api, t, 1)
    assert run(db, config, how, t.tenant_id).status == "anchored"
    [(size, *_)] = rows(db, t.tenant_id)
    with db.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE log_anchors SET {column} = :v WHERE tenant_id = :t"),
            {"v": value, "t": t.tenant_id},
        )
    found = verify_anchors(server, db_url, t.tenant_id)
    assert found.exit_code == 1, found.output
    assert f"BROKEN: anchor of checkpoint {size}" in found.output
    assert "log verify FAILED" in found.output


def test_an_unreachable_chain_never_stalls_the_log(
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
    ready(api, t, evm, server, db_url)
    configure(api, t, evm, rpc_url=UNREACHABLE, private_key=None, contract=None)
    shown = ok(api.get(settings_path(t), t.admin_token))
    assert shown["contract"] is None
    configure(api, t, evm, rpc_url=UNREACHABLE, private_key=None, contract="0x" + "12" * 20)
    mint(api, t, 1)
    failed = run(db, config, how, t.tenant_id)
    assert failed.status == "failed"
    assert UNREACHABLE in failed.message
    # Events still append, checkpoints still sign, the anchoring job answers and the page too.
    mint(api, t, 1)
    assert run(db, config, how, t.tenant_id, later=120).status == "failed"
    with db.reading() as unit:
        latest = unit.log.latest_checkpoint(t.tenant_id)
        head = unit.log.peek(t.tenant_id)
    assert latest is not None
    assert head is not None
    assert latest.size == head.size
    [(size, status, tx_hash, _, _, attempts, error)] = rows(db, t.tenant_id)
    assert (size, status, tx_hash) == (latest.size, "pending", None)
    assert attempts == 2
    assert "failed at the JSON-RPC endpoint" in error
    answer = api.get(settings_path(t), t.admin_token)
    assert answer.status_code == 200
    assert "failed at the JSON-RPC endpoint" in answer.json()["latest"]["last_error"]
    # The scheduler's log duty: events appended meanwhile are signed, anchoring fails again.
    mint(api, t, 1)
    settle_cli._log_tick(
        db, server.settings.secret_key.get_secret_value(), utc_now() + timedelta(minutes=10)
    )
    with db.reading() as unit:
        latest = unit.log.latest_checkpoint(t.tenant_id)
        head = unit.log.peek(t.tenant_id)
    assert latest is not None
    assert head is not None
    assert latest.size == head.size
    [(size, status, _, _, _, attempts, _)] = rows(db, t.tenant_id)
    assert (size, status, attempts) == (latest.size, "pending", 3)
    ran = cli(server, "log", "anchor", "--tenant", t.tenant_id, "--database", db_url)
    assert ran.exit_code == 0, ran.output  # its next try is not due yet
    assert "waiting" in ran.output
    assert "Traceback" not in ran.output


def test_a_reorganisation_of_several_anchors_reanchors_the_newest_with_a_fresh_nonce(
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
    contract = ready(api, t, evm, server, db_url)
    cid = mint(api, t, 1)
    before = evm.tester.take_snapshot()
    sizes = []
    for _ in range(3):
        grant(api, t, cid, 1)
        outcome = run(db, config, how, t.tenant_id)
        assert outcome.status == "anchored", outcome.line()
        sizes.append(outcome.size)
    assert [r[1] for r in rows(db, t.tenant_id)] == ["confirmed"] * 3
    evm.tester.revert_to_snapshot(before)
    evm.tester.mine_blocks(5)  # another branch, longer: all three anchors' blocks are gone
    again = run(db, config, how, t.tenant_id)
    assert again.status == "anchored", again.line()
    found = rows(db, t.tenant_id)
    assert [(r[0], r[1]) for r in found] == [
        (sizes[0], "dropped"),
        (sizes[1], "dropped"),
        (sizes[2], "confirmed"),
    ]
    chain = evm.connect(RPC, None)
    with db.reading() as unit:
        newest = unit.log.latest_checkpoint(t.tenant_id)
    assert newest is not None
    assert chain.latest(contract, tenant_tag(config.origin(t.tenant_id))) == (
        sizes[2],
        newest.root,
    )
    # The dropped checkpoints are shown as covered by the newest anchor, and verified so.
    shown = ok(api.get(settings_path(t), t.admin_token))
    assert shown["confirmed"]["tree_size"] == sizes[2]
    assert [(d["tree_size"], d["covered_by"]) for d in shown["dropped"]] == [
        (sizes[0], sizes[2]),
        (sizes[1], sizes[2]),
    ]
    checked = verify_anchors(server, db_url, t.tenant_id)
    assert checked.exit_code == 0, checked.output
    assert "2 dropped, covered by a newer anchor" in checked.output
    # A dropped anchor nothing covers is a gap: verify names it.
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE log_anchors SET status = 'dropped' WHERE tenant_id = :t AND size = :s"),
            {"t": t.tenant_id, "s": sizes[2]},
        )
    gap = verify_anchors(server, db_url, t.tenant_id)
    assert gap.exit_code == 1
    assert f"anchor of checkpoint {sizes[0]}" in gap.output
    assert "no newer anchor on its contract covers it" in gap.output
