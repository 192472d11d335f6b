"""docs/design/nfg.md's transparency log checked from the outside (SQLite and PostgreSQL): when
checkpoints are signed, the settled ledger day's digest leaf, the offline verifier on a bundle
downloaded over HTTP, and ``tokenmall log verify`` after hand edits.

The hashes, proofs, signatures and the day's digest are computed here (``test_spec_nfg``'s
RFC 9162 verifier and Ed25519 check, hashlib and an RFC 8785 encoder), never by the project's
log code. Where nfg.md speaks of data no HTTP endpoint serves (the stored checkpoints' times,
the ledger's journals) the test reads or edits the database directly: a checkpoint's age is set
by hand instead of waiting 60 s, so no assertion depends on how fast the machine is.

``tokenmall log verify`` finding a changed leaf, node, checkpoint or past journal is covered by
``tests/api/test_api_log.py::test_log_verify_finds_a_changed_leaf_node_checkpoint_or_past_journal``
and a token's owner edited by hand by ``tests/api/test_api_nfg_registry.py``; this file adds a
token's state, a collection's burned count, the first of two breaks, and a ledger day whose
record was removed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, make_tenant, ok
from sqlalchemy import func, select, text, update
from test_spec_nfg import (
    canonical,
    collection,
    leaves_of,
    log,
    mint,
    mth,
    open_checkpoint,
    second_user,
    sha,
    verify_consistency,
    verify_inclusion,
)

from served import Server
from tampering import behind_the_triggers
from tokenmall.adapters.db.nfg.log_tables import log_checkpoints
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals, postings, settled_days
from tokenmall.services.log import public
from tokenmall.services.mall.uow import Database, utc_now

EVERY_LEAVES = 1_000  # nfg.md: "or every 1,000 events"
EVERY = timedelta(seconds=60)  # nfg.md: "at least every 60 s while events arrive"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url, migrate_now=False, pool_size=1)
    yield opened
    opened.dispose()


def operator(api: Api) -> str:
    answer = api.post(
        "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def stored_checkpoints(store: Store, tenant_id: str) -> list[tuple[int, str, datetime]]:
    """(size, note, signed at) of every checkpoint the tenant's log keeps, by size."""
    c = log_checkpoints.c
    with store.transaction() as conn:
        rows = conn.execute(
            select(c.size, c.note, c.created_at).where(c.tenant_id == tenant_id).order_by(c.size)
        ).all()
    return [(int(r.size), str(r.note), r.created_at) for r in rows]


def age_latest_checkpoint(store: Store, tenant_id: str, age: timedelta) -> None:
    """Make the latest checkpoint ``age`` old (negative: signed in the future, never due by
    time), as if that much time had passed since it was signed."""
    c = log_checkpoints.c
    with store.transaction() as conn:
        latest = conn.execute(select(func.max(c.size)).where(c.tenant_id == tenant_id)).scalar_one()
        conn.execute(
            update(log_checkpoints)
            .where(c.tenant_id == tenant_id, c.size == latest)
            .values(created_at=utc_now() - age)
        )


def public_checkpoint(api: Api, t: TenantFixture) -> tuple[int, bytes]:
    key = api.get(log(t, "key")).text
    _, size, root = open_checkpoint(api.get(log(t, "checkpoint")).text, key)
    return size, root


# --- (a) when checkpoints are signed ---------------------------------------------------------


