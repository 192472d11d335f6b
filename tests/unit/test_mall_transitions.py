"""Every mall lifecycle's table, walked whole: listed moves are allowed to their actors only,
every other (status, action) is refused, every status is reachable, terminals have no moves."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmall.domain.mall.errors import SelfDemotion, TransitionRefused
from tokenmall.domain.mall.kyc import SubmissionStatus
from tokenmall.domain.mall.orders import OrderStatus
from tokenmall.domain.mall.people import KycStatus, Role
from tokenmall.domain.mall.transitions import (
    KYC,
    KYC_REVIEW,
    LIFECYCLES,
    ORDER,
    REFUND,
    ROLE,
    WITHDRAWAL,
    Actor,
    Lifecycle,
    kyc_move,
    role_move,
)

NAMES = [lc.name for lc in LIFECYCLES]
WORDS = {"doing": "do this", "withdrawal_id": "wdr_1", "external_order_id": "x-1"}


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_every_listed_move_is_allowed_to_its_actors_and_refused_to_the_others(
    lifecycle: Lifecycle[Any],
) -> None:
    for (status, action), move in lifecycle.moves.items():
        assert move.actors, f"{lifecycle.name}: {status} --{action}--> nobody may"
        for who in Actor:
            if who in move.actors:
                assert lifecycle.allows(status, action, who)
                assert lifecycle.check(status, action, who, **WORDS) == move.to
            else:
                assert not lifecycle.allows(status, action, who)
                with pytest.raises(TransitionRefused):
                    lifecycle.check(status, action, who, **WORDS)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_every_move_not_listed_is_refused(lifecycle: Lifecycle[Any]) -> None:
    for status in lifecycle.statuses:
        for action in lifecycle.actions:
            if (status, action) in lifecycle.moves:
                continue
            for who in Actor:
                assert not lifecycle.allows(status, action, who)
                with pytest.raises(TransitionRefused) as refused:
                    lifecycle.check(status, action, who, **WORDS)
                assert refused.value.code == "conflict"
                assert refused.value.field == lifecycle.field


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_every_status_is_reachable_from_the_initial_one(lifecycle: Lifecycle[Any]) -> None:
    seen = {lifecycle.initial}
    frontier = [lifecycle.initial]
    while frontier:
        status = frontier.pop()
        for (source, _), move in lifecycle.moves.items():
            if source == status and move.to not in seen:
                seen.add(move.to)
                frontier.append(move.to)
    assert seen == set(lifecycle.statuses)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_terminal_statuses_have_no_moves(lifecycle: Lifecycle[Any]) -> None:
    for status in lifecycle.terminal:
        assert not [action for (s, action) in lifecycle.moves if s == status]
        for action in lifecycle.actions:
            for who in Actor:
                assert not lifecycle.allows(status, action, who)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=NAMES)
def test_moves_use_the_lifecycles_own_statuses(lifecycle: Lifecycle[Any]) -> None:
    for (status, _), move in lifecycle.moves.items():
        assert isinstance(status, lifecycle.statuses)
        assert isinstance(move.to, lifecycle.statuses)


def test_an_action_no_table_knows_is_a_bug_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="no action"):
        ORDER.check(OrderStatus.CREATED, "teleport", Actor.ADMIN)


def test_the_terminal_statuses_are_the_expected_ones() -> None:
    assert ORDER.terminal == {"completed", "cancelled", "refunded"}
    assert REFUND.terminal == {"succeeded", "rejected", "abandoned"}
    assert WITHDRAWAL.terminal == {"paid", "rejected", "failed"}


@pytest.mark.parametrize(
    ("action", "status", "message"),
    [
        ("cancel", "paid", "cannot cancel (ask for a refund instead) an order that is paid"),
        ("ship", "created", "cannot ship an order that is created"),
        ("confirm_receipt", "paid", "cannot confirm receipt of an order that is paid"),
        ("request_refund", "created", "cannot ask for a refund of an order that is created"),
        ("refund", "cancelled", "cannot refund an order that is cancelled"),
        ("start_payment", "paid", "the order is paid: nothing to pay"),
    ],
)
def test_an_order_refusal_says_what_the_service_always_said(
    action: str, status: str, message: str
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        ORDER.check(OrderStatus(status), action, Actor.ADMIN)
    assert str(refused.value) == message
    assert refused.value.field == "status"


def test_the_roles_a_service_requires_come_from_the_table() -> None:
    assert ORDER.roles("cancel") == (Role.CONSUMER, Role.ADMIN)
    assert ORDER.roles("ship") == (Role.MERCHANT, Role.ADMIN)
    assert ORDER.roles("confirm_receipt") == (Role.CONSUMER,)
    assert ORDER.roles("request_refund") == (Role.CONSUMER, Role.ADMIN)
    assert REFUND.roles("approve") == (Role.MERCHANT, Role.ADMIN)
    assert WITHDRAWAL.roles("reject") == (Role.ADMIN,)


def test_a_withdrawal_refusal_names_it() -> None:
    with pytest.raises(TransitionRefused, match=r"^withdrawal wdr_9 is already paid$"):
        WITHDRAWAL.check(WITHDRAWAL.statuses("paid"), "reject", Actor.ADMIN, withdrawal_id="wdr_9")


def test_the_edge_answers_a_refused_move_with_409_conflict() -> None:
    from tokenmall.web.errors import status_of

    refused = TransitionRefused("cannot ship an order that is created", "status")
    assert status_of(refused) == 409
    assert (refused.code, refused.field) == ("conflict", "status")


def test_the_kyc_and_role_tables_are_walked_with_the_others() -> None:
    assert KYC in LIFECYCLES
    assert ROLE in LIFECYCLES
    assert KYC.initial == KycStatus.NONE
    assert ROLE.initial == Role.CONSUMER


@pytest.mark.parametrize("status", list(KycStatus))
@pytest.mark.parametrize("to", list(KycStatus))
def test_an_admin_sets_any_kyc_status_and_a_consumer_only_submits_from_none_or_rejected(
    status: KycStatus, to: KycStatus
) -> None:
    assert kyc_move(status, to, Actor.ADMIN) == to
    for who in Actor:
        if who == Actor.ADMIN:
            continue
        if status == to:
            assert kyc_move(status, to, who) == status  # no move, nothing to refuse
            continue
        if (
            who == Actor.CONSUMER
            and to == KycStatus.PENDING
            and status in (KycStatus.NONE, KycStatus.REJECTED)
        ):
            assert kyc_move(status, to, who) == KycStatus.PENDING
            continue
        with pytest.raises(TransitionRefused) as refused:
            kyc_move(status, to, who)
        assert refused.value.field == "kyc_status"


@pytest.mark.parametrize("status", [KycStatus.PENDING, KycStatus.VERIFIED])
def test_a_consumer_cannot_submit_while_pending_or_verified(status: KycStatus) -> None:
    with pytest.raises(TransitionRefused) as refused:
        KYC.check(status, "submit", Actor.CONSUMER)
    assert refused.value.field == "kyc_status"
    assert str(refused.value) == (
        f"real-name details cannot be submitted while the real-name status is {status}"
    )


def test_the_kyc_walk_submitted_reviewed_resubmitted() -> None:
    """none → pending (the consumer submits) → rejected (an admin reviews) → pending (the
    consumer submits again) → verified; each submission pending → verified or rejected, once."""
    status = KYC.initial
    status = KYC.check(status, "submit", Actor.CONSUMER)
    assert status == KycStatus.PENDING
    assert KYC_REVIEW.check(KYC_REVIEW.initial, "reject", Actor.ADMIN) == SubmissionStatus.REJECTED
    status = KYC.check(status, "reject", Actor.ADMIN)
    status = KYC.check(status, "submit", Actor.CONSUMER)
    assert status == KycStatus.PENDING
    assert KYC_REVIEW.check(KYC_REVIEW.initial, "verify", Actor.ADMIN) == SubmissionStatus.VERIFIED
    assert KYC.check(status, "verify", Actor.ADMIN) == KycStatus.VERIFIED
    assert KYC_REVIEW.terminal == {SubmissionStatus.VERIFIED, SubmissionStatus.REJECTED}
    for done in KYC_REVIEW.terminal:
        for action in ("verify", "reject"):
            with pytest.raises(TransitionRefused) as refused:
                KYC_REVIEW.check(done, action, Actor.ADMIN)
            assert refused.value.field == "submission_id"
    for who in Actor:
        if who != Actor.ADMIN:
            assert not KYC_REVIEW.allows(SubmissionStatus.PENDING, "verify", who)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("to", list(Role))
def test_an_admin_sets_any_role_but_never_demotes_themselves(role: Role, to: Role) -> None:
    assert role_move(role, to, Actor.ADMIN, of_self=False) == to
    if role == Role.ADMIN and to != Role.ADMIN:
        with pytest.raises(SelfDemotion) as refused:
            role_move(role, to, Actor.ADMIN, of_self=True)
        assert (refused.value.code, refused.value.field) == ("forbidden", "role")
        assert str(refused.value) == "an admin may not demote themselves (ask another admin)"
    else:
        assert role_move(role, to, Actor.ADMIN, of_self=True) == to
    if role != to:
        with pytest.raises(TransitionRefused):
            role_move(role, to, Actor.CONSUMER, of_self=False)


def test_only_admins_change_kyc_and_roles() -> None:
    for action in KYC.actions:
        expected = (Role.CONSUMER, Role.ADMIN) if action == "submit" else (Role.ADMIN,)
        assert KYC.roles(action) == expected
    for action in KYC_REVIEW.actions:
        assert KYC_REVIEW.roles(action) == (Role.ADMIN,)
    for action in ROLE.actions:
        assert ROLE.roles(action) == (Role.ADMIN,)


def test_the_self_demotion_refusal_is_a_403() -> None:
    from tokenmall.web.errors import status_of

    assert status_of(SelfDemotion("no", "role")) == 403
