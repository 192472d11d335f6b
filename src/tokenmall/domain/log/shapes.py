"""The byte shapes of flat log leaves: many leaves proved canonical without reading them as JSON.

A *flat* leaf is a JSON object whose keys are plain names (``[A-Za-z0-9_]+``) and whose values
are strings that need no escape (no ``"``, no ``\\``, no control character), integers of at
most 15 digits (so within 2**53 - 1), ``true``, ``false`` or ``null``. The canonical JSON of
such an object (``canonical.encode``) is fixed by its keys alone:
``{"k1":v1,"k2":v2,…}`` with the keys in order, no whitespace, each string written as it is,
each integer without a leading zero or ``-0``. A *shape* is that key list written out as a
regular expression over the leaf's bytes; a leaf the expression matches whole, and which is
valid UTF-8, is exactly the canonical JSON of the flat object it holds. Every shape here
includes ``index``, ``tenant`` and ``type`` and fixes ``tenant`` to the log's tenant, so a
match also proves the leaf is this tenant's; ``index`` is a non-negative integer.

``Shapes`` learns the shapes of a log as it reads it (from leaves already proved canonical the
slow way, see ``learn``) and then checks a batch of leaves at once (``vouch``): one match per
leaf in C, then each leaf's ``index`` and ``type`` read together out of the batch's bytes by
one ``findall`` each (a flat leaf holds no ``"`` inside its strings, so ``"index":`` and
``"type":"`` occur once a leaf, as its keys) and compared with the places and stored types.
A batch it does not vouch for is left to the exact checks, which name what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from itertools import islice

from tokenmall.domain.log import canonical

RESERVED = ("index", "tenant", "type")
_DIGITS = 15  # an integer of at most 15 digits is within 2**53 - 1
MAX_SHAPES = 64  # a log with more key sets than this is left to the general check

_NAME = re.compile(r"[A-Za-z0-9_]+")
_STRING = rb'"[^"\\\x00-\x1f]*"'
_INTEGER = rb"(?:0|-?[1-9][0-9]{0,14})"
_INDEX = rb"(?:0|[1-9][0-9]{0,14})"
_VALUE = rb"(?:" + _STRING + rb"|" + _INTEGER + rb"|true|false|null)"
_INDEXES = re.compile(rb'"index":([0-9]+)')
_TYPES = re.compile(rb'"type":"([^"]*)"')


def _flat_value(value: object) -> bool:
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return len(str(value).lstrip("-")) <= _DIGITS
    if kind is str:
        assert isinstance(value, str)
        return not any(ch in value for ch in '"\\') and all(ch >= " " for ch in value)
    return False


def shape_of(fields: Mapping[str, object]) -> tuple[str, ...] | None:
    """The shape (its sorted keys) of a flat object carrying the reserved keys, else None."""
    keys = tuple(sorted(fields))
    if not set(RESERVED) <= set(keys):
        return None
    if not all(_NAME.fullmatch(key) for key in keys):
        return None
    if not all(_flat_value(value) for value in fields.values()):
        return None
    return keys


def expression(keys: Sequence[str], tenant_id: str) -> bytes:
    """The regular expression of one shape: the canonical JSON of every flat object with
    exactly these keys (sorted, plain names) whose ``tenant`` is ``tenant_id``."""
    tenant = re.escape(canonical.encode(tenant_id))
    members = []
    for key in keys:
        value = {"tenant": tenant, "index": _INDEX}.get(key, _VALUE)
        members.append(b'"' + key.encode("ascii") + b'":' + value)
    return rb"\{" + b",".join(members) + rb"\}"


class Shapes:
    """The shapes of one tenant's flat leaves, learned while its log is read."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.known: list[tuple[str, ...]] = []
        self._pattern: re.Pattern[bytes] | None = None

    def learn(self, fields: Mapping[str, object]) -> bool:
        """Add the shape of ``fields`` (the object of a leaf proved canonical the slow way, of
        this tenant); whether it is (now) known."""
        keys = shape_of(fields)
        if keys is None or fields.get("tenant") != self.tenant_id:
            return False
        if keys in self.known:
            return True
        if len(self.known) >= MAX_SHAPES:
            return False
        self.known.append(keys)
        alternatives = b"|".join(expression(k, self.tenant_id) for k in self.known)
        self._pattern = re.compile(b"(?:" + alternatives + b")")
        return True

    def learn_leaf(self, leaf: bytes) -> bool:
        """Learn the shape of one leaf if it is the canonical JSON of a flat object of this
        tenant (read and written again, the slow way); whether its shape is (now) known."""
        try:
            fields = json.loads(leaf.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return False
        if type(fields) is not dict or shape_of(fields) is None:
            return False
        try:
            if canonical.encode(fields) != leaf:
                return False
        except canonical.NotCanonical:
            return False
        return self.learn(fields)

    def first_unmatched(self, leaves: Sequence[bytes], start: int = 0) -> int | None:
        """The position of the first leaf from ``start`` no known shape matches, None if all
        match."""
        if self._pattern is None:
            return start if start < len(leaves) else None
        fullmatch = self._pattern.fullmatch
        if all(map(fullmatch, islice(leaves, start, None))):
            return None
        return next(n for n in range(start, len(leaves)) if fullmatch(leaves[n]) is None)

    def _unmatched(self, leaf: bytes) -> bool:
        return self._pattern is None or self._pattern.fullmatch(leaf) is None

    def vouch(
        self, first: int, leaves: Sequence[bytes], joined: bytes, kinds: str, kind: str | None
    ) -> bool:
        """Whether every leaf has a shape (those not known yet learned from the leaf itself),
        is valid UTF-8, and is leaf ``first``, ``first + 1``… (its ``index`` field) of the type
        stored beside it (its ``type`` field). ``joined`` is the leaves joined by newlines,
        ``kinds`` their stored types joined by newlines, ``kind`` their one type if they have
        only one."""
        position = self.first_unmatched(leaves)
        while position is not None:
            if not self.learn_leaf(leaves[position]) or self._unmatched(leaves[position]):
                return False
            position = self.first_unmatched(leaves, position + 1)
        if not joined.isascii():
            try:
                joined.decode("utf-8")
            except UnicodeDecodeError:
                return False
        indexes = b",".join(_INDEXES.findall(joined))
        if indexes != ",".join(map(str, range(first, first + len(leaves)))).encode():
            return False
        if kind is not None:
            # ``"type":"<kind>"`` occurs at most once a leaf, so n times means once in each
            return joined.count(b'"type":' + canonical.encode(kind)) == len(leaves)
        # joined by newlines, which no flat leaf's type holds: equal only if equal one by one
        return b"\n".join(_TYPES.findall(joined)) == kinds.encode()
