"""The integration API: an existing shop pushes its orders' events.

The shop keeps its own order and user ids. Each event — ``paid``, ``completed``, ``refunded``
— is idempotent by (tenant, external order id, event): the first answer is stored in the same
transaction as the change (``mall_integration_events``), an identical push answers it again
and changes nothing, and a push of the same event with a different body is a conflict (409).
Events out of order (completed or refunded before paid) are refused with 409.

Each use case takes a ``UnitOfWork`` (``services/unit_of_work.py``) and works through its
ports only: money through ``uow.ledger`` (payment into escrow, rewards at the tenant's
``grant_on``, completion, refund; typed ``Purchased`` results in integers), rows through
``uow.integration``, outgoing events through ``uow.outbox``, and ``uow.answer`` for the
Idempotency-Key's answer. The unit commits whole or rolls back whole, so an order's row, its
journals, its stored answers and its outgoing events commit together or not at all.

A first-seen external user becomes a consumer of the tenant with no usable password (the
shop's users never log in here; an admin can look them up), and ``referrer_external_id``
binds the referrer once through the ledger's ``Join`` (a rebinding is the ledger's refusal).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from tokenmall.adapters.db.uow import NewUser, StoredEvent
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.results import Purchased
from tokenmall.domain.mall.integration import ExternalUser, IntegrationOrder, IntegrationState
from tokenmall.domain.mall.people import Role, Scope
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall import ids, order_ledger, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.unit_of_work import UnitOfWork

ADMIN: tuple[Role, ...] = (Role.ADMIN,)
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")
# Argon2 never produces this, so no password ever verifies against it.
NO_PASSWORD = "!no-password:external-user"


@dataclass(frozen=True, slots=True)
class ExternalUserIn:
    external_id: str
    display_name: str
    referrer_external_id: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What an event answers: a status and the JSON body (also what a replay answers)."""

    status: int
    body: str
    replayed: bool


def external_id(value: str, field: str) -> str:
    if not EXTERNAL_ID.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters of A-Z, a-z, 0-9 and . _ : @ -, "
            "starting with a letter or digit",
            field,
        )
    return value


def order_ref(external_order_id: str) -> str:
    """The ledger's order reference of an integrated order (tenant-unique, apart from the
    mall's own orders, whose references never start with ``ext:``)."""
    return f"ext:{external_order_id}"


def replay(
    uow: UnitOfWork, tenant_id: str, external_order_id: str, event: str, request_hash: str
) -> Answer | None:
    found = uow.integration.find_event(tenant_id, external_order_id, event)
    if found is None:
        return None
    if found.request_hash != request_hash:
        raise Conflict(
            f"order {external_order_id!r} was already reported {event} with a different "
            "request; an event is recorded once",
        )
    return Answer(found.status, found.body, True)


class OrderViews(Protocol):
    """How an integrated order is shown: the edge's format (``IntegrationViews`` in
    ``web/api/schemas_integration.py``), handed to the use cases, which store its text (the
    answer a pushed-again event replays) and send it (the outgoing events)."""

    def order(self, order: IntegrationOrder, event: str | None) -> dict[str, Any]:
        """The order as JSON (``IntegrationOrderOut``)."""

    def rewards(self, purchase: Purchased, external_ids: dict[str, str]) -> dict[str, Any]:
        """A booking's rewards as the order shows them (``RewardsOut``); ``external_ids``:
        the shop's id of each holder known."""


def store_answer(
    uow: UnitOfWork,
    views: OrderViews,
    order: IntegrationOrder,
    event: str,
    request_hash: str,
    now: datetime,
    status: int = 200,
) -> Answer:
    """Store the order's answer to ``event`` (what a pushed-again event answers)."""
    body = json.dumps(views.order(order, event), ensure_ascii=False)
    uow.integration.add_event(order, event, StoredEvent(request_hash, status, body), now)
    return Answer(status, body, False)


# -- users ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Users:
    """The buyer and referrer of a ``paid`` event: ids (new ones made up here), the rows to
    insert, and the ``Join`` that binds the referrer (None if bound already or no referrer)."""

    buyer_id: str
    referrer_id: str | None
    new: list[tuple[str, str, str, str | None]]  # (user id, external id, name, inviter id)
    join: c.Join | None


