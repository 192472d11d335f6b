"""Canonical JSON's fast path (the standard library's encoder) writes exactly what the
reference JCS writer (``canonical.dumps``) writes, and refuses what it refuses."""

from __future__ import annotations

import random

import pytest

from tokenmall.domain.log import canonical

ALPHABET = [
    "a",
    "Z",
    "0",
    " ",
    '"',
    "\\",
    "/",
    "\b",
    "\t",
    "\n",
    "\f",
    "\r",
    "\x00",
    "\x1f",
    "\x7f",
    "é",
    "张",
    "\u2028",
    "\ue000",
    "\uffff",
    "😀",
    "𝄞",
]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 6)))


def _value(rng: random.Random, depth: int = 0) -> object:
    pick = rng.randrange(8 if depth < 3 else 5)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 1, 2**53 - 1, -(2**53 - 1), rng.randrange(-(10**9), 10**9)])
    if pick in (3, 4):
        return _text(rng)
    if pick == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 6:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(20))
def test_the_fast_path_writes_what_the_reference_writes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        value = _value(rng)
        assert canonical.encode(value) == canonical.dumps(value).encode("utf-8"), value


def test_keys_beyond_ascii_sort_by_utf16_code_units() -> None:
    value = {"\ue000": 1, "😀": 2, "a": 3}
    assert canonical.encode(value) == '{"a":3,"😀":2,"\ue000":1}'.encode()


@pytest.mark.parametrize("bad", [1.5, 2**53, {"a": [float("nan")]}, {1: "x"}, {"a": b"x"}])
def test_what_jcs_cannot_carry_is_still_refused(bad: object) -> None:
    with pytest.raises(canonical.NotCanonical):
        canonical.encode(bad)
