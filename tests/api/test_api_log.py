"""The transparency log over real HTTP (SQLite and PostgreSQL): the five public endpoints in
nfg.md's shapes, proofs that verify against the signed checkpoint, the offline verifier on a
bundle, and ``tokenmall log verify`` finding a changed leaf, node, checkpoint or past journal."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from sqlalchemy import text

from tampering import behind_the_triggers
from tokenmall import bootstrap
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.signing import Ed25519Signer
from tokenmall.domain.log import merkle, note
from tokenmall.domain.log.leaves import Event
from tokenmall.services.log import appending, public
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.settling import yesterday
from tokenmall.services.mall.uow import Database, utc_now

VERIFIER = (
    Path(__file__).parents[2] / "src" / "tokenmall" / "web" / "static" / "tokenmall_verify.py"
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = bootstrap.open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def config(server: Any) -> LogConfig:
    found: LogConfig = server.app.state.log_config
    return found


def add_events(db: Database, config: LogConfig, tenant_id: str, tokens: int) -> None:
    """A mint and a transfer of ``tokens`` tokens, one transaction each token."""
    for k in range(1, tokens + 1):
        token = f"col_a/{k}"
        with db.unit() as unit:
            appending.record(
                unit.log,
                config,
                tenant_id,
                [
                    Event("mint", token, {"token": token, "to": "usr_a"}),
                    Event("transfer", token, {"token": token, "from": "usr_a", "to": "usr_b"}),
                ],
                utc_now(),
            )


def log_path(t: TenantFixture, rest: str) -> str:
    return t.path(f"/log/{rest}")


def fetch_checkpoint(api: Api, t: TenantFixture) -> tuple[note.Checkpoint, note.VerifierKey]:
    key_answer = api.get(log_path(t, "key"))
    assert key_answer.status_code == 200
    assert key_answer.headers["content-type"].startswith("text/plain")
    key = note.parse_verifier_key(key_answer.text)
    answer = api.get(log_path(t, "checkpoint"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return note.open_note(answer.text, key, Ed25519Signer.verify), key


def test_a_new_tenant_has_a_signed_empty_log(api: Api, tenant: TenantFixture) -> None:
    checkpoint, key = fetch_checkpoint(api, tenant)
    assert checkpoint.origin == key.name == f"tokenmall.example/{tenant.tenant_id}"
    assert checkpoint.size == 0
    assert checkpoint.root == merkle.EMPTY_ROOT
    assert ok(api.get(log_path(tenant, "entries?start=0&end=10"))) == {"entries": []}


def test_entries_and_proofs_verify_against_the_signed_checkpoint(
    api: Api, tenant: TenantFixture, db: Database, config: LogConfig
) -> None:
    add_events(db, config, tenant.tenant_id, 7)
    checkpoint, _ = fetch_checkpoint(api, tenant)
    assert checkpoint.size == 2  # the first append signed at once; the next is due in 60 s
    public.tick(db, config, utc_now() + timedelta(seconds=61))
    checkpoint, _ = fetch_checkpoint(api, tenant)
    assert checkpoint.size == 14
    body = ok(api.get(log_path(tenant, "entries?start=0&end=14")))
    leaves = [base64.b64decode(e["leaf"]) for e in body["entries"]]
    assert [e["index"] for e in body["entries"]] == list(range(14))
    tree = merkle.MemoryTree()
    for n, leaf in enumerate(leaves):
        fields = json.loads(leaf)
        assert fields["index"] == n
        assert fields["tenant"] == tenant.tenant_id
        assert {"type", "time"} <= fields.keys()
        tree.append(leaf)
    assert tree.root() == checkpoint.root
    for index in range(14):
        proof = ok(api.get(log_path(tenant, f"proof/inclusion?index={index}&tree_size=14")))
        assert proof["leaf_index"] == index
        assert proof["tree_size"] == 14
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        merkle.verify_inclusion(index, 14, merkle.leaf_hash(leaves[index]), hashes, tree.root())
    for first in range(1, 15):
        proof = ok(api.get(log_path(tenant, f"proof/consistency?first={first}&second=14")))
        merkle.verify_consistency(
            first, 14, tree.root(first), tree.root(), [bytes.fromhex(h) for h in proof["hashes"]]
        )
    paged = ok(api.get(log_path(tenant, "entries?start=10&end=5000")))
    assert [e["index"] for e in paged["entries"]] == [10, 11, 12, 13]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("proof/inclusion?index=5&tree_size=3", "index"),
        ("proof/inclusion?index=0&tree_size=999", "tree_size"),
        ("proof/inclusion?index=-1&tree_size=3", "index"),
        ("proof/consistency?first=4&second=2", "first"),
        ("proof/consistency?first=1&second=999", "second"),
        ("entries?start=5&end=5", "end"),
        ("entries?start=x&end=5", "start"),
    ],
)
def test_bad_ranges_are_refused_naming_the_parameter(
    api: Api, tenant: TenantFixture, db: Database, config: LogConfig, query: str, field: str
) -> None:
    add_events(db, config, tenant.tenant_id, 2)
    answer = api.get(log_path(tenant, query))
    assert 400 <= answer.status_code < 500
    assert field in answer.text


def test_an_unknown_tenant_is_404(api: Api) -> None:
    for rest in ("checkpoint", "key", "entries?start=0&end=1"):
        assert api.get(f"/api/v1/tenants/nosuchtenant/log/{rest}").status_code == 404


def test_the_offline_verifier_checks_a_bundle_and_refuses_a_changed_one(
    api: Api, tenant: TenantFixture, db: Database, config: LogConfig, tmp_path: Path
) -> None:
    add_events(db, config, tenant.tenant_id, 3)
    bundle = public.bundle(db, config, tenant.tenant_id, "col_a/2", utc_now()).document
    key = api.get(log_path(tenant, "key")).text.strip()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    run = subprocess.run(
        [sys.executable, str(VERIFIER), str(path), "--key", key],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout
    assert "OK: col_a/2 (2 events)" in run.stdout
    for change in ("leaf", "hash", "note", "token"):
        bad = json.loads(json.dumps(bundle))
        if change == "leaf":
            leaf = bytearray(base64.b64decode(bad["events"][0]["leaf"]))
            leaf[-3] ^= 1
            bad["events"][0]["leaf"] = base64.b64encode(bytes(leaf)).decode()
        elif change == "hash":
            bad["events"][1]["inclusion"][0] = "00" * 32
        elif change == "note":
            bad["checkpoint"] = bad["checkpoint"].replace("\n6\n", "\n5\n", 1)
        else:
            bad["token"] = "col_a/3"
        path.write_text(json.dumps(bad))
        run = subprocess.run(
            [sys.executable, str(VERIFIER), str(path), "--key", key],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1, (change, run.stdout)
        assert "FAILED" in run.stdout


def verify(db_url: str, tenant_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmall",
            "log",
            "verify",
            "--database",
            db_url,
            "--tenant",
            tenant_id,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("edit", ["leaf", "node", "checkpoint", "journal"])
def test_log_verify_finds_a_changed_leaf_node_checkpoint_or_past_journal(
    api: Api, operator_token: str, db: Database, config: LogConfig, db_url: str, edit: str
) -> None:
    shop = make_tenant(api, operator_token, params={"grant_on": "paid"})
    for n in range(3):
        body = {"user": {"external_id": f"U{n}"}, "amount": "100.00"}
        ok(api.post(shop.path(f"/integration/orders/S-{n}/paid"), shop.admin_token, json=body), 201)
    day = yesterday(utc_now()).isoformat()
    ok(api.post(shop.path("/settlements"), shop.admin_token, json={"business_date": day}))
    add_events(db, config, shop.tenant_id, 4)
    public.tick(db, config, utc_now() + timedelta(minutes=2))
    clean = verify(db_url, shop.tenant_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 ledger days" in clean.stdout
    assert "log verify clean" in clean.stdout
    store = Store.open(db_url, migrate_now=False, pool_size=1)
    t = {"t": shop.tenant_id}
    try:
        with store.transaction() as conn:
            if edit == "leaf":
                conn.execute(
                    text("UPDATE log_leaves SET leaf = :leaf WHERE tenant_id = :t AND idx = 3"),
                    {
                        **t,
                        "leaf": conn.execute(
                            text("SELECT leaf FROM log_leaves WHERE tenant_id = :t AND idx = 3"), t
                        )
                        .scalar_one()
                        .replace(b"usr_b", b"usr_c"),
                    },
                )
                wanted = "leaf 3"
            elif edit == "node":
                conn.execute(
                    text(
                        "UPDATE log_nodes SET hash = :h WHERE tenant_id = :t "
                        "AND level = 1 AND idx = 0"
                    ),
                    {**t, "h": bytes(32)},
                )
                wanted = "node (1, 0)"
            elif edit == "checkpoint":
                note_text = conn.execute(
                    text(
                        "SELECT note FROM log_checkpoints WHERE tenant_id = :t "
                        "ORDER BY size DESC LIMIT 1"
                    ),
                    t,
                ).scalar_one()
                lines = note_text.split("\n")
                lines[1] = str(int(lines[1]) - 1)
                conn.execute(
                    text(
                        "UPDATE log_checkpoints SET note = :n WHERE tenant_id = :t AND note = :old"
                    ),
                    {**t, "n": "\n".join(lines), "old": note_text},
                )
                wanted = "checkpoint at size"
            else:
                behind_the_triggers(
                    store,
                    conn,
                    "UPDATE postings SET holder = 'someone_else' WHERE tenant_id = :t "
                    "AND journal_id = (SELECT MIN(journal_id) FROM postings WHERE tenant_id = :t "
                    "AND holder <> '') AND holder <> ''",
                    t,
                )
                wanted = "ledger day"
    finally:
        store.dispose()
    broken = verify(db_url, shop.tenant_id)
    assert broken.returncode == 1, broken.stdout
    assert wanted in broken.stdout, broken.stdout
    assert "log verify FAILED" in broken.stdout
