"""docs/design/nfg.md checked from the outside, over real HTTP, on SQLite and PostgreSQL.

Nothing of the project's log code is used: leaf and node hashes, tree heads, inclusion and
consistency proofs are computed here with hashlib as RFC 9162 §2.1 defines them, and the
checkpoint's Ed25519 signature is checked with ``cryptography`` against the published key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from mall_api import Api, TenantFixture, login, ok
from orders_helpers import sandbox_pay

HOME = {
    "recipient": "张三",
    "phone": "13800138000",
    "region": "浙江省 杭州市 西湖区",
    "detail": "文三路 100 号 2 幢 301 室",
    "postal_code": "310000",
}

# --- RFC 9162 §2.1, written from the RFC -----------------------------------------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes) -> bytes:
    return sha(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def test_the_own_verifier_agrees_with_itself_on_small_trees() -> None:
    """The test's verifier is right before it judges the server: proofs built from the RFC's
    recursive definitions verify, a changed hash does not."""

    def path(m: int, leaves: list[bytes]) -> list[bytes]:
        if len(leaves) == 1:
            return []
        k = split(len(leaves))
        if m < k:
            return [*path(m, leaves[:k]), mth(leaves[k:])]
        return [*path(m - k, leaves[k:]), mth(leaves[:k])]

    def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
        n = len(leaves)
        if m == n:
            return [] if whole else [mth(leaves)]
        k = split(n)
        if m <= k:
            return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
        return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]

    for n in range(1, 20):
        leaves = [f"leaf {i}".encode() for i in range(n)]
        root = mth(leaves)
        for i in range(n):
            assert verify_inclusion(i, n, leaves[i], path(i, leaves), root)
            assert not verify_inclusion(i, n, leaves[i] + b"x", path(i, leaves), root)
        for m in range(1, n + 1):
            proof = subproof(m, leaves, True) if m < n else []
            assert verify_consistency(m, n, mth(leaves[:m]), root, proof)
            if proof:
                assert not verify_consistency(m, n, mth(leaves[:m]), sha(b"x"), proof)


# --- helpers over HTTP ----------------------------------------------------------------------


def log(t: TenantFixture, rest: str) -> str:
    return t.path(f"/log/{rest}")


def second_user(api: Api, t: TenantFixture) -> tuple[str, str]:
    email = f"friend{uuid.uuid4().hex[:6]}@shop.test"
    made = ok(api.post(t.path("/register"), json={"email": email, "password": "friend-pass1"}), 201)
    return str(made["user_id"]), login(api, t.tenant_id, email, "friend-pass1")


def collection(api: Api, t: TenantFixture, **extra: Any) -> str:
    body = {
        "name": "2020 珍藏",
        "description": "A numbered bottle",
        "edition_size": 5,
        "price": "99.00",
        "price_asset": "money",
        "per_user_limit": 2,
        **extra,
    }
    made = ok(api.post(t.path("/nfg/collections"), t.admin_token, json=body), 201)
    cid = str(made["collection_id"])
    ok(api.post(t.path(f"/nfg/collections/{cid}/publish"), t.admin_token))
    return cid


def mint(api: Api, t: TenantFixture, cid: str, user_id: str, count: int = 1) -> list[Any]:
    body = {"count": count, "user_id": user_id}
    answer = ok(api.post(t.path(f"/nfg/collections/{cid}/mint"), t.admin_token, json=body), 201)
    return list(answer["tokens"])


def leaves_of(api: Api, t: TenantFixture) -> list[bytes]:
    found: list[bytes] = []
    while True:
        page = ok(api.get(log(t, f"entries?start={len(found)}&end={len(found) + 1000}")))
        if not page["entries"]:
            return found
        for entry in page["entries"]:
            assert entry["index"] == len(found)
            found.append(base64.b64decode(entry["leaf"], validate=True))


def events_of(api: Api, t: TenantFixture, token: str) -> list[dict[str, Any]]:
    events = [json.loads(leaf) for leaf in leaves_of(api, t)]
    return [e for e in events if e.get("token") == token]


def token_state(api: Api, t: TenantFixture, cid: str, serial: int) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(t.path(f"/nfg/tokens/{cid}/{serial}"), t.admin_token))
    return found


def canonical(value: Any) -> bytes:
    """RFC 8785 for the values a leaf holds (strings, integers, booleans, null, objects, lists):
    sorted keys (all ASCII here), no spaces, UTF-8 as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# --- the checkpoint and the key -------------------------------------------------------------


