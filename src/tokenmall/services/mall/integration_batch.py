"""Many ``paid`` events in one request: the integration API's batch.

A shop that pushes thousands of orders a second cannot afford a request, an authentication,
a set of look-ups and a commit for each. A batch carries up to ``MAX_ORDERS`` paid events; each
is exactly the single ``paid`` event (``integration.py``): the same checks, the same
idempotency by (order, event) — an order pushed alone and then in a batch, or the other way
round, answers its first result — the same journals, rows and outgoing events.

How it runs:

1. Every event's input is checked before anything is read (a bad one refuses the whole request
   with 422 naming ``orders.<i>.<field>``, and nothing changes); ids must be unique in the batch.
2. One read-only transaction reads, for all events at once: the orders' ledger keys, their
   stored ``paid`` answers (an identical event is answered as replayed; a different one is a
   409 for that event alone) and the shop's users.
3. The rest run as ONE unit of the tenant's writer (``services/writers/units.py``): in the
   writer's batch transaction, under one savepoint, in one PostgreSQL pipeline, the events
   in their order (a user first seen in event 2 is known to event 5), then the batch's answer
   stored under the request's Idempotency-Key. So a batch commits whole: every event of it and
   its stored answer, or nothing.
4. An event the ledger refuses (say, a referrer bound differently before) rolls the unit back;
   that event is answered with its error and the batch runs again without it. A unique key
   taken by a racing request (the same order pushed elsewhere at once) fails the unit; the
   route reads again once, which finds the racing push's answers and replays them.

The answer is 200 with one result per event, in the request's order: ``status`` 201 (written
now), 200 (``replayed``: the first answer to the same event) or the error's status with its
error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import integration as repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.uow import insert_answer
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.integration import ExternalUser
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook, book_of
from tokenmall.services.mall import idempotency, order_ledger
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.mall.integration import (
    ADMIN,
    Answer,
    ExternalUserIn,
    OrderViews,
    PaidEvent,
    checked_paid,
    external_id,
    new_order,
    order_ref,
    plan_users,
    write_paid,
)
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.writers.units import Writes

MAX_ORDERS = 100
MAX_RACES = 8  # reads again after racing pushes took an order's or a request's keys

# An event's error as answered in the batch: (status, {"code", "message", "field"}).
Describe = Callable[[DomainError], tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One ``paid`` event of a batch as the shop sent it."""

    external_order_id: str
    user: ExternalUserIn
    amount: str
    contribution: str | None
    request_hash: str  # the single event's (``paid`` at the order's own path): replays match
    views: OrderViews  # how its answer shows the order (the edge's format)


def single_path(tenant_id: str, external_order_id: str) -> str:
    """The path of the order's single ``paid`` event (whose request hash a batch item shares)."""
    return f"/api/v1/tenants/{tenant_id}/integration/orders/{external_order_id}/paid"


def item_hash(tenant_id: str, external_order_id: str, body: dict[str, Any]) -> str:
    """The natural request hash of an event: the same as the single ``paid`` route's."""
    return idempotency.request_hash("paid", single_path(tenant_id, external_order_id), body)


@dataclass(slots=True)
class Plan:
    """A batch read and checked (``prepare``): the results settled already (replays and
    refusals, by position) and the events to write (position, event)."""

    tenant_id: str
    size: int
    settled: dict[int, dict[str, Any]]
    events: list[tuple[int, PaidEvent]]
    known: dict[str, ExternalUser]
    now: datetime


def check(tenant_id: str, items: list[BatchItem]) -> None:
    """Every event's input, before anything is read (``InvalidInput`` names the event)."""
    if not items:
        raise InvalidInput("orders must hold at least one order", "orders")
    if len(items) > MAX_ORDERS:
        raise InvalidInput(f"a batch holds at most {MAX_ORDERS} orders", "orders")
    seen: dict[str, int] = {}
    for n, item in enumerate(items):
        prefix = f"orders.{n}."
        external_id(item.external_order_id, f"{prefix}external_order_id")
        if item.external_order_id in seen:
            raise InvalidInput(
                f"order {item.external_order_id!r} is in the batch twice "
                f"(orders.{seen[item.external_order_id]} and orders.{n})",
                f"{prefix}external_order_id",
            )
        seen[item.external_order_id] = n
        checked_paid(item.user, item.amount, item.contribution, prefix)


