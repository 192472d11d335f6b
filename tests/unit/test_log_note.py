"""Checkpoints and signed notes in the C2SP formats, and canonical JSON (RFC 8785) leaves."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmall.adapters.signing import Ed25519Signer, SealError
from tokenmall.domain.log import canonical, note
from tokenmall.domain.log.leaves import Event, leaf_bytes


def _signed(body: str) -> tuple[str, note.VerifierKey, Ed25519Signer]:
    signer = Ed25519Signer("s" * 40)
    private, public = signer.new_key()
    key = note.verifier_key("tokenmall.example/wine", public)
    signature = note.Signature(key.name, key.key_hash, signer.sign(private, body.encode()))
    return note.signed(body, [signature]), key, signer


def test_a_checkpoint_body_is_origin_size_and_base64_root() -> None:
    root = hashlib.sha256(b"x").digest()
    body = note.Checkpoint("tokenmall.example/wine", 12, root).body()
    assert body == f"tokenmall.example/wine\n12\n{base64.b64encode(root).decode()}\n"
    assert note.parse_checkpoint(body) == note.Checkpoint("tokenmall.example/wine", 12, root)


def test_the_key_hash_and_verifier_key_follow_the_signed_note_spec() -> None:
    public = bytes(range(32))
    key = note.verifier_key("example.com/log", public)
    expected = hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    assert key.key_hash == expected
    name, hash_hex, blob = key.text().split("+", 2)
    assert (name, hash_hex) == ("example.com/log", expected.hex())
    assert base64.b64decode(blob) == b"\x01" + public
    assert note.parse_verifier_key(key.text()) == key


def test_a_signed_note_opens_with_its_key_and_not_when_changed() -> None:
    body = note.Checkpoint("tokenmall.example/wine", 3, bytes(32)).body()
    text, key, signer = _signed(body)
    assert text.startswith(body + "\n\u2014 tokenmall.example/wine ")
    assert note.open_note(text, key, signer.verify).size == 3
    with pytest.raises(note.NoteError):
        note.open_note(text.replace("\n3\n", "\n4\n"), key, signer.verify)
    other = note.verifier_key(key.name, Ed25519Signer("s" * 40).new_key()[1])
    with pytest.raises(note.NoteError):
        note.open_note(text, other, signer.verify)
    with pytest.raises(note.NoteError):
        note.split_note(body)


def test_a_sealed_key_opens_only_for_its_tenant_under_its_secret() -> None:
    signer = Ed25519Signer("a" * 40)
    private, _ = signer.new_key()
    sealed = signer.seal("wine", private)
    assert private not in sealed
    assert signer.open("wine", sealed) == private
    with pytest.raises(SealError):
        signer.open("tea", sealed)
    with pytest.raises(SealError):
        Ed25519Signer("b" * 40).open("wine", sealed)


def test_canonical_json_sorts_keys_escapes_minimally_and_refuses_floats() -> None:
    assert canonical.dumps({"b": 1, "a": [True, None, "x"]}) == '{"a":[true,null,"x"],"b":1}'
    assert canonical.dumps({"s": 'é"\\\n\u0001'}) == '{"s":"é\\"\\\\\\n\\u0001"}'
    # keys sort by UTF-16 code units: U+10000 (a surrogate pair) before U+FFFF
    assert canonical.dumps({"\uffff": 1, "\U00010000": 2}) == '{"\U00010000":2,"\uffff":1}'
    for bad in (1.5, 2**53, {1: "x"}, b"bytes"):
        with pytest.raises(canonical.NotCanonical):
            canonical.dumps(bad)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_canonical_json_reads_back_as_the_same_value(value: object) -> None:
    text = canonical.dumps(value)
    assert json.loads(text) == value
    assert canonical.dumps(json.loads(text)) == text


def test_a_leaf_carries_type_tenant_index_and_time_and_refuses_their_names() -> None:
    moment = datetime(2026, 12, 4, 8, 0, 0, 5, tzinfo=UTC)
    leaf = leaf_bytes("wine", 7, moment, Event("mint", "c/1", {"token": "c/1"}))
    assert json.loads(leaf) == {
        "type": "mint",
        "tenant": "wine",
        "index": 7,
        "time": "2026-12-04T08:00:00.000005Z",
        "token": "c/1",
    }
    with pytest.raises(ValueError, match="index"):
        leaf_bytes("wine", 7, moment, Event("mint", None, {"index": 1}))
