"""The anchoring rules without a chain: the log's tag, the backoff, an event matched against
a checkpoint, and the settings' values refused with the field named."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tokenmall.domain.log.anchors import (
    AnchoredEvent,
    backoff,
    event_problem,
    normal_address,
    private_key_bytes,
    tenant_tag,
)

CONTRACT = "0x" + "ab" * 20


def test_the_tag_is_the_sha256_of_the_origin_line() -> None:
    assert (
        tenant_tag("tokenmall.example/wine") == hashlib.sha256(b"tokenmall.example/wine").digest()
    )
    assert tenant_tag("tokenmall.example/wine") != tenant_tag("tokenmall.example/tea")


def test_backoff_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [backoff(n) for n in range(5)] == [
        timedelta(0),
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
    ]
    assert backoff(8) == timedelta(hours=1)
    assert backoff(10_000) == timedelta(hours=1)


def test_an_event_must_come_from_the_contract_and_carry_the_checkpoint() -> None:
    tag, root = b"t" * 32, b"r" * 32
    good = AnchoredEvent(CONTRACT, tag, 7, root)
    assert event_problem([good], CONTRACT.upper().replace("0X", "0x"), tag, 7, root) is None
    assert "no Anchored event" in str(event_problem([], CONTRACT, tag, 7, root))
    other = AnchoredEvent("0x" + "cd" * 20, tag, 7, root)
    assert "no Anchored event from contract" in str(event_problem([other], CONTRACT, tag, 7, root))
    assert "another log" in str(
        event_problem([AnchoredEvent(CONTRACT, b"x" * 32, 7, root)], CONTRACT, tag, 7, root)
    )
    assert "records size 6" in str(
        event_problem([AnchoredEvent(CONTRACT, tag, 6, root)], CONTRACT, tag, 7, root)
    )


def test_addresses_and_keys_are_checked() -> None:
    assert normal_address(" 0x" + "AB" * 20 + " ", "contract") == CONTRACT
    for bad in ("0x12", "ab" * 20, "0x" + "zz" * 20):
        with pytest.raises(ValueError, match="contract must be an address"):
            normal_address(bad, "contract")
    assert private_key_bytes("0x" + "11" * 32) == b"\x11" * 32
    assert private_key_bytes("11" * 32) == b"\x11" * 32
    for bad in ("11" * 31, "0x" + "gg" * 32, "00" * 32):
        with pytest.raises(ValueError, match="private_key"):
            private_key_bytes(bad)
