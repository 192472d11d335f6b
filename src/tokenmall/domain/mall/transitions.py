"""Every mall lifecycle as one explicit table: which moves exist and who may make them.

A table maps ``(from status, action)`` to the status the action leads to and the actors
allowed to take it; an action that leaves the status as it is (a guard, such as asking for a
refund of a paid order) maps a status to itself. ``Lifecycle.check`` is the one place a
service asks whether a move is allowed; it raises ``TransitionRefused`` with the lifecycle's
own sentence when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from tokenmall.domain.mall.commissions import CommissionStatus
from tokenmall.domain.mall.errors import SelfDemotion, TransitionRefused
from tokenmall.domain.mall.integration import IntegrationState
from tokenmall.domain.mall.kyc import SubmissionStatus
from tokenmall.domain.mall.orders import OrderStatus
from tokenmall.domain.mall.payments import PaymentStatus
from tokenmall.domain.mall.people import KycStatus, Role
from tokenmall.domain.mall.refunds import RefundStatus
from tokenmall.domain.mall.webhooks import DeliveryStatus
from tokenmall.domain.mall.withdrawals import WithdrawalStatus


class Actor(StrEnum):
    """Who makes a move: a person by role, or the platform itself."""

    CONSUMER = "consumer"
    MERCHANT = "merchant"
    ADMIN = "admin"
    SYSTEM = "system"  # schedules: timeouts, auto-confirmation, the return window
    GATEWAY = "gateway"  # a payment gateway's callback
    INTEGRATION = "integration"  # an integrated shop pushing its orders


S = TypeVar("S", bound=StrEnum)

_ROLES = {Actor.CONSUMER: Role.CONSUMER, Actor.MERCHANT: Role.MERCHANT, Actor.ADMIN: Role.ADMIN}


@dataclass(frozen=True, slots=True)
class Move(Generic[S]):
    to: S
    actors: frozenset[Actor]


def _move(to: S, *actors: Actor) -> Move[S]:
    return Move(to, frozenset(actors))


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """One lifecycle's table, with the sentences its refusals say.

    ``refusals`` maps an action to the sentence of a refused move, formatted with
    ``status`` (the current one) and whatever the caller passes; ``default`` serves the
    actions without their own. ``field`` is the request field a refusal names."""

    name: str
    statuses: type[S]
    initial: S
    moves: Mapping[tuple[S, str], Move[S]]
    default: str
    refusals: Mapping[str, str] = field(default_factory=dict)
    field: str | None = "status"

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(action for _, action in self.moves)

    @property
    def terminal(self) -> frozenset[S]:
        """The statuses no move leaves."""
        return frozenset(self.statuses) - {status for status, _ in self.moves}

    def sources(self, action: str) -> tuple[S, ...]:
        """The statuses ``action`` may start from, in the enum's order."""
        return tuple(s for s in self.statuses if (s, action) in self.moves)

    def actors(self, action: str) -> frozenset[Actor]:
        """Everyone who may take ``action`` from some status."""
        out: set[Actor] = set()
        for (_, act), move in self.moves.items():
            if act == action:
                out |= move.actors
        return frozenset(out)

    def roles(self, action: str) -> tuple[Role, ...]:
        """The people's roles that may take ``action``, in the order of ``Role``."""
        allowed = {_ROLES[a] for a in self.actors(action) if a in _ROLES}
        return tuple(r for r in Role if r in allowed)

    def allows(self, status: S, action: str, actor: Actor) -> bool:
        move = self.moves.get((status, action))
        return move is not None and actor in move.actors

    def check(self, status: S, action: str, actor: Actor, **words: object) -> S:
        """The status ``action`` leads to from ``status``; refused unless the table lists the
        move for ``actor``."""
        if action not in self.actions:
            raise ValueError(f"{self.name} has no action {action!r}")
        move = self.moves.get((status, action))
        if move is None or actor not in move.actors:
            template = self.refusals.get(action, self.default)
            raise TransitionRefused(template.format(status=status, **words), self.field)
        return move.to


def actor_of(role: Role) -> Actor:
    return Actor(str(role))


_O = OrderStatus
_A = Actor
_REFUNDABLE = (_O.PAID, _O.SHIPPED, _O.RECEIVED)

