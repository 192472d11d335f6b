"""The NFG lifecycles as transition tables (the mall's ``Lifecycle``): tokens, reservations,
collections. ``TOKEN`` follows nfg.md: ``held → listed | locked → held``, ``held → redeeming →
redeemed`` (burned on delivery), ``held → burned``; a transfer keeps a token held (its owner
changes). A refused move names the ``token_locked`` situation in its sentence."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from tokenmall.domain.mall.transitions import Actor, Lifecycle, Move
from tokenmall.domain.nfg.records import CollectionStatus, ReservationStatus, TokenState

S = TypeVar("S", bound=StrEnum)


def _move(to: S, *actors: Actor) -> Move[S]:
    return Move(to, frozenset(actors))


_T = TokenState
_A = Actor
_R = ReservationStatus
_C = CollectionStatus

TOKEN: Lifecycle[TokenState] = Lifecycle(
    name="token",
    statuses=TokenState,
    initial=_T.HELD,
    moves={
        (_T.HELD, "transfer"): _move(_T.HELD, _A.CONSUMER, _A.MERCHANT, _A.ADMIN),
        (_T.HELD, "list"): _move(_T.LISTED, _A.CONSUMER, _A.MERCHANT),
        (_T.LISTED, "delist"): _move(_T.HELD, _A.CONSUMER, _A.MERCHANT, _A.ADMIN, _A.SYSTEM),
        (_T.LISTED, "sell"): _move(_T.HELD, _A.SYSTEM),
        (_T.HELD, "lock"): _move(_T.LOCKED, _A.ADMIN, _A.SYSTEM),
        (_T.LOCKED, "unlock"): _move(_T.HELD, _A.ADMIN, _A.SYSTEM),
        (_T.HELD, "redeem"): _move(_T.REDEEMING, _A.CONSUMER, _A.MERCHANT),
        (_T.REDEEMING, "cancel_redemption"): _move(
            _T.HELD, _A.CONSUMER, _A.MERCHANT, _A.ADMIN, _A.SYSTEM
        ),
        (_T.REDEEMING, "deliver"): _move(_T.REDEEMED, _A.MERCHANT, _A.ADMIN, _A.SYSTEM),
        (_T.HELD, "burn"): _move(_T.BURNED, _A.ADMIN, _A.MERCHANT),
        (_T.HELD, "use_right"): _move(_T.HELD, _A.MERCHANT, _A.ADMIN),
    },
    default="token_locked: the token is {status} and cannot be used to {doing}",
    refusals={
        "transfer": "token_locked: a token that is {status} cannot be given",
        "redeem": "token_locked: a token that is {status} cannot be redeemed",
        "list": "token_locked: a token that is {status} cannot be listed",
        "burn": "token_locked: a token that is {status} cannot be burned",
        "use_right": "token_locked: the rights of a token that is {status} cannot be used",
    },
    field="token",
)

RESERVATION: Lifecycle[ReservationStatus] = Lifecycle(
    name="reservation",
    statuses=ReservationStatus,
    initial=_R.RESERVED,
    moves={
        (_R.RESERVED, "assign"): _move(_R.ASSIGNED, _A.GATEWAY, _A.CONSUMER, _A.SYSTEM),
        (_R.RESERVED, "expire"): _move(_R.EXPIRED, _A.SYSTEM, _A.CONSUMER),
        (_R.EXPIRED, "refund"): _move(_R.REFUNDED, _A.GATEWAY, _A.SYSTEM),
    },
    default="the reservation is {status}: cannot {doing}",
    field="reservation_id",
)

COLLECTION: Lifecycle[CollectionStatus] = Lifecycle(
    name="collection",
    statuses=CollectionStatus,
    initial=_C.DRAFT,
    moves={
        (_C.DRAFT, "edit"): _move(_C.DRAFT, _A.ADMIN, _A.MERCHANT),
        (_C.DRAFT, "publish"): _move(_C.PUBLISHED, _A.ADMIN),
        (_C.PUBLISHED, "close"): _move(_C.CLOSED, _A.ADMIN, _A.SYSTEM),
    },
    default="the collection is {status}: cannot {doing}",
    field="status",
)

NFG_LIFECYCLES: tuple[Lifecycle[Any], ...] = (TOKEN, RESERVATION, COLLECTION)