def test_a_checkpoint_is_signed_once_60_s_have_passed_or_1000_events_wait(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    key = api.get(log(t, "key")).text
    first_size, _ = public_checkpoint(api, t)
    assert first_size == 0  # the first checkpoint is signed at once, of the empty log
    # The latest checkpoint is young (signed "in the future"): events wait for the next one.
    age_latest_checkpoint(store, t.tenant_id, -timedelta(hours=1))
    cid = collection(api, t, edition_size=1_100)
    mint(api, t, cid, t.consumer_id, 2)
    waiting = len(leaves_of(api, t))
    assert waiting >= 3
    assert public_checkpoint(api, t) == (0, sha(b""))
    assert len(stored_checkpoints(store, t.tenant_id)) == 1
    # 60 s later, reading the checkpoint signs one over every leaf.
    age_latest_checkpoint(store, t.tenant_id, EVERY + timedelta(seconds=1))
    assert public_checkpoint(api, t) == (waiting, mth(leaves_of(api, t)))
    # 60 s after that, the next event is signed in its own write, before anyone reads.
    age_latest_checkpoint(store, t.tenant_id, EVERY + timedelta(seconds=1))
    mint(api, t, cid, t.consumer_id)
    assert stored_checkpoints(store, t.tenant_id)[-1][0] == waiting + 1
    # Young again: 999 events wait, the 1,000th is signed at once.
    age_latest_checkpoint(store, t.tenant_id, -timedelta(hours=1))
    signed = stored_checkpoints(store, t.tenant_id)[-1][0]
    mint(api, t, cid, t.consumer_id, EVERY_LEAVES - 1)
    assert stored_checkpoints(store, t.tenant_id)[-1][0] == signed
    assert public_checkpoint(api, t)[0] == signed
    mint(api, t, cid, t.consumer_id)
    assert stored_checkpoints(store, t.tenant_id)[-1][0] == signed + EVERY_LEAVES
    assert public_checkpoint(api, t)[0] == signed + EVERY_LEAVES
    # Every checkpoint kept: signed by the published key, its root the tree at its size, each
    # consistent with the one before (the proof served over HTTP, checked here).
    leaves = leaves_of(api, t)
    kept = stored_checkpoints(store, t.tenant_id)
    assert [size for size, _, _ in kept] == [0, waiting, waiting + 1, signed + EVERY_LEAVES]
    previous: tuple[int, bytes] | None = None
    for size, note_text, _ in kept:
        _, signed_size, root = open_checkpoint(note_text, key)
        assert signed_size == size
        assert root == mth(leaves[:size]), size
        if previous is not None and previous[0] > 0:
            query = f"proof/consistency?first={previous[0]}&second={size}"
            hashes = [bytes.fromhex(h) for h in ok(api.get(log(t, query)))["hashes"]]
            assert verify_consistency(previous[0], size, previous[1], root, hashes), query
        previous = (size, root)


# --- (b) the settled ledger day's digest ------------------------------------------------------


def _time(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day_digest(store: Store, tenant_id: str, day: date) -> tuple[int, int, int, str]:
    """(journals, first id, last id, SHA-256 hex) of the journals ``day`` closes: those after
    the previous settled day's last settlement journal up to its own, in id order, each as
    its canonical JSON followed by a newline."""
    s, j, p = settled_days.c, journals.c, postings.c
    with store.transaction() as conn:
        closing: dict[date, int] = {}
        for row in conn.execute(select(s).where(s.tenant_id == tenant_id)).all():
            last = max(int(row.dividend_journal_id), int(row.exit_journal_id))
            closing[row.business_date] = max(closing.get(row.business_date, 0), last)
        earlier = [closing[d] for d in closing if d < day]
        first, last = (max(earlier) if earlier else 0) + 1, closing[day]
        heads = conn.execute(
            select(j)
            .where(j.tenant_id == tenant_id, j.journal_id >= first, j.journal_id <= last)
            .order_by(j.journal_id)
        ).all()
        lines: dict[int, list[list[Any]]] = {}
        for row in conn.execute(
            select(p)
            .where(p.tenant_id == tenant_id, p.journal_id >= first, p.journal_id <= last)
            .order_by(p.journal_id, p.line)
        ):
            lines.setdefault(int(row.journal_id), []).append(
                [int(row.line), row.account, row.holder, row.asset, int(row.amount)]
            )
        everything = conn.execute(
            select(func.count()).select_from(journals).where(j.tenant_id == tenant_id)
        ).scalar_one()
    assert everything >= len(heads)
    hasher = hashlib.sha256()
    for h in heads:
        form = {
            "journal_id": int(h.journal_id),
            "code": h.code,
            "idempotency_key": h.idempotency_key,
            "fingerprint": h.fingerprint,
            "result": h.result,
            "business_date": None if h.business_date is None else h.business_date.isoformat(),
            "reverses": None if h.reverses is None else int(h.reverses),
            "created_at": _time(h.created_at),
            "postings": lines.get(int(h.journal_id), []),
        }
        hasher.update(canonical(form) + b"\n")
    ids = [int(h.journal_id) for h in heads]
    return len(heads), ids[0], ids[-1], hasher.hexdigest()


def _day_leaves(api: Api, t: TenantFixture) -> list[tuple[int, dict[str, Any]]]:
    found = [(i, json.loads(leaf)) for i, leaf in enumerate(leaves_of(api, t))]
    return [(i, e) for i, e in found if e["type"] == "ledger_day"]


def test_a_settled_day_is_logged_once_with_the_digest_of_its_journals(
    api: Api, server: Server, store: Store
) -> None:
    shop = make_tenant(api, operator(api), params={"grant_on": "paid"})
    for n in range(3):
        body = {"user": {"external_id": f"U{n}"}, "amount": "100.00"}
        ok(api.post(shop.path(f"/integration/orders/S-{n}/paid"), shop.admin_token, json=body), 201)
    db: Database = server.app.state.database
    config = server.app.state.log_config
    public.tick(db, config, utc_now())
    assert _day_leaves(api, shop) == []  # nothing settled, nothing logged
    day = (utc_now() - timedelta(days=1)).astimezone(UTC).date()
    settled = api.post(
        shop.path("/settlements"), shop.admin_token, json={"business_date": day.isoformat()}
    )
    assert settled.status_code in (200, 201), settled.text
    # The scheduler's tick logs it; ticking again, or settling again, logs nothing more.
    for _ in range(2):
        public.tick(db, config, utc_now())
    api.post(shop.path("/settlements"), shop.admin_token, json={"business_date": day.isoformat()})
    public.tick(db, config, utc_now())
    found = _day_leaves(api, shop)
    assert len(found) == 1, found
    index, leaf = found[0]
    journals_count, first, last, digest = _day_digest(store, shop.tenant_id, day)
    assert journals_count >= 4  # three purchases and the settlement
    assert leaf["tenant"] == shop.tenant_id
    assert leaf["index"] == index
    assert leaf["day"] == day.isoformat()
    assert (leaf["first_journal_id"], leaf["last_journal_id"]) == (first, last)
    assert leaf["journals"] == journals_count
    assert leaf["digest"] == digest
    # The leaf is proved in the signed tree like any other.
    age_latest_checkpoint(store, shop.tenant_id, EVERY + timedelta(seconds=1))
    size, root = public_checkpoint(api, shop)
    assert size > index
    proof = ok(api.get(log(shop, f"proof/inclusion?index={index}&tree_size={size}")))
    raw = leaves_of(api, shop)[index]
    assert verify_inclusion(index, size, raw, [bytes.fromhex(h) for h in proof["hashes"]], root)


# --- (c) the offline verifier, a plain `python -I` on a downloaded bundle -----------------------


def _run(verifier: Path, bundle: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(verifier), str(bundle), "--key", key],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=bundle.parent,
    )


def _releaf(event: dict[str, Any], change: dict[str, Any]) -> None:
    fields = json.loads(base64.b64decode(event["leaf"]))
    fields.update(change)
    event["leaf"] = base64.b64encode(canonical(fields)).decode()


def test_the_offline_verifier_holds_a_downloaded_bundle_and_names_each_tamper(
    api: Api, tenant: TenantFixture, tmp_path: Path
) -> None:
    t = tenant
    cid = collection(api, t)
    mint(api, t, cid, t.consumer_id, 3)
    friend, _ = second_user(api, t)
    ok(
        api.post(
            t.path(f"/nfg/tokens/{cid}/2/transfer"), t.consumer_token, json={"to_user_id": friend}
        )
    )
    source = api.get("/-/verify/tokenmall_verify.py")
    assert source.status_code == 200
    verifier = tmp_path / "tokenmall_verify.py"
    verifier.write_bytes(source.content)
    imports = [line for line in source.text.splitlines() if line.startswith(("import", "from"))]
    assert {line.split()[1].split(".")[0] for line in imports} <= set(sys.stdlib_module_names)
    downloaded = api.get(f"/{t.tenant_id}/c/{cid}/2", params={"format": "json", "download": "1"})
    assert downloaded.status_code == 200
    assert "attachment" in downloaded.headers["content-disposition"]
    bundle = downloaded.json()
    key = api.get(log(t, "key")).text.strip()
    path = tmp_path / "bundle.json"
    path.write_bytes(downloaded.content)
    held = _run(verifier, path, key)
    assert held.returncode == 0, held.stdout + held.stderr
    assert f"OK: {cid}/2 (2 events)" in held.stdout
    other = make_tenant(api, operator(api))
    other_key = api.get(log(other, "key")).text.strip()

    def signature_flipped(b: dict[str, Any]) -> None:
        body, _, sig = b["checkpoint"].rpartition("\n\u2014 ")
        name, blob = sig.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(blob))
        raw[-1] ^= 1
        b["checkpoint"] = f"{body}\n\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"

    def leaf_byte(b: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(b["events"][0]["leaf"]))
        raw[raw.index(b"mint") + 1] ^= 0x20  # "mint" -> "mInt"
        b["events"][0]["leaf"] = base64.b64encode(bytes(raw)).decode()

    def proof_hash(b: dict[str, Any]) -> None:
        first = bytearray(bytes.fromhex(b["events"][1]["inclusion"][0]))
        first[0] ^= 1
        b["events"][1]["inclusion"][0] = first.hex()

    def root_line(b: dict[str, Any]) -> None:
        lines = b["checkpoint"].split("\n")
        lines[2] = base64.b64encode(sha(b"another tree")).decode()
        b["checkpoint"] = "\n".join(lines)

    def bundle_root(b: dict[str, Any]) -> None:
        b["root"] = sha(b"another tree").hex()

    def serial(b: dict[str, Any]) -> None:
        b["token"] = f"{cid}/1"

    def owner(b: dict[str, Any]) -> None:
        _releaf(b["events"][1], {"to": t.consumer_id})

    def tenant_name(b: dict[str, Any]) -> None:
        b["tenant"] = other.tenant_id

    def no_events(b: dict[str, Any]) -> None:
        b["events"] = []

    tampers = [
        (leaf_byte, "leaf", "not in the signed tree"),
        (proof_hash, "proof hash", "not in the signed tree"),
        (signature_flipped, "signature", "signature is wrong"),
        (root_line, "checkpoint root", "signature is wrong"),
        (bundle_root, "bundle root", "root is not the checkpoint's"),
        (serial, "serial", f"is not an event of {cid}/1"),
        (owner, "owner", "not in the signed tree"),
        (tenant_name, "tenant", f"not in the log of {other.tenant_id}"),
        (no_events, "events", "proves no event"),
    ]
    for tamper, what, named in tampers:
        bad = json.loads(json.dumps(bundle))
        tamper(bad)
        path.write_text(json.dumps(bad))
        run = _run(verifier, path, key)
        assert run.returncode == 1, (what, run.stdout)
        assert "FAILED" in run.stdout, (what, run.stdout)
        assert named in run.stdout, (what, run.stdout)
    # Another tenant's key does not sign this checkpoint; an unreadable file exits 2.
    path.write_bytes(downloaded.content)
    wrong = _run(verifier, path, other_key)
    assert wrong.returncode == 1
    assert "not signed by" in wrong.stdout
    path.write_text("{not json")
    assert _run(verifier, path, key).returncode == 2