def plan_users(tenant_id: str, who: ExternalUserIn, known: dict[str, ExternalUser]) -> Users:
    """Who buys: known external users keep their ids; first-seen ones get new ids. Reads
    nothing (``known`` was read before)."""
    new: list[tuple[str, str, str, str | None]] = []
    referrer_id: str | None = None
    if who.referrer_external_id is not None:
        found = known.get(who.referrer_external_id)
        if found is None:
            referrer_id = ids.new_id("usr")
            new.append((referrer_id, who.referrer_external_id, who.referrer_external_id, None))
        else:
            referrer_id = found.user_id
    buyer = known.get(who.external_id)
    if buyer is None:
        buyer_id = ids.new_id("usr")
        new.append((buyer_id, who.external_id, who.display_name, referrer_id))
        bound = None
    else:
        buyer_id, bound = buyer.user_id, buyer.referrer_user_id
    join = None
    if referrer_id is not None and bound != referrer_id:
        # The ledger binds once and refuses a different referrer (RuleViolation → 409).
        join = c.Join(
            tenant_id=tenant_id,
            idempotency_key=f"join:{buyer_id}:{referrer_id}",
            user=buyer_id,
            referrer=referrer_id,
        )
    return Users(buyer_id, referrer_id, new, join)


def _write_users(
    uow: UnitOfWork, tenant_id: str, who: ExternalUserIn, users: Users, now: datetime
) -> None:
    """Insert the first-seen users and bind the referrer (writes only). A first-seen buyer
    carries its referrer; a known buyer's binding is updated."""
    binds = users.referrer_id if users.join is not None else None
    uow.integration.add_users(
        tenant_id,
        [
            NewUser(
                user_id=user_id,
                external_id=external,
                display_name=name,
                # Unique and undeliverable (RFC 2606 ``.invalid``): no login for these users.
                email=f"{user_id}@external.invalid",
                password_hash=NO_PASSWORD,
                invite_code=ids.new_invite_code(),
                inviter_id=inviter,
                referrer_user_id=binds if user_id == users.buyer_id else None,
            )
            for user_id, external, name, inviter in users.new
        ],
        now,
    )
    if binds is not None and all(user_id != users.buyer_id for user_id, *_ in users.new):
        uow.integration.bind_referrer(tenant_id, who.external_id, binds)


def _rewards(
    uow: UnitOfWork,
    views: OrderViews,
    tenant_id: str,
    purchase: Purchased,
    known: dict[str, str],
) -> dict[str, Any]:
    """The rewards shown on the order: the purchase with each grant's holder as user id and
    external id (``known`` maps user ids to external ids already at hand; the others are
    looked up)."""
    external = dict(known)
    missing = [g.holder for g in purchase.grants if g.holder not in external]
    if missing:
        external.update(uow.integration.external_ids(tenant_id, missing))
    return views.rewards(purchase, external)


def book(
    uow: UnitOfWork,
    views: OrderViews,
    order: IntegrationOrder,
    now: datetime,
    known: dict[str, str] | None = None,
) -> dict[str, Any]:
    purchase = uow.ledger.book_rewards(
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_ref,
        amount_fen=order.amount_fen,
        contribution_fen=order.contribution_fen,
        now=now,
    )
    external = known or {order.user_id: order.external_user_id}
    return _rewards(uow, views, order.tenant_id, purchase, external)


def event_data(views: OrderViews, order: IntegrationOrder) -> dict[str, Any]:
    """The order as its outgoing events carry it (its view without ``event``)."""
    view = views.order(order, None)
    view.pop("event")
    return view


# -- the events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaidEvent:
    """A ``paid`` event checked and read (``prepare_paid``, or many at once:
    ``integration_batch.read_events``), ready to be written (``write_paid``) — in the
    request's transaction, or in a unit of the tenant's writer."""

    order: IntegrationOrder  # its user_id is set when written
    who: ExternalUserIn
    known: dict[str, ExternalUser]
    request_hash: str
    looked_up: ledger.Prefound
    views: OrderViews

    @property
    def tenant_id(self) -> str:
        return self.order.tenant_id


def paid(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    user: ExternalUserIn,
    amount: str,
    contribution: str | None,
    request_hash: str,
    now: datetime,
    views: OrderViews,
) -> Answer:
    """The ``paid`` event in the unit of work; the new answer is also the unit's answer
    (stored under its Idempotency-Key among the order's last writes)."""
    prepared = prepare_paid(
        uow,
        caller,
        tenant_id,
        external_order_id,
        user=user,
        amount=amount,
        contribution=contribution,
        request_hash=request_hash,
        now=now,
        views=views,
    )
    if isinstance(prepared, Answer):
        return prepared
    return write_paid(uow, prepared)


def prepare_paid(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    user: ExternalUserIn,
    amount: str,
    contribution: str | None,
    request_hash: str,
    now: datetime,
    views: OrderViews,
) -> Answer | PaidEvent:
    """Everything of ``paid`` that only reads: the caller's role, the input, a stored answer
    to replay (returned as the ``Answer``), the shop's users, the order's ledger keys."""
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    external_id(external_order_id, "external_order_id")
    # The order's journal keys are read BEFORE its stored answer: both commit together, so if
    # a racing push committed between the two reads (each statement sees what is committed
    # when it starts), the answer is found and replayed, never the journals alone.
    keys = order_ledger.order_keys(order_ref(external_order_id))
    looked_up = uow.ledger.look_up(tenant_id, keys)
    first = replay(uow, tenant_id, external_order_id, "paid", request_hash)
    if first is not None:
        return first
    # (No stored "paid" answer means no such order: both are written in one transaction.)
    amount_fen, contribution_fen, who = checked_paid(user, amount, contribution)
    order = new_order(tenant_id, external_order_id, who, amount_fen, contribution_fen, now)
    wanted = [who.external_id]
    if who.referrer_external_id is not None:
        wanted.append(who.referrer_external_id)
    known = uow.integration.external_users(tenant_id, wanted)
    return PaidEvent(order, who, known, request_hash, looked_up, views)


