"""The registry's state as the log tells it: every token's owner and state, every collection's
supply. ``log verify`` compares it with the stored registry, so a token whose owner or state
was edited by hand (or a collection's counts) is found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.records import TokenState


@dataclass(slots=True)
class LoggedToken:
    owner: str
    state: TokenState


@dataclass(slots=True)
class LoggedState:
    tokens: dict[str, LoggedToken] = field(default_factory=dict)
    edition_sizes: dict[str, int] = field(default_factory=dict)
    minted: dict[str, int] = field(default_factory=dict)
    burned: dict[str, int] = field(default_factory=dict)


class ReplayBroken(ValueError):
    """An event the log cannot follow (a token minted twice, moved before its mint…)."""


_STATE_AFTER = {
    ev.LIST: TokenState.LISTED,
    ev.DELIST: TokenState.HELD,
    ev.SALE: TokenState.HELD,
    ev.LOCK: TokenState.LOCKED,
    ev.UNLOCK: TokenState.HELD,
    ev.REDEMPTION_REQUESTED: TokenState.REDEEMING,
    ev.REDEMPTION_CANCELLED: TokenState.HELD,
    ev.REDEMPTION_DELIVERED: TokenState.REDEEMED,
    ev.BURN: TokenState.BURNED,
}


def replay(leaves: Iterable[tuple[int, Mapping[str, object]]]) -> LoggedState:
    """Follow the NFG events among ``(index, fields)`` leaves, in order."""
    state = LoggedState()
    for index, fields in leaves:
        kind = fields.get("type")
        if kind == ev.COLLECTION_CREATED:
            collection = str(fields["collection"])
            size = fields["edition_size"]
            assert isinstance(size, int)
            state.edition_sizes[collection] = size
            continue
        if kind not in ev.TOKEN_EVENTS:
            continue
        key = str(fields["token"])
        collection = str(fields["collection"])
        token = state.tokens.get(key)
        if kind == ev.MINT:
            if token is not None:
                raise ReplayBroken(f"leaf {index}: {key} minted twice")
            if collection not in state.edition_sizes:
                raise ReplayBroken(f"leaf {index}: {key} minted before its collection")
            serial = fields["serial"]
            assert isinstance(serial, int)
            if not 1 <= serial <= state.edition_sizes[collection]:
                raise ReplayBroken(f"leaf {index}: serial {serial} is outside the edition")
            state.tokens[key] = LoggedToken(str(fields["to"]), TokenState.HELD)
            state.minted[collection] = state.minted.get(collection, 0) + 1
            continue
        if token is None:
            raise ReplayBroken(f"leaf {index}: {kind} of {key}, which was never minted")
        if kind in (ev.TRANSFER, ev.SALE):
            token.owner = str(fields["to"])
        if kind in _STATE_AFTER:
            token.state = _STATE_AFTER[kind]
        if kind in (ev.BURN, ev.REDEMPTION_DELIVERED):
            state.burned[collection] = state.burned.get(collection, 0) + 1
    return state
