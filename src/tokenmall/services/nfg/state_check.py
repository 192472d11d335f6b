"""``log verify``'s state check: the registry as stored against the replay of the log.

Every token's owner and state and every collection's edition size, minted and burned counts
must equal what the log's events say. The events followed are those of the collections the
log records as created (``collection_created``); the first mismatch is named, e.g.
``token col_x/3: owner usr_a in the registry, usr_b in the log``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.replay import LoggedState, ReplayBroken, replay
from tokenmall.services.log.verify import StateCheck
from tokenmall.services.mall.uow import Database, MallUnitOfWork

Leaves = Sequence[tuple[int, dict[str, object]]]  # (index, fields) in index order


def _registry_leaves(leaves: Leaves) -> list[tuple[int, dict[str, object]]]:
    """The leaves of the registry's collections: created in the log, then their tokens'."""
    created: set[str] = set()
    out: list[tuple[int, dict[str, object]]] = []
    for index, fields in leaves:
        kind = fields.get("type")
        if kind == ev.COLLECTION_CREATED:
            created.add(str(fields.get("collection")))
            out.append((index, fields))
        elif kind in ev.TOKEN_EVENTS and fields.get("collection") in created:
            out.append((index, fields))
    return out


def compare(unit: MallUnitOfWork, tenant_id: str, logged: LoggedState) -> str | None:
    """The first difference between the stored registry and ``logged``, or None."""
    stored = unit.nfg.list_collections(tenant_id, limit=1_000_000)
    seen = {c.collection_id for c in stored}
    unknown = sorted(set(logged.edition_sizes) - seen)
    if unknown:
        return f"collection {unknown[0]}: created in the log, not in the registry"
    for c in stored:
        where = f"collection {c.collection_id}"
        if c.collection_id not in logged.edition_sizes:
            return f"{where}: in the registry, never created in the log"
        pairs = (
            ("edition size", c.edition_size, logged.edition_sizes[c.collection_id]),
            ("minted", c.minted, logged.minted.get(c.collection_id, 0)),
            ("burned", c.burned, logged.burned.get(c.collection_id, 0)),
        )
        for what, mine, theirs in pairs:
            if mine != theirs:
                return f"{where}: {what} {mine} in the registry, {theirs} in the log"
    tokens = {t.key: t for t in unit.nfg.all_tokens(tenant_id)}
    missing = sorted(set(logged.tokens) - set(tokens))
    if missing:
        return f"token {missing[0]}: minted in the log, not in the registry"
    for key, token in tokens.items():
        found = logged.tokens.get(key)
        if found is None:
            return f"token {key}: in the registry, never minted in the log"
        if token.owner_id != found.owner:
            return f"token {key}: owner {token.owner_id} in the registry, {found.owner} in the log"
        if token.state != found.state:
            return f"token {key}: state {token.state} in the registry, {found.state} in the log"
    return None


def check_tenant(unit: MallUnitOfWork, tenant_id: str, leaves: Leaves) -> str | None:
    try:
        logged = replay(_registry_leaves(leaves))
    except (ReplayBroken, KeyError, AssertionError, ValueError) as broken:
        return f"the registry's events do not replay: {broken}"
    return compare(unit, tenant_id, logged)


def registry_check(db: Database) -> StateCheck:
    """The state check ``log verify`` runs, reading the registry through ``db``."""

    def check(tenant_id: str, leaves: Leaves) -> str | None:
        with db.reading() as unit:
            return check_tenant(unit, tenant_id, leaves)

    return check