ORDER: Lifecycle[OrderStatus] = Lifecycle(
    name="order",
    statuses=OrderStatus,
    initial=_O.CREATED,
    moves={
        # paid in stable points at checkout, or confirmed by the gateway
        (_O.CREATED, "pay"): _move(_O.PAID, _A.CONSUMER, _A.GATEWAY),
        # a payment may be started only while the order is unpaid
        (_O.CREATED, "start_payment"): _move(_O.CREATED, _A.CONSUMER),
        (_O.CREATED, "cancel"): _move(_O.CANCELLED, _A.CONSUMER, _A.ADMIN, _A.SYSTEM),
        (_O.PAID, "ship"): _move(_O.SHIPPED, _A.MERCHANT, _A.ADMIN),
        # an NFG redemption's order (paid by its token) called off before it ships
        (_O.PAID, "cancel_redemption"): _move(
            _O.CANCELLED, _A.CONSUMER, _A.MERCHANT, _A.ADMIN, _A.SYSTEM
        ),
        (_O.SHIPPED, "confirm_receipt"): _move(_O.RECEIVED, _A.CONSUMER, _A.SYSTEM),
        (_O.RECEIVED, "complete"): _move(_O.COMPLETED, _A.SYSTEM),
        **{(s, "request_refund"): _move(s, _A.CONSUMER, _A.ADMIN) for s in _REFUNDABLE},
        **{(s, "refund"): _move(_O.REFUNDED, _A.MERCHANT, _A.ADMIN) for s in _REFUNDABLE},
    },
    default="cannot {doing} an order that is {status}",
    refusals={
        "start_payment": "the order is {status}: nothing to pay",
        "cancel": "cannot cancel (ask for a refund instead) an order that is {status}",
        "cancel_redemption": "cannot cancel a redemption whose order is {status}",
        "ship": "cannot ship an order that is {status}",
        "confirm_receipt": "cannot confirm receipt of an order that is {status}",
        "request_refund": "cannot ask for a refund of an order that is {status}",
        "refund": "cannot refund an order that is {status}",
        "pay": "cannot pay an order that is {status}",
        "complete": "cannot complete an order that is {status}",
    },
)

_P = PaymentStatus
_PAYERS = (_P.PENDING, _P.FAILED)

PAYMENT: Lifecycle[PaymentStatus] = Lifecycle(
    name="payment",
    statuses=PaymentStatus,
    initial=_P.PENDING,
    moves={
        # a success counts even after a failure, or after the order was cancelled (its money
        # is then sent back)
        **{(s, "succeed"): _move(_P.SUCCEEDED, _A.GATEWAY) for s in (*_PAYERS, _P.CLOSED)},
        **{(s, "fail"): _move(_P.FAILED, _A.GATEWAY) for s in _PAYERS},
        **{(s, "close"): _move(_P.CLOSED, _A.CONSUMER, _A.ADMIN, _A.SYSTEM) for s in _PAYERS},
        (_P.SUCCEEDED, "refund"): _move(_P.REFUNDED, _A.MERCHANT, _A.ADMIN, _A.GATEWAY),
    },
    default="payment already {status}",
    field="order_id",
)

_R = RefundStatus

REFUND: Lifecycle[RefundStatus] = Lifecycle(
    name="refund",
    statuses=RefundStatus,
    initial=_R.REQUESTED,
    moves={
        (_R.REQUESTED, "approve"): _move(_R.SUCCEEDED, _A.MERCHANT, _A.ADMIN),
        (_R.REQUESTED, "reject"): _move(_R.REJECTED, _A.MERCHANT, _A.ADMIN),
        # approved, and the channel answered that it is processing the refund
        (_R.REQUESTED, "submit"): _move(_R.PROCESSING, _A.MERCHANT, _A.ADMIN),
        # approved, and the channel refused it at once (its balance, a closed trade…)
        (_R.REQUESTED, "refused"): _move(_R.FAILED, _A.MERCHANT, _A.ADMIN),
        (_R.PROCESSING, "channel_succeeded"): _move(_R.SUCCEEDED, _A.SYSTEM),
        (_R.PROCESSING, "channel_failed"): _move(_R.FAILED, _A.SYSTEM),
        (_R.FAILED, "retry"): _move(_R.PROCESSING, _A.MERCHANT, _A.ADMIN),
        (_R.FAILED, "abandon"): _move(_R.ABANDONED, _A.ADMIN),
    },
    default="the refund is already {status}",
)

_W = WithdrawalStatus

WITHDRAWAL: Lifecycle[WithdrawalStatus] = Lifecycle(
    name="withdrawal",
    statuses=WithdrawalStatus,
    initial=_W.PENDING,
    moves={
        # one approval of the two a large withdrawal needs: it stays pending
        (_W.PENDING, "approve"): _move(_W.PENDING, _A.ADMIN),
        (_W.PENDING, "pay"): _move(_W.PAID, _A.ADMIN),
        (_W.PENDING, "reject"): _move(_W.REJECTED, _A.ADMIN),
        # the last approval of one paid through a channel: the cash stays held until it answers
        (_W.PENDING, "pay_out"): _move(_W.PAYING, _A.ADMIN),
        (_W.PAYING, "payout_succeeded"): _move(_W.PAID, _A.SYSTEM),
        (_W.PAYING, "payout_failed"): _move(_W.FAILED, _A.SYSTEM),
    },
    default="withdrawal {withdrawal_id} is already {status}",
    field=None,
)

_C = CommissionStatus

COMMISSION: Lifecycle[CommissionStatus] = Lifecycle(
    name="commission",
    statuses=CommissionStatus,
    initial=_C.FROZEN,
    moves={
        (_C.FROZEN, "release"): _move(_C.RELEASED, _A.SYSTEM, _A.INTEGRATION),
        (_C.FROZEN, "claw_back"): _move(_C.CLAWED_BACK, _A.SYSTEM, _A.INTEGRATION),
        (_C.RELEASED, "claw_back"): _move(_C.CLAWED_BACK, _A.SYSTEM, _A.INTEGRATION),
    },
    default="the commission is already {status}",
)