def prepare(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    items: list[BatchItem],
    *,
    refused: dict[int, dict[str, Any]],
    describe: Describe,
    now: datetime,
) -> Plan:
    """Everything of the batch that only reads, in one read transaction: the caller's role,
    the input, the orders' ledger keys and stored answers, the shop's users. ``refused``:
    events answered already by an earlier attempt's refusal (position → result)."""
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    check(tenant_id, items)
    reads = read_events(conn, tenant_id, items, skip=set(refused), now=now)
    settled = dict(refused)
    for n, (stored_hash, status, body) in reads.stored.items():
        item = items[n]
        if stored_hash == item.request_hash:
            settled[n] = _result(item.external_order_id, status, True, json.loads(body))
        else:
            settled[n] = refusal(item.external_order_id, describe(reported(item)))
    return Plan(tenant_id, len(items), settled, reads.events, reads.known, now)


def reported(item: BatchItem) -> Conflict:
    """The refusal of an order reported paid before with another request."""
    return Conflict(
        f"order {item.external_order_id!r} was already reported paid with a different "
        "request; an event is recorded once"
    )


@dataclass(slots=True)
class Reads:
    """What ``read_events`` found: stored ``paid`` answers by position (hash, status, body),
    the events to write (position, event) and the shop's users they name."""

    stored: dict[int, tuple[str, int, str]]
    events: list[tuple[int, PaidEvent]]
    known: dict[str, ExternalUser]


def read_events(
    conn: Connection,
    tenant_id: str,
    items: list[BatchItem],
    *,
    skip: set[int],
    now: datetime,
    invalid: Callable[[int, DomainError], None] | None = None,
) -> Reads:
    """The reads of many ``paid`` events at once (ids unique; those at positions in ``skip``
    left out): their ledger keys, their stored answers, their users. An event not stored yet
    whose input is refused raises, or with ``invalid`` is reported there and left out."""
    wanted_items = [(n, item) for n, item in enumerate(items) if n not in skip]
    order_ids = [item.external_order_id for _, item in wanted_items]
    # As in ``prepare_paid``: the ledger keys are read BEFORE the stored answers (both commit
    # together), so a push committing between the two reads is found and replayed.
    keys = [key for oid in order_ids for key in order_ledger.order_keys(order_ref(oid))]
    looked_up = ledger.look_up(Store(conn.engine), conn, tenant_id, keys)
    found = repo.find_events(conn, tenant_id, order_ids, "paid")
    stored: dict[int, tuple[str, int, str]] = {}
    todo: list[tuple[int, BatchItem]] = []
    for n, item in wanted_items:
        answer = found.get(item.external_order_id)
        if answer is None:
            todo.append((n, item))
        else:
            stored[n] = answer
    wanted: list[str] = []
    for _, item in todo:
        wanted.append(item.user.external_id)
        if item.user.referrer_external_id is not None:
            wanted.append(item.user.referrer_external_id)
    known = repo.external_users_by_id(conn, tenant_id, list(dict.fromkeys(wanted)))
    events: list[tuple[int, PaidEvent]] = []
    for n, item in todo:
        try:
            amount_fen, contribution_fen, who = checked_paid(
                item.user, item.amount, item.contribution
            )
        except DomainError as error:
            if invalid is None:
                raise
            invalid(n, error)
            continue
        order = new_order(tenant_id, item.external_order_id, who, amount_fen, contribution_fen, now)
        event = PaidEvent(order, who, known, item.request_hash, looked_up, item.views)
        events.append((n, event))
    return Reads(stored, events, known)


def _result(
    external_order_id: str, status: int, replayed: bool, order: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "external_order_id": external_order_id,
        "status": status,
        "replayed": replayed,
        "order": order,
        "error": None,
    }