def checked_paid(
    user: ExternalUserIn, amount: str, contribution: str | None, prefix: str = ""
) -> tuple[int, int | None, ExternalUserIn]:
    """A ``paid`` event's input checked: (amount, contribution, the user with the display name
    defaulted). ``prefix`` names the event's place in a batch (``orders.3.``) in errors."""
    amount_fen = validate.money(amount, f"{prefix}amount")
    contribution_fen = None
    if contribution is not None:
        contribution_fen = validate.money(contribution, f"{prefix}contribution", allow_zero=True)
        if contribution_fen > amount_fen:
            raise InvalidInput("contribution must not exceed the amount", f"{prefix}contribution")
    external_id(user.external_id, f"{prefix}user.external_id")
    name = validate.text(
        user.display_name or user.external_id, f"{prefix}user.display_name", max_length=100
    )
    if user.referrer_external_id is not None:
        external_id(user.referrer_external_id, f"{prefix}user.referrer_external_id")
        if user.referrer_external_id == user.external_id:
            raise InvalidInput(
                "a user cannot refer themselves", f"{prefix}user.referrer_external_id"
            )
    return (
        amount_fen,
        contribution_fen,
        ExternalUserIn(user.external_id, name, user.referrer_external_id),
    )


def new_order(
    tenant_id: str,
    external_order_id: str,
    who: ExternalUserIn,
    amount_fen: int,
    contribution_fen: int | None,
    now: datetime,
) -> IntegrationOrder:
    """A ``paid`` order before it is written (its ``user_id`` is set then)."""
    return IntegrationOrder(
        tenant_id=tenant_id,
        external_order_id=external_order_id,
        order_ref=order_ref(external_order_id),
        user_id="",
        external_user_id=who.external_id,
        amount_fen=amount_fen,
        contribution_fen=contribution_fen,
        state=IntegrationState.PAID,
        booked=False,
        refunded_fen=0,
        rewards=None,
        paid_at=now,
        booked_at=None,
        completed_at=None,
        refunded_at=None,
    )


def write_paid(
    uow: UnitOfWork,
    event: PaidEvent,
    *,
    users: Users | None = None,
    externals: dict[str, str] | None = None,
) -> Answer:
    """Write a prepared ``paid`` event: first-seen users, the referrer's binding (``Join``),
    the payment and (``grant_on = paid``) the rewards, the order, its events and its stored
    answer. What reads comes first; the writes go last, together (``uow.writing()``).

    Two identical pushes at once: the second's journal keys (looked up before the lock), its
    users' or its order's keys are taken by the first; its write fails on a unique key and
    the route reads again, answering the first one's stored result.

    ``users``: planned by the caller (a batch, whose events share users); ``externals``: user
    id → the shop's id of users not in the database yet (a batch's), for the rewards."""
    tenant_id, who, now = event.tenant_id, event.who, event.order.paid_at
    if users is None:
        users = plan_users(tenant_id, who, event.known)
    order = with_values(event.order, user_id=users.buyer_id)
    known = dict(externals or {})
    known[users.buyer_id] = who.external_id
    if users.referrer_id is not None and who.referrer_external_id is not None:
        known[users.referrer_id] = who.referrer_external_id
    done = uow.ledger.pay_and_book(
        tenant_id,
        user=users.buyer_id,
        order_ref=order.order_ref,
        amount_fen=order.amount_fen,
        contribution_fen=order.contribution_fen,
        before=[] if users.join is None else [users.join],
        looked_up=event.looked_up,
        new_holders=[user_id for user_id, _, _, _ in users.new],  # fresh ids: no holder yet
        now=now,
    )
    if done.purchase is not None:
        rewards = _rewards(uow, event.views, tenant_id, done.purchase, known)  # may read
        order = with_values(order, booked=True, rewards=rewards, booked_at=now)
    with uow.writing():
        _write_users(uow, tenant_id, who, users, now)
        uow.ledger.write_paid()
        uow.integration.add_order(order)
        uow.outbox.emit(tenant_id, "order.paid", event_data(event.views, order), now)
        answer = store_answer(uow, event.views, order, "paid", event.request_hash, now, status=201)
        uow.answer(answer.status, answer.body)
    return answer


def with_values(order: IntegrationOrder, **values: Any) -> IntegrationOrder:
    return replace(order, **values)