_D = DeliveryStatus

DELIVERY: Lifecycle[DeliveryStatus] = Lifecycle(
    name="webhook delivery",
    statuses=DeliveryStatus,
    initial=_D.PENDING,
    moves={
        (_D.PENDING, "deliver"): _move(_D.DELIVERED, _A.SYSTEM),
        # a failed attempt with attempts left stays pending; the last one fails it
        (_D.PENDING, "retry_later"): _move(_D.PENDING, _A.SYSTEM),
        (_D.PENDING, "give_up"): _move(_D.FAILED, _A.SYSTEM),
        # an admin may send any delivery again, with a fresh budget of attempts
        **{(s, "redeliver"): _move(_D.PENDING, _A.ADMIN) for s in DeliveryStatus},
    },
    default="the delivery is {status}",
)

_I = IntegrationState

INTEGRATION_ORDER: Lifecycle[IntegrationState] = Lifecycle(
    name="integration order",
    statuses=IntegrationState,
    initial=_I.PAID,
    moves={
        (_I.PAID, "complete"): _move(_I.COMPLETED, _A.INTEGRATION),
        (_I.PAID, "refund"): _move(_I.REFUNDED, _A.INTEGRATION),
        (_I.COMPLETED, "refund"): _move(_I.REFUNDED, _A.INTEGRATION),
    },
    default="order {external_order_id!r} was {status}; it cannot {doing}",
    field=None,
)

_K = KycStatus

# An admin records a member's real-name verification as it stands (asked for, verified,
# rejected, or back to none); a move to the status a member already has is no move. A
# consumer submits their own real name and identity number when they have none or theirs was
# rejected (never while one waits for review or once verified); an admin's review of that
# submission verifies or rejects them (``KYC_REVIEW``).
KYC_ACTIONS: Mapping[KycStatus, str] = {
    _K.NONE: "reset",
    _K.PENDING: "submit",
    _K.VERIFIED: "verify",
    _K.REJECTED: "reject",
}
_SUBMITTERS = (_K.NONE, _K.REJECTED)

KYC: Lifecycle[KycStatus] = Lifecycle(
    name="kyc",
    statuses=KycStatus,
    initial=_K.NONE,
    moves={
        (source, action): _move(
            to,
            _A.ADMIN,
            *((_A.CONSUMER,) if action == "submit" and source in _SUBMITTERS else ()),
        )
        for to, action in KYC_ACTIONS.items()
        for source in KycStatus
        if source != to
    },
    default="cannot {doing} a member whose real-name status is {status}",
    refusals={
        "submit": "real-name details cannot be submitted while the real-name status is {status}",
    },
    field="kyc_status",
)

_KS = SubmissionStatus

# A submission waits for an admin's review: verified or rejected (with a reason), once.
KYC_REVIEW: Lifecycle[SubmissionStatus] = Lifecycle(
    name="kyc submission",
    statuses=SubmissionStatus,
    initial=_KS.PENDING,
    moves={
        (_KS.PENDING, "verify"): _move(_KS.VERIFIED, _A.ADMIN),
        (_KS.PENDING, "reject"): _move(_KS.REJECTED, _A.ADMIN),
    },
    default="the submission is already {status}",
    field="submission_id",
)

_U = Role

# Everyone registers as a consumer; an admin makes people merchants or admins (or back). An
# admin never demotes themselves: ``may_change_role`` (another admin must).
ROLE_ACTIONS: Mapping[Role, str] = {
    _U.CONSUMER: "make_consumer",
    _U.MERCHANT: "make_merchant",
    _U.ADMIN: "make_admin",
}

ROLE: Lifecycle[Role] = Lifecycle(
    name="role",
    statuses=Role,
    initial=_U.CONSUMER,
    moves={
        (source, action): _move(to, _A.ADMIN)
        for to, action in ROLE_ACTIONS.items()
        for source in Role
        if source != to
    },
    default="cannot {doing} someone who is {status}",
    field="role",
)


def kyc_move(status: KycStatus, to: KycStatus, actor: Actor) -> KycStatus:
    """The real-name status after ``actor`` sets it to ``to`` (the same status: no move)."""
    if to == status:
        return status
    return KYC.check(status, KYC_ACTIONS[to], actor, doing=KYC_ACTIONS[to])


def role_move(role: Role, to: Role, actor: Actor, *, of_self: bool) -> Role:
    """The role after ``actor`` sets it to ``to`` (the same role: no move). An admin may not
    demote themselves."""
    if to == role:
        return role
    if of_self and role == Role.ADMIN:
        raise SelfDemotion("an admin may not demote themselves (ask another admin)", "role")
    return ROLE.check(role, ROLE_ACTIONS[to], actor, doing=ROLE_ACTIONS[to].replace("_", " "))


LIFECYCLES: tuple[Lifecycle[Any], ...] = (
    ORDER,
    PAYMENT,
    REFUND,
    WITHDRAWAL,
    COMMISSION,
    DELIVERY,
    INTEGRATION_ORDER,
    KYC,
    KYC_REVIEW,
    ROLE,
)