def refusal(external_order_id: str, described: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    """An event's refusal as its result in the batch's answer."""
    status, error = described
    return {
        "external_order_id": external_order_id,
        "status": status,
        "replayed": False,
        "order": None,
        "error": error,
    }


class EventRefused(Exception):
    """The ledger refused one event of the batch (its position and error): the writer rolls
    the unit back; the route answers that event with the error and runs the rest again."""

    def __init__(self, position: int, error: DomainError) -> None:
        super().__init__(f"orders.{position}: {error}")
        self.position = position
        self.error = error


@dataclass(slots=True)
class PaidBatchUnit:
    """A planned batch as ONE unit of its tenant's writer: every event written in order under
    the unit's savepoint, then the batch's answer stored under the Idempotency-Key."""

    plan: Plan
    scope: str
    key: str
    key_hash: str

    @property
    def tenant_id(self) -> str:
        return self.plan.tenant_id

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> Answer:
        plan = self.plan
        answer: list[Answer] = []

        def finish(bodies: dict[int, str]) -> None:
            # Each result as JSON text (a written order's body is its stored answer's text).
            results = {n: json.dumps(r, ensure_ascii=False) for n, r in plan.settled.items()}
            for n, event in plan.events:
                results[n] = _result_text(event.order.external_order_id, bodies[n])
            body = '{"results":[' + ",".join(results[n] for n in range(plan.size)) + "]}"
            # Strict: the key taken meanwhile fails the unit (the route reads again).
            insert_answer(
                conn,
                tenant_id=plan.tenant_id,
                scope=self.scope,
                key=self.key,
                response=StoredResponse(self.key_hash, 200, body),
                now=plan.now,
                strict=True,
            )
            answer.append(Answer(200, body, False))

        write_events(conn, book, writes, plan.tenant_id, plan.events, plan.known, finish)
        return answer[0]


def write_events(
    conn: Connection,
    book: TenantBook,
    writes: Writes,
    tenant_id: str,
    events: list[tuple[int, PaidEvent]],
    known_before: dict[str, ExternalUser],
    finish: Callable[[dict[int, str]], None],
) -> dict[int, str]:
    """Write many prepared ``paid`` events in the writer's transaction, in order; returns
    each one's answer body by position. ``finish(bodies)`` adds its own last writes (stored
    answers) to the final pipeline. An event the ledger refuses raises ``EventRefused``."""
    store = Store(conn.engine)
    uow = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
    known = dict(known_before)  # grows as the events add users and bind referrers
    externals: dict[str, str] = {}  # user id → shop id of the users added here
    bodies: dict[int, str] = {}
    # The known buyers and referrers (and theirs) read at once, not one by one.
    book.ensure_with_referrers(user.user_id for user in known.values())
    # One savepoint for all. The events run in order with their rows held back
    # (``fast.deferring``: they read between their writes, which one pipeline cannot do);
    # then the book's one ledger batch, every table's rows together and ``finish``'s rows go
    # in one pipeline.
    with writes(pipelined=False):
        with fast.deferring(conn) as held:
            for n, event in events:
                who = event.who
                users = plan_users(tenant_id, who, known)
                try:
                    answer = write_paid(
                        uow,
                        replace(event, known=known),
                        users=users,
                        externals=externals,
                    )
                except DomainError as error:
                    raise EventRefused(n, error) from error
                for user_id, external, _, _ in users.new:
                    known[external] = ExternalUser(external, user_id, None)
                    externals[user_id] = external
                if users.join is not None and users.referrer_id is not None:
                    known[who.external_id] = ExternalUser(
                        who.external_id, users.buyer_id, users.referrer_id
                    )
                bodies[n] = answer.body
        with fast.pipeline(conn, store.postgres):
            store.write_batch(conn, tenant_id, book.take_batch(trim=False))
            held.flush(conn)
            finish(bodies)
    return bodies


def _result_text(external_order_id: str, order_body: str) -> str:
    """A written event's result as JSON text (``_result`` with ``order`` the answer's text)."""
    head = json.dumps(external_order_id, ensure_ascii=False)
    return (
        f'{{"external_order_id":{head},"status":201,"replayed":false,'
        f'"order":{order_body},"error":null}}'
    )


def run_alone(db: Database, unit: PaidBatchUnit) -> Answer:
    """The unit in a transaction of its own, without the writer (``TOKENMALL_GROUP_COMMIT``
    off): the tenant locked and its book loaded here."""
    store = Store(db.engine)
    with db.transaction() as conn:
        state, last_journal_id, version = store.lock_state(conn, unit.tenant_id)
        book = book_of(store, conn, unit.tenant_id, state, last_journal_id, version)
        return unit.run(conn, book, lambda pipelined=True: nullcontext())
