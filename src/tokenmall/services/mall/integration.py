"""The integration API: an existing shop pushes its orders' events.

The shop keeps its own order and user ids. Each event — ``paid``, ``completed``, ``refunded``
— is idempotent by (tenant, external order id, event): the first answer is stored in the same
transaction as the change (``mall_integration_events``), an identical push answers it again
and changes nothing, and a push of the same event with a different body is a conflict (409).
Events out of order (completed or refunded before paid) are refused with 409.

Money goes through ``order_ledger`` only (payment into escrow, rewards at the tenant's
``grant_on``, completion, refund), inside the request's one transaction, so an order's row,
its journals, its stored answer and its outgoing events commit together or not at all.

A first-seen external user becomes a consumer of the tenant with no usable password (the
shop's users never log in here; an admin can look them up), and ``referrer_external_id``
binds the referrer once through the ledger's ``Join`` (a rebinding is the ledger's refusal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import integration as repo
from tokenmall.adapters.db.mall.tables import users as mall_users
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.integration import ExternalUser, IntegrationOrder, IntegrationState
from tokenmall.domain.mall.people import Role, Scope
from tokenmall.domain.money import format_money
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import events, ids, order_ledger, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput

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
    conn: Connection, tenant_id: str, external_order_id: str, event: str, request_hash: str
) -> Answer | None:
    found = repo.find_event(conn, tenant_id, external_order_id, event)
    if found is None:
        return None
    stored_hash, status, body = found
    if stored_hash != request_hash:
        raise Conflict(
            f"order {external_order_id!r} was already reported {event} with a different "
            "request; an event is recorded once",
        )
    return Answer(status, body, True)


def store_answer(
    conn: Connection,
    order: IntegrationOrder,
    event: str,
    request_hash: str,
    now: datetime,
    status: int = 200,
) -> Answer:
    body = json.dumps(order_view(order, event), ensure_ascii=False)
    # ``repo.add_event``'s row, on the fast insert path (it may be in a write pipeline).
    fast.insert_dicts(
        conn,
        repo.integration_events,
        [
            {
                "tenant_id": order.tenant_id,
                "external_order_id": order.external_order_id,
                "event": event,
                "request_hash": request_hash,
                "status_code": status,
                "response_body": body,
                "created_at": now,
            }
        ],
    )
    return Answer(status, body, False)


def order_view(order: IntegrationOrder, event: str | None) -> dict[str, Any]:
    """The JSON shape of an integrated order (``IntegrationOrderOut`` in the API)."""
    return {
        "external_order_id": order.external_order_id,
        "order_ref": order.order_ref,
        "event": event,
        "state": order.state,
        "user": {"external_id": order.external_user_id, "user_id": order.user_id},
        "amount": format_money(order.amount_fen),
        "contribution": None
        if order.contribution_fen is None
        else format_money(order.contribution_fen),
        "refunded": format_money(order.refunded_fen),
        "rewards_booked": order.booked,
        "rewards": order.rewards,
        "paid_at": order.paid_at.isoformat(),
        "booked_at": None if order.booked_at is None else order.booked_at.isoformat(),
        "completed_at": None if order.completed_at is None else order.completed_at.isoformat(),
        "refunded_at": None if order.refunded_at is None else order.refunded_at.isoformat(),
    }


# -- users ------------------------------------------------------------------------------------


def _user_row(
    tenant_id: str, user_id: str, display_name: str, inviter_id: str | None, now: datetime
) -> dict[str, Any]:
    """A shop's user as a row of ``mall_users`` (what ``people_repo.add_user`` writes)."""
    return {
        "tenant_id": tenant_id,
        "user_id": user_id,
        # Unique and undeliverable (RFC 2606 ``.invalid``): the shop's users have no login.
        "email": f"{user_id}@external.invalid",
        "display_name": display_name,
        "password_hash": NO_PASSWORD,
        "role": "consumer",
        "kyc_status": "none",
        "invite_code": ids.new_invite_code(),
        "inviter_id": inviter_id,
        "created_at": now,
    }


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
    conn: Connection, tenant_id: str, who: ExternalUserIn, users: Users, now: datetime
) -> None:
    """Insert the first-seen users and bind the referrer's row (writes only). A first-seen
    buyer's row carries its referrer; a known buyer's row is updated."""
    binds = users.referrer_id if users.join is not None else None
    fast.insert_dicts(
        conn,
        mall_users,
        [
            _user_row(tenant_id, user_id, name, inviter, now)
            for user_id, _, name, inviter in users.new
        ],
    )
    fast.insert_dicts(
        conn,
        repo.external_users,
        [
            {
                "tenant_id": tenant_id,
                "external_id": external,
                "user_id": user_id,
                "referrer_user_id": binds if user_id == users.buyer_id else None,
                "created_at": now,
            }
            for user_id, external, _, _ in users.new
        ],
    )
    if binds is not None and all(user_id != users.buyer_id for user_id, *_ in users.new):
        match = {"external_id": who.external_id, "referrer_user_id": None}
        if not fast.update_held(conn, repo.external_users, match, {"referrer_user_id": binds}):
            repo.set_referrer(conn, tenant_id, who.external_id, binds)


