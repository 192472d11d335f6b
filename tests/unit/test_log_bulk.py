"""``bulk.objects`` vouches only for leaves that are exactly the canonical JSON of their object,
whichever proof it takes, and ``MemoryTree.of_leaf_hashes`` builds the tree appends build."""

from __future__ import annotations

import json
import random

import pytest

from tokenmall.domain.log import bulk, canonical, merkle


def exact(leaf: bytes) -> dict[str, object] | None:
    """The leaf-by-leaf definition: its object if ``encode(json.loads(leaf)) == leaf``."""
    try:
        value = json.loads(leaf.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    try:
        return value if canonical.encode(value) == leaf else None
    except canonical.NotCanonical:
        return None


FLAT = [
    b'{"a":1,"b":"x"}',
    b'{"index":3,"tenant":"t","type":"transfer"}',
    b"{}",
    b'{"a":null,"b":false,"c":-5}',
    '{"n":"两瓶","z":true}'.encode(),
]
GOOD = [
    *FLAT,
    b'{"a":"x y"}',
    b'{"a":{"b":1,"c":[1,"2"]}}',
    b'{"a":"q\\"","b":"\\\\","c":"\\n","d":"\\u001f"}',
    '{"é":1,"f":2}'.encode(),
    '{"😀":1,"｡":2}'.encode(),  # UTF-16 order: the surrogate pair comes first
    b'{"a":9007199254740991}',
]
BAD = [
    b'{"b":1,"a":2}',
    b'{"a":1,"a":2}',
    b'{ "a":1}',
    b'{"a":1}\n',
    b'{"a":-0}',
    b'{"a":1.5}',
    b'{"a":1e2}',
    b'{"a":NaN}',
    b'{"a":9007199254740992}',
    b'{"a":"\\/"}',
    b'{"a":"\\u000a"}',
    b'{"a":"\\u001F"}',
    b'{"a":"\\u00e9"}',
    b'{"a":{"c":1,"b":2}}',
    b"[1]",
    b'"s"',
    b"\xff",
    b'{"a":"b"}x',
    b'{"a":-01}',
    '{"｡":1,"😀":2}'.encode(),
    # pieces that only make objects when read together with their neighbours
    b'{"a":"',
    b'"}',
    b"{},{}",
    b'{"a":"}',
    b'{"}',
    b'{"x":1},{"y":2}',
]


def test_each_leaf_alone() -> None:
    for leaf in GOOD + BAD:
        found = bulk.objects([leaf])[0]
        assert found is None or found == exact(leaf), leaf
    assert all(bulk.objects([leaf])[0] is not None for leaf in FLAT)


def test_a_flat_chunk_is_vouched_for_whole() -> None:
    leaves = [
        b'{"index":%d,"tenant":"t","to":"usr_%d","type":"transfer"}' % (i, i) for i in range(2500)
    ]
    found = bulk.objects(leaves)
    assert found == [json.loads(leaf) for leaf in leaves]


def test_the_pieces_that_read_as_objects_together_are_refused() -> None:
    assert bulk.objects([b'{"a":"', b'"}', b"{},{}"]) == [None, None, None]
    assert bulk.objects([b'{"a":"}', b'{"}', b'{"x":1},{"y":2}']) == [None, None, None]


@pytest.mark.parametrize("seed", range(5))
def test_mixed_chunks_never_vouch_for_what_the_exact_check_refuses(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        n = rng.randint(1, 12)
        leaves = [rng.choice(FLAT) for _ in range(n)]
        leaves[rng.randrange(n)] = rng.choice(GOOD + BAD)
        if rng.random() < 0.3:
            leaves = [rng.choice(GOOD + BAD) for _ in range(n)]
        for leaf, found in zip(leaves, bulk.objects(leaves), strict=True):
            if found is not None:
                assert found == exact(leaf), (leaves, leaf)


@pytest.mark.parametrize("size", [*range(0, 40), 63, 64, 65, 1000, 1025])
def test_the_tree_built_a_level_at_a_time_is_the_appended_tree(size: int) -> None:
    leaves = [b"leaf %d" % i for i in range(size)]
    appended = merkle.MemoryTree()
    appended.append_many(leaves)
    built = merkle.MemoryTree.of_leaf_hashes(merkle.leaf_hashes(leaves))
    assert built.levels == appended.levels
    assert built.root() == appended.root()
