"""Anchoring checkpoints on an EVM chain: the rules, without the chain.

A tenant's log is named on the chain by ``tenant_tag``: SHA-256 of the checkpoint's origin
line (``{host}/{tenant}``), so an auditor holding only a signed checkpoint computes it. An
anchor record's lifecycle is ``pending`` (claimed, nothing sent), ``sent`` (a transaction
signed with a known nonce and hash, no receipt yet), ``confirmed`` (a successful receipt:
block number and hash kept) and back to ``pending`` after a failure or a reorganisation; a
failure waits ``backoff(attempts)`` before the next try.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class ChainError(Exception):
    """A JSON-RPC call, a transaction or the chain refused; the message says which, for a
    person."""


FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
PRIVATE_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
RPC_URL = re.compile(r"(https?|wss?)://[^\s]{1,480}")


class AnchorStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CONFIRMED = "confirmed"


def tenant_tag(origin: str) -> bytes:
    """The ``bytes32`` naming a log on the chain: SHA-256 of its checkpoint origin line."""
    return hashlib.sha256(origin.encode("utf-8")).digest()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 30 s doubled, at most an hour."""
    if attempts <= 0:
        return timedelta(0)
    doubled: timedelta = FIRST_RETRY * (1 << min(attempts - 1, 16))
    return min(doubled, LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployed Anchor contract: its address and the transaction that created it."""

    address: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True, slots=True)
class AnchoredEvent:
    """One ``Anchored(tenant, treeSize, rootHash)`` event as a receipt's log carries it."""

    contract: str  # the emitting address, lower-case hex with 0x
    tenant: bytes
    size: int
    root: bytes


def event_problem(
    events: list[AnchoredEvent], contract: str, tag: bytes, size: int, root: bytes
) -> str | None:
    """Why no event of ``events`` records (tag, size, root) from ``contract``; None if one
    does."""
    mine = [e for e in events if e.contract.lower() == contract.lower()]
    if not mine:
        return f"the transaction emitted no Anchored event from contract {contract}"
    for event in mine:
        if event.tenant == tag and event.size == size and event.root == root:
            return None
    seen = mine[0]
    if seen.tenant != tag:
        return "the Anchored event names another log (tenant tag differs)"
    return (
        f"the Anchored event records size {seen.size} root {seen.root.hex()}, "
        f"the checkpoint size {size} root {root.hex()}"
    )


def normal_address(text: str, field: str) -> str:
    """An EVM address as lower-case hex with 0x; ``ValueError`` naming ``field`` otherwise."""
    value = text.strip()
    if not ADDRESS.fullmatch(value):
        raise ValueError(f"{field} must be an address: 0x and 40 hex digits")
    return value.lower()


def private_key_bytes(text: str) -> bytes:
    """A secp256k1 private key given as 64 hex digits (0x optional)."""
    value = text.strip()
    if not PRIVATE_KEY.fullmatch(value):
        raise ValueError("private_key must be 64 hex digits (0x optional)")
    raw = bytes.fromhex(value.removeprefix("0x"))
    if raw == bytes(32):
        raise ValueError("private_key must not be zero")
    return raw


def covered_by(size: int, contract: str, confirmed: list[tuple[int, str]]) -> int | None:
    """The tree size of the anchor covering a dropped one of ``size`` to ``contract``: the
    smallest confirmed anchor (size, contract) above it on the same contract. The log only
    grows, so that checkpoint's tree holds the dropped one's as its prefix."""
    above = [s for s, c in confirmed if c == contract and s > size]
    return min(above) if above else None