def _order_row(order: IntegrationOrder) -> dict[str, Any]:
    """The order as a row of ``mall_integration_orders`` (what ``repo.add_order`` writes)."""
    return {
        "tenant_id": order.tenant_id,
        "external_order_id": order.external_order_id,
        "order_ref": order.order_ref,
        "user_id": order.user_id,
        "external_user_id": order.external_user_id,
        "amount_fen": order.amount_fen,
        "contribution_fen": order.contribution_fen,
        "state": order.state,
        "booked": int(order.booked),
        "refunded_fen": order.refunded_fen,
        "rewards": None if order.rewards is None else json.dumps(order.rewards),
        "paid_at": order.paid_at,
        "booked_at": order.booked_at,
        "completed_at": order.completed_at,
        "refunded_at": order.refunded_at,
    }


def _rewards(
    conn: Connection, tenant_id: str, purchase: dict[str, Any], known: dict[str, str]
) -> dict[str, Any]:
    """The purchase journal's result, with each grant's holder as user id and external id
    (``known`` maps user ids to external ids already at hand; the others are looked up)."""
    holders = [g["holder"] for g in purchase.get("grants", [])]
    external = dict(known)
    if any(h not in external for h in holders):
        rows = conn.execute(
            select(repo.external_users.c.user_id, repo.external_users.c.external_id).where(
                repo.external_users.c.tenant_id == tenant_id,
                repo.external_users.c.user_id.in_(holders),
            )
        )
        external.update({row[0]: row[1] for row in rows})
    grants = [
        {
            "user_id": g["holder"],
            "external_id": external.get(g["holder"]),
            "level": g["level"],
            "points": g["points"],
        }
        for g in purchase.get("grants", [])
    ]
    return {
        "points_granted": grants,
        "buyer_points": next((g["points"] for g in grants if g["level"] == 0), "0.00000000"),
        "price": purchase["price"],
        "quota_added": purchase["quota_added"],
        "pool_contribution": purchase["contribution"],
        "dividend_contribution": purchase["dividend"],
        "revenue": purchase["revenue"],
    }


def book(
    conn: Connection,
    order: IntegrationOrder,
    now: datetime,
    known: dict[str, str] | None = None,
) -> dict[str, Any]:
    purchase = order_ledger.book_rewards(
        conn,
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_ref,
        amount_fen=order.amount_fen,
        contribution_fen=order.contribution_fen,
        now=now,
    )
    return _rewards(
        conn, order.tenant_id, purchase, known or {order.user_id: order.external_user_id}
    )


def event_data(order: IntegrationOrder) -> dict[str, Any]:
    view = order_view(order, None)
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

    @property
    def tenant_id(self) -> str:
        return self.order.tenant_id


