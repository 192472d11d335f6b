"""The NFG rules: the token, reservation and collection tables walked whole, rights parsed
strictly, token keys, and the replay of the log that ``log verify`` compares with the registry."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.transitions import Actor, Lifecycle
from tokenmall.domain.nfg import events
from tokenmall.domain.nfg.lifecycle import NFG_LIFECYCLES, TOKEN
from tokenmall.domain.nfg.records import TokenState, parse_token_key, token_key
from tokenmall.domain.nfg.replay import ReplayBroken, replay
from tokenmall.domain.nfg.rights import Rights, RightsInvalid, discount_off, parse_rights

NAMES = [lc.name for lc in NFG_LIFECYCLES]
WORDS = {"doing": "do this"}


@pytest.mark.parametrize("lifecycle", NFG_LIFECYCLES, ids=NAMES)
def test_listed_moves_only_to_their_actors_and_every_other_move_refused(
    lifecycle: Lifecycle[Any],
) -> None:
    for status in lifecycle.statuses:
        for action in lifecycle.actions:
            move = lifecycle.moves.get((status, action))
            for who in Actor:
                if move is not None and who in move.actors:
                    assert lifecycle.check(status, action, who, **WORDS) == move.to
                else:
                    with pytest.raises(TransitionRefused):
                        lifecycle.check(status, action, who, **WORDS)


@pytest.mark.parametrize("lifecycle", NFG_LIFECYCLES, ids=NAMES)
def test_every_status_is_reachable_and_terminals_have_no_moves(lifecycle: Lifecycle[Any]) -> None:
    seen, frontier = {lifecycle.initial}, [lifecycle.initial]
    while frontier:
        status = frontier.pop()
        for (source, _), move in lifecycle.moves.items():
            if source == status and move.to not in seen:
                seen.add(move.to)
                frontier.append(move.to)
    assert seen == set(lifecycle.statuses)
    for status in lifecycle.terminal:
        assert not [a for (s, a) in lifecycle.moves if s == status]


def test_a_token_in_use_cannot_be_given_redeemed_or_listed() -> None:
    assert TOKEN.terminal == {TokenState.REDEEMED, TokenState.BURNED}
    for state in (TokenState.LISTED, TokenState.LOCKED, TokenState.REDEEMING, TokenState.BURNED):
        for action in ("transfer", "redeem", "list"):
            with pytest.raises(TransitionRefused, match="token_locked"):
                TOKEN.check(state, action, Actor.CONSUMER, doing=action)


def test_rights_parse_strictly_and_round_trip() -> None:
    raw = {
        "may_buy": ["sku_a", "sku_a", "sku_b"],
        "discount_bps": 500,
        "voucher": "sku_v",
        "entry": " VIP lounge ",
    }
    rights = parse_rights(raw)
    assert rights == Rights(("sku_a", "sku_b"), 500, "sku_v", "VIP lounge")
    assert parse_rights(rights.to_json()) == rights
    assert rights.skus() == ("sku_a", "sku_b", "sku_v")
    assert parse_rights(None) == Rights()
    for bad, field in [
        ([], "rights"),
        ({"fly": True}, "rights.fly"),
        ({"may_buy": "sku_a"}, "rights.may_buy"),
        ({"discount_bps": 0}, "rights.discount_bps"),
        ({"discount_bps": 10_001}, "rights.discount_bps"),
        ({"discount_bps": True}, "rights.discount_bps"),
        ({"discount_bps": 1.5}, "rights.discount_bps"),
        ({"voucher": ""}, "rights.voucher"),
        ({"entry": "  "}, "rights.entry"),
    ]:
        with pytest.raises(RightsInvalid) as refused:
            parse_rights(bad)
        assert refused.value.field == field


def test_a_discount_is_rounded_down() -> None:
    assert discount_off(999, 500) == 49  # 49.95 fen off: the buyer pays the odd fen
    assert discount_off(10_000, 10_000) == 10_000


def test_token_keys() -> None:
    assert token_key("col_a", 17) == "col_a/17"
    assert parse_token_key("col_a/17") == ("col_a", 17)
    for bad in ("col_a", "col_a/0", "col_a/x", "/3", "col_a/١", "col_a/99999999"):
        assert parse_token_key(bad) is None


def _leaves(*made: Any) -> list[tuple[int, dict[str, object]]]:
    out = []
    for n, event in enumerate(made):
        fields = dict(event.fields)
        fields.update(type=event.type, index=n)
        out.append((n, fields))
    return out


def test_the_replay_follows_mints_transfers_and_redemptions() -> None:
    from datetime import UTC, datetime

    from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset

    collection = Collection(
        "wine",
        "col_a",
        "Vintage",
        "",
        None,
        3,
        100,
        PriceAsset.MONEY,
        1,
        Rights(),
        CollectionStatus.PUBLISHED,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    state = replay(
        _leaves(
            events.collection_created(collection),
            events.mint("col_a", 1, "usr_a", "drop"),
            events.mint("col_a", 2, "usr_a", "drop"),
            events.transfer("col_a", 1, "usr_a", "usr_b"),
            events.token_event(events.REDEMPTION_REQUESTED, "col_a", 2),
            events.token_event(events.REDEMPTION_DELIVERED, "col_a", 2),
        )
    )
    assert state.tokens["col_a/1"].owner == "usr_b"
    assert state.tokens["col_a/1"].state == TokenState.HELD
    assert state.tokens["col_a/2"].state == TokenState.REDEEMED
    assert (state.minted["col_a"], state.burned["col_a"]) == (2, 1)
    with pytest.raises(ReplayBroken, match="minted twice"):
        replay(
            _leaves(
                events.collection_created(collection),
                events.mint("col_a", 1, "u", "d"),
                events.mint("col_a", 1, "u", "d"),
            )
        )
    with pytest.raises(ReplayBroken, match="outside the edition"):
        replay(_leaves(events.collection_created(collection), events.mint("col_a", 4, "u", "d")))
    with pytest.raises(ReplayBroken, match="never minted"):
        replay(_leaves(events.transfer("col_a", 1, "u", "v")))