# --- (d) `tokenmall log verify` after hand edits ------------------------------------------------


def log_verify(db_url: str, tenant_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", "log", "verify", "--database", db_url,
         "--tenant", tenant_id],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("edit", ["state", "burned", "first of two"])
def test_log_verify_names_a_token_state_a_burned_count_or_the_first_break(
    api: Api, tenant: TenantFixture, store: Store, db_url: str, edit: str
) -> None:
    t = tenant
    cid = collection(api, t, edition_size=3)
    mint(api, t, cid, t.consumer_id, 3)
    burned = api.post(t.path(f"/nfg/tokens/{cid}/3/burn"), t.admin_token, json={"reason": "破损"})
    assert burned.status_code == 200, burned.text
    clean = log_verify(db_url, t.tenant_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "log verify clean" in clean.stdout
    where = {"t": t.tenant_id, "c": cid}
    with store.transaction() as conn:
        if edit == "state":
            conn.execute(
                text(
                    "UPDATE nfg_tokens SET state = 'held' WHERE tenant_id = :t "
                    "AND collection_id = :c AND serial = 3"
                ),
                where,
            )
            wanted = f"token {cid}/3: state held in the registry, burned in the log"
        elif edit == "burned":
            conn.execute(
                text(
                    "UPDATE nfg_collections SET burned = 0 WHERE tenant_id = :t "
                    "AND collection_id = :c"
                ),
                where,
            )
            wanted = f"collection {cid}: burned 0 in the registry, 1 in the log"
        else:
            # A leaf edited and a token's owner edited: the log is checked first, the leaf named.
            conn.execute(
                text(
                    "UPDATE nfg_tokens SET owner_id = :o WHERE tenant_id = :t "
                    "AND collection_id = :c AND serial = 1"
                ),
                {**where, "o": t.admin_id},
            )
            leaf = conn.execute(
                text("SELECT leaf FROM log_leaves WHERE tenant_id = :t AND idx = 2"), where
            ).scalar_one()
            conn.execute(
                text("UPDATE log_leaves SET leaf = :l WHERE tenant_id = :t AND idx = 2"),
                {**where, "l": bytes(leaf).replace(b'"mint"', b'"MINT"')},
            )
            wanted = "leaf 2"
    broken = log_verify(db_url, t.tenant_id)
    assert broken.returncode == 1, broken.stdout
    assert "log verify FAILED" in broken.stdout
    assert wanted in broken.stdout, broken.stdout


def test_log_verify_finds_a_day_leaf_whose_record_was_removed(
    api: Api, server: Server, store: Store, db_url: str
) -> None:
    """With its day's record gone a past journal could be edited unseen and the day logged a
    second time: the day's leaf without its record is itself broken."""
    shop = make_tenant(api, operator(api), params={"grant_on": "paid"})
    body = {"user": {"external_id": "U1"}, "amount": "100.00"}
    ok(api.post(shop.path("/integration/orders/S-1/paid"), shop.admin_token, json=body), 201)
    day = (utc_now() - timedelta(days=1)).astimezone(UTC).date().isoformat()
    ok(api.post(shop.path("/settlements"), shop.admin_token, json={"business_date": day}))
    public.tick(server.app.state.database, server.app.state.log_config, utc_now())
    ((index, _),) = _day_leaves(api, shop)
    assert log_verify(db_url, shop.tenant_id).returncode == 0
    with store.transaction() as conn:
        conn.execute(text("DELETE FROM log_days WHERE tenant_id = :t"), {"t": shop.tenant_id})
        behind_the_triggers(
            store,
            conn,
            "UPDATE postings SET holder = 'someone_else' WHERE tenant_id = :t "
            "AND journal_id = (SELECT MIN(journal_id) FROM postings WHERE tenant_id = :t "
            "AND holder <> '') AND holder <> ''",
            {"t": shop.tenant_id},
        )
    broken = log_verify(db_url, shop.tenant_id)
    assert broken.returncode == 1, broken.stdout
    assert f"leaf {index}: a ledger day leaf whose day is not recorded" in broken.stdout