def parse_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    name, keyhash_hex, encoded = text.strip().split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    assert raw[0] == 0x01
    assert len(raw) == 33
    keyhash = bytes.fromhex(keyhash_hex)
    assert len(keyhash) == 4
    assert keyhash_hex == keyhash_hex.lower()
    assert sha(name.encode() + b"\n" + raw)[:4] == keyhash
    return name, keyhash, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_checkpoint(text: str, key_text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed note whose signature by the key verifies."""
    name, keyhash, public = parse_key(key_text)
    body, _, signatures = text.partition("\n\n")
    body += "\n"
    lines = body.split("\n")[:-1]
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    assert size_text == str(int(size_text))  # decimal, no leading zeros or sign
    root = base64.b64decode(root_b64, validate=True)
    assert len(root) == 32
    assert signatures.endswith("\n")
    verified = False
    for line in signatures[:-1].split("\n"):
        assert line.startswith("\u2014 ")  # an em dash and a space
        signer, blob_b64 = line[2:].rsplit(" ", 1)
        blob = base64.b64decode(blob_b64, validate=True)
        if signer == name and blob[:4] == keyhash:
            public.verify(blob[4:], body.encode())
            verified = True
    assert verified, "no signature by the published key"
    return origin, int(size_text), root


# --- the tests ------------------------------------------------------------------------------


def test_empty_log_checkpoint_and_key_formats(api: Api, tenant: TenantFixture) -> None:
    key = api.get(log(tenant, "key"))
    assert key.status_code == 200
    assert key.headers["content-type"].startswith("text/plain")
    checkpoint = api.get(log(tenant, "checkpoint"))
    assert checkpoint.status_code == 200
    assert checkpoint.headers["content-type"].startswith("text/plain")
    origin, size, root = open_checkpoint(checkpoint.text, key.text)
    assert origin == parse_key(key.text)[0]
    assert "/" in origin
    assert not origin.startswith("http")
    assert (size, root) == (0, sha(b""))
    assert ok(api.get(log(tenant, "entries?start=0&end=10"))) == {"entries": []}
    # No login needed, and another tenant's log is its own.
    assert api.get("/api/v1/tenants/tnosuchtenant/log/checkpoint").status_code == 404


def test_a_tampered_checkpoint_does_not_verify(api: Api, tenant: TenantFixture) -> None:
    key = api.get(log(tenant, "key")).text
    text = api.get(log(tenant, "checkpoint")).text
    forged = text.replace("\n0\n", "\n1\n", 1)
    with pytest.raises(InvalidSignature):
        open_checkpoint(forged, key)


def _history(api: Api, t: TenantFixture) -> tuple[str, str, str]:
    """A collection, three minted tokens, one transferred: (collection, friend id, token)."""
    cid = collection(api, t)
    mint(api, t, cid, t.consumer_id, 3)
    friend, _ = second_user(api, t)
    body = {"to_user_id": friend}
    ok(api.post(t.path(f"/nfg/tokens/{cid}/2/transfer"), t.consumer_token, json=body))
    return cid, friend, f"{cid}/2"


def test_leaves_are_canonical_json_and_the_signed_root_is_rfc9162(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    _, friend, token = _history(api, t)
    leaves = leaves_of(api, t)
    assert len(leaves) >= 5  # collection created, 3 mints, 1 transfer
    for n, leaf in enumerate(leaves):
        event = json.loads(leaf.decode("utf-8"))
        assert leaf == canonical(event), f"leaf {n} is not canonical JSON"
        assert event["index"] == n
        assert event["tenant"] == t.tenant_id
        assert isinstance(event["type"], str)
        assert isinstance(event["time"], str)
    types = [json.loads(leaf)["type"] for leaf in leaves]
    assert types.count("mint") == 3
    assert "collection_created" in types
    moved = events_of(api, t, token)
    assert [e["type"] for e in moved] == ["mint", "transfer"]
    assert moved[1]["to"] == friend
    key = api.get(log(t, "key")).text
    _, size, root = open_checkpoint(api.get(log(t, "checkpoint")).text, key)
    assert 1 <= size <= len(leaves)
    assert root == mth(leaves[:size])


def test_inclusion_and_consistency_proofs_verify(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    _history(api, t)
    leaves = leaves_of(api, t)
    n = len(leaves)
    for size in range(1, n + 1):
        root = mth(leaves[:size])
        for index in range(size):
            query = f"proof/inclusion?index={index}&tree_size={size}"
            proof = ok(api.get(log(t, query)))
            assert set(proof) == {"leaf_index", "tree_size", "hashes"}
            assert (proof["leaf_index"], proof["tree_size"]) == (index, size)
            hashes = [bytes.fromhex(h) for h in proof["hashes"]]
            assert [h.hex() for h in hashes] == proof["hashes"]  # lower-case hex
            assert all(len(h) == 32 for h in hashes)
            assert verify_inclusion(index, size, leaves[index], hashes, root), (index, size)
    for first in range(1, n + 1):
        for second in range(first, n + 1):
            query = f"proof/consistency?first={first}&second={second}"
            proof = ok(api.get(log(t, query)))
            assert set(proof) == {"hashes"}
            hashes = [bytes.fromhex(h) for h in proof["hashes"]]
            assert verify_consistency(
                first, second, mth(leaves[:first]), mth(leaves[:second]), hashes
            ), (first, second)


def test_entries_paging_bounds(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    _history(api, t)
    leaves = leaves_of(api, t)
    n = len(leaves)
    page = ok(api.get(log(t, "entries?start=1&end=3")))
    assert [e["index"] for e in page["entries"]] == [1, 2]
    assert [base64.b64decode(e["leaf"]) for e in page["entries"]] == leaves[1:3]
    # An end past the log's end answers what there is.
    tail = ok(api.get(log(t, f"entries?start={n - 1}&end={n + 50}")))
    assert [e["index"] for e in tail["entries"]] == [n - 1]
    # At most 1,000 a page.
    many = ok(api.get(log(t, "entries?start=0&end=5000")))
    assert len(many["entries"]) == n <= 1000
    # The end of the log is an empty page; a start beyond it is refused naming `start`.
    assert ok(api.get(log(t, f"entries?start={n}&end={n + 5}"))) == {"entries": []}
    for query, field in [
        (f"entries?start={n + 1}&end={n + 5}", "start"),
        ("entries?start=-1&end=2", "start"),
        ("entries?start=3&end=3", "end"),
        ("entries?start=3&end=1", "end"),
        ("entries?start=x&end=1", "start"),
        (f"proof/inclusion?index={n}&tree_size={n}", "index"),
        (f"proof/inclusion?index=0&tree_size={n + 1}", "tree_size"),
        (f"proof/consistency?first={n}&second=1", "first"),
        (f"proof/consistency?first=1&second={n + 1}", "second"),
    ]:
        answer = api.get(log(t, query))
        assert 400 <= answer.status_code < 500, (query, answer.status_code)
        assert answer.json()["error"]["field"] == field, (query, answer.text)


def test_certificate_page_bundle_and_metadata(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    cid, _, token = _history(api, t)
    url = f"/{t.tenant_id}/c/{cid}/2"
    page = api.get(url)  # no login
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "#2/5" in html or "2/5" in html
    assert "2020 珍藏" in html
    assert "<svg" in html  # the QR code
    assert "format=json" in html
    english = api.get(url + "?lang=en")
    assert english.status_code == 200
    bundle = ok(api.get(url + "?format=json"))
    for field in ("tenant", "token", "tree_size", "root", "checkpoint", "verifier_key", "events"):
        assert field in bundle, field
    assert bundle["token"] == token
    assert bundle["tenant"] == t.tenant_id
    assert bundle["verifier_key"].strip() == api.get(log(t, "key")).text.strip()
    _, size, root = open_checkpoint(bundle["checkpoint"], bundle["verifier_key"])
    assert size == bundle["tree_size"]
    assert root.hex() == bundle["root"]
    kinds = []
    for event in bundle["events"]:
        leaf = base64.b64decode(event["leaf"])
        kinds.append(json.loads(leaf)["type"])
        hashes = [bytes.fromhex(h) for h in event["inclusion"]]
        assert verify_inclusion(event["index"], size, leaf, hashes, root)
    assert kinds == ["mint", "transfer"]
    assert api.get(f"/{t.tenant_id}/c/{cid}/9").status_code == 404  # beyond N
    # Metadata at its stable URL, in the common NFT shape.
    meta = ok(api.get(t.path(f"/nfg/tokens/{cid}/2/metadata")))
    assert {"name", "description", "image", "attributes"} <= meta.keys()
    assert "#2/5" in meta["name"]
    assert isinstance(meta["attributes"], list)
    assert all({"trait_type", "value"} <= a.keys() for a in meta["attributes"])


def test_transfer_refusals_change_nothing(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    cid = collection(api, t)
    mint(api, t, cid, t.consumer_id)
    friend, friend_token = second_user(api, t)
    size = len(leaves_of(api, t))
    path = t.path(f"/nfg/tokens/{cid}/1/transfer")
    refused = [
        (api.post(path, friend_token, json={"to_user_id": t.admin_id}), 403, "not_owner"),
        (api.post(path, t.consumer_token, json={"to_user_id": "usr_nobody"}), 422, None),
        (api.post(path, t.consumer_token), 422, None),
        (
            api.post(
                t.path(f"/nfg/tokens/{cid}/9/transfer"),
                t.consumer_token,
                json={"to_user_id": friend},
            ),
            422,
            None,
        ),
    ]
    for answer, code, error in refused:
        assert answer.status_code == code, answer.text
        if error:
            assert answer.json()["error"]["code"] == error
    assert refused[1][0].json()["error"]["field"] == "to_user_id"
    assert refused[2][0].json()["error"]["field"] == "body"
    assert refused[3][0].json()["error"]["field"] == "serial"
    assert token_state(api, t, cid, 1)["owner_id"] == t.consumer_id
    assert len(leaves_of(api, t)) == size


def test_redemption_states_cancel_and_burn_on_delivery(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    cid = collection(api, t, linked_sku_id=t.sku_id)
    mint(api, t, cid, t.consumer_id, 2)
    address = ok(api.post(t.path("/me/addresses"), t.consumer_token, json=HOME), 201)
    body = {"collection_id": cid, "serial": 1, "address_id": address["address_id"]}
    asked = ok(api.post(t.path("/nfg/redemptions"), t.consumer_token, json=body), 201)
    assert token_state(api, t, cid, 1)["state"] == "redeeming"
    # A locked token is not given away.
    friend, _ = second_user(api, t)
    gift = api.post(
        t.path(f"/nfg/tokens/{cid}/1/transfer"), t.consumer_token, json={"to_user_id": friend}
    )
    assert gift.status_code == 409
    assert gift.json()["error"]["code"] == "token_locked"
    path = t.path(f"/nfg/redemptions/{asked['redemption_id']}")
    cancelled = api.post(f"{path}/cancel", t.consumer_token)  # no body at all
    assert cancelled.status_code == 200, cancelled.text
    assert token_state(api, t, cid, 1)["state"] == "held"
    again = ok(api.post(t.path("/nfg/redemptions"), t.consumer_token, json=body), 201)
    ok(api.post(t.path(f"/nfg/redemptions/{again['redemption_id']}/deliver"), t.admin_token))
    assert token_state(api, t, cid, 1)["state"] == "redeemed"
    kinds = [e["type"] for e in events_of(api, t, f"{cid}/1")]
    assert kinds == [
        "mint",
        "redemption_requested",
        "redemption_cancelled",
        "redemption_requested",
        "redemption_delivered",
    ]
    made = ok(api.get(t.path(f"/nfg/collections/{cid}"), t.admin_token))
    assert made["burned"] == 1
    # A redemption without an address names the field and locks nothing.
    bad = api.post(
        t.path("/nfg/redemptions"), t.consumer_token, json={**body, "serial": 2, "address_id": None}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "address_id"
    assert token_state(api, t, cid, 2)["state"] == "held"


def test_a_missing_json_body_names_body(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    before = ok(api.get(t.path("/nfg/collections"), t.admin_token))
    for path in ("/nfg/collections", "/nfg/redemptions"):
        answer = api.post(t.path(path), t.admin_token)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "body"
    assert ok(api.get(t.path("/nfg/collections"), t.admin_token)) == before


def test_held_to_burned_by_the_issuer_logged_and_never_reissued(
    api: Api, tenant: TenantFixture, db_url: str
) -> None:
    t = tenant
    cid = collection(api, t, edition_size=3)
    mint(api, t, cid, t.consumer_id, 3)
    path = t.path(f"/nfg/tokens/{cid}/1/burn")
    size = len(leaves_of(api, t))
    # Refused, nothing changes: the owner (not an issuer), a serial beyond N, a long reason.
    owner = api.post(path, t.consumer_token, json={})
    assert owner.status_code == 403
    beyond = api.post(t.path(f"/nfg/tokens/{cid}/4/burn"), t.admin_token)
    assert beyond.status_code == 422
    assert beyond.json()["error"]["field"] == "serial"
    long = api.post(path, t.admin_token, json={"reason": "x" * 201})
    assert long.status_code == 422
    assert long.json()["error"]["field"] == "reason"
    assert token_state(api, t, cid, 1)["state"] == "held"
    assert len(leaves_of(api, t)) == size
    # The admin burns it (no body needed); a replay of the same key changes nothing.
    burned = api.post(path, t.admin_token, key="burn-1")
    assert burned.status_code == 200, burned.text
    assert burned.json()["state"] == "burned"
    replay = api.post(path, t.admin_token, key="burn-1")
    assert replay.status_code == 200
    assert replay.json() == burned.json()
    assert len(leaves_of(api, t)) == size + 1
    (event,) = [e for e in events_of(api, t, f"{cid}/1") if e["type"] == "burn"]
    assert event["by"] == t.admin_id
    assert event["owner"] == t.consumer_id
    # The issuing merchant may burn its collection's token too, with a reason.
    merchant_cid = collection(api, t, issuer_merchant_id=t.merchant_id)
    mint(api, t, merchant_cid, t.consumer_id)
    by_merchant = api.post(
        t.path(f"/nfg/tokens/{merchant_cid}/1/burn"), t.merchant_token, json={"reason": "破损"}
    )
    assert by_merchant.status_code == 200, by_merchant.text
    assert events_of(api, t, f"{merchant_cid}/1")[-1]["reason"] == "破损"
    # Burned is final: not burned again, not given, not redeemed; the count shows it.
    again = api.post(path, t.admin_token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "token_locked"
    friend, _ = second_user(api, t)
    gift = api.post(
        t.path(f"/nfg/tokens/{cid}/1/transfer"), t.consumer_token, json={"to_user_id": friend}
    )
    assert gift.status_code == 409
    made = ok(api.get(t.path(f"/nfg/collections/{cid}"), t.admin_token))
    assert made["burned"] == 1
    more = api.post(
        t.path(f"/nfg/collections/{cid}/mint"),
        t.admin_token,
        json={"count": 1, "user_id": t.consumer_id},
    )
    assert more.status_code == 422  # serials 1..N, never more, never reused
    page = api.get(f"/{t.tenant_id}/c/{cid}/1")
    assert page.status_code == 200
    bundle = ok(api.get(f"/{t.tenant_id}/c/{cid}/1?format=json"))
    kinds = [json.loads(base64.b64decode(e["leaf"]))["type"] for e in bundle["events"]]
    assert kinds == ["mint", "burn"]
    # The registry's state equals the replay of the log.
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmall",
            "log",
            "verify",
            "--database",
            db_url,
            "--tenant",
            t.tenant_id,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_drop_sells_exactly_n_in_serial_order_after_payment(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    cid = collection(api, t, edition_size=2, per_user_limit=1, price="50.00")
    buyers = [second_user(api, t) for _ in range(3)]
    path = t.path(f"/nfg/collections/{cid}/reservations")
    over = api.post(path, buyers[0][1], json={"quantity": 2})
    assert over.status_code in (409, 422)
    assert over.json()["error"]["field"] == "quantity"
    answers = [api.post(path, token, json={"quantity": 1}) for _, token in buyers]
    assert [a.status_code for a in answers] == [201, 201, 409]
    assert answers[2].json()["error"]["code"] == "sold_out"
    # No token before payment.
    assert not [json.loads(leaf) for leaf in leaves_of(api, t) if b'"mint"' in leaf]
    for answer, (user, token) in zip(answers[:2], buyers, strict=False):
        made = answer.json()
        assert sandbox_pay(api, made["payment_url"]).status_code == 200
        found = ok(api.get(t.path(f"/nfg/reservations/{made['reservation_id']}"), token))
        assert found["status"] == "assigned"
        assert found["user_id"] == user
    owners = [token_state(api, t, cid, s)["owner_id"] for s in (1, 2)]
    assert owners == [buyers[0][0], buyers[1][0]]
    mints = [json.loads(leaf) for leaf in leaves_of(api, t) if json.loads(leaf)["type"] == "mint"]
    assert [m["token"] for m in mints] == [f"{cid}/1", f"{cid}/2"]