def paid(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    user: ExternalUserIn,
    amount: str,
    contribution: str | None,
    request_hash: str,
    now: datetime,
    finish: Callable[[Answer], None] | None = None,
) -> Answer:
    """The ``paid`` event in the caller's transaction. ``finish`` (the route's: store the
    answer under the Idempotency-Key) is called with the new answer among the order's last
    writes; not for a replayed event."""
    prepared = prepare_paid(
        conn,
        caller,
        tenant_id,
        external_order_id,
        user=user,
        amount=amount,
        contribution=contribution,
        request_hash=request_hash,
        now=now,
    )
    if isinstance(prepared, Answer):
        return prepared
    return write_paid(conn, prepared, finish=finish)


def prepare_paid(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    user: ExternalUserIn,
    amount: str,
    contribution: str | None,
    request_hash: str,
    now: datetime,
) -> Answer | PaidEvent:
    """Everything of ``paid`` that only reads: the caller's role, the input, a stored answer
    to replay (returned as the ``Answer``), the shop's users, the order's ledger keys."""
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    external_id(external_order_id, "external_order_id")
    # The order's journal keys are read BEFORE its stored answer: both commit together, so if
    # a racing push committed between the two reads (each statement sees what is committed
    # when it starts), the answer is found and replayed, never the journals alone.
    keys = order_ledger.order_keys(order_ref(external_order_id))
    looked_up = ledger.look_up(Store(conn.engine), conn, tenant_id, keys)
    first = replay(conn, tenant_id, external_order_id, "paid", request_hash)
    if first is not None:
        return first
    # (No stored "paid" answer means no such order: both are written in one transaction.)
    amount_fen, contribution_fen, who = checked_paid(user, amount, contribution)
    order = new_order(tenant_id, external_order_id, who, amount_fen, contribution_fen, now)
    wanted = [who.external_id]
    if who.referrer_external_id is not None:
        wanted.append(who.referrer_external_id)
    known = repo.external_users_by_id(conn, tenant_id, wanted)
    return PaidEvent(order, who, known, request_hash, looked_up)


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
    conn: Connection,
    event: PaidEvent,
    *,
    finish: Callable[[Answer], None] | None = None,
    book: TenantBook | None = None,
    writes: order_ledger.Writes | None = None,
    users: Users | None = None,
    externals: dict[str, str] | None = None,
) -> Answer:
    """Write a prepared ``paid`` event: first-seen users, the referrer's binding (``Join``),
    the payment and (``grant_on = paid``) the rewards, the order, its events and its stored
    answer — all of the writes together at the end (``order_ledger.pay_and_book``).

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
    answers: list[Answer] = []

    def then(done: order_ledger.Paid) -> Callable[[], None]:
        final = order
        if done.purchase is not None:
            rewards = _rewards(conn, tenant_id, done.purchase, known)  # may read: not in write
            final = with_values(final, booked=True, rewards=rewards, booked_at=now)

        def write() -> None:
            fast.insert_dicts(conn, repo.integration_orders, [_order_row(final)])
            events.emit(conn, tenant_id, "order.paid", event_data(final), now)
            answer = store_answer(conn, final, "paid", event.request_hash, now, status=201)
            if finish is not None:
                finish(answer)
            answers.append(answer)

        return write

    order_ledger.pay_and_book(
        conn,
        tenant_id,
        user=users.buyer_id,
        order_ref=order.order_ref,
        amount_fen=order.amount_fen,
        contribution_fen=order.contribution_fen,
        now=now,
        before=[] if users.join is None else [users.join],
        first=lambda: _write_users(conn, tenant_id, who, users, now),
        then=then,
        looked_up=event.looked_up,
        book=book,
        writes=writes,
        new_holders=[user_id for user_id, _, _, _ in users.new],  # fresh ids: no holder yet
    )
    return answers[0]


def with_values(order: IntegrationOrder, **values: Any) -> IntegrationOrder:
    from dataclasses import replace

    return replace(order, **values)
