"""Single ``paid`` pushes coalesced: a tenant's pushes in this process read and written in groups.

A shop that pushes its orders one request each (``POST …/integration/orders/{id}/paid``) costs,
done one by one, an authentication, five look-ups and a unit of the tenant's writer per order.
Here the route hands its push — the caller's token, the Idempotency-Key and the order as sent —
to its tenant's ``_Coalescer`` thread and waits. The thread (the batching base of
``services/writers``) takes every push queued (up to ``max_group``, lingering for more while
pushes come several at a time) and, for all of them at once:

1. reads in one read-only transaction: each distinct token authenticated once, the tenant's
   integration caps (``access.PushCaps``: a push above them is refused, its alert committed
   before it is answered), the Idempotency-Keys of each caller in one query (a stored answer
   is replayed; the same key for another request is 409), then for the orders
   (``integration_batch.read_events``) their ledger keys, their stored ``paid`` answers and
   the shop's users. Each push is refused alone
   (401/403/404/409/422, exactly what a push on its own would get), in the order a push on its
   own checks: the caller, the caps, its key, the order id, a stored answer, the input.
2. writes the new orders as ONE unit of the tenant's writer (``integration_batch``'s
   ``write_events``: one savepoint, the orders in turn, one pipeline for all their rows and each
   push's answer stored under its own Idempotency-Key). An order the ledger refuses is answered
   with that refusal and the unit runs again without it; a unique key taken by a racing push
   (here or in another process) fails the unit, and the group is read again (at most
   ``MAX_RACES`` times), which finds and replays what the racer stored.

Each push is answered after its group commits, with exactly the single push's answer (201 and
the order; or the stored answer replayed). An order reported paid before with the same body
under a NEW Idempotency-Key is answered ``None``: the route answers it on the one-transaction
path, which also stores the new key. Two pushes of one order (or one key) in the same group:
the later one waits for the next group (and then replays).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import idempotency as idempotency_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.uow import insert_answer
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.integration import ExternalUser
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import access, auth
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.integration import ADMIN, Answer, PaidEvent, external_id
from tokenmall.services.mall.integration_batch import (
    MAX_RACES,
    BatchItem,
    EventRefused,
    read_events,
    reported,
    write_events,
)
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.writers.batching import Batcher, PerEngine, Registry
from tokenmall.services.writers.units import Writes, writers_for

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Push:
    """One ``paid`` push as the route received it (input not checked yet)."""

    tenant_id: str
    token: str
    key: str
    key_hash: str  # the request's hash for its Idempotency-Key
    item: BatchItem  # the order, with its natural (order, event) hash
    future: Future[Answer | None] = field(default_factory=Future)


@dataclass(slots=True)
class PushesUnit:
    """A group's new orders as one unit of the tenant's writer; answers by position."""

    tenant_id: str
    events: list[tuple[int, PaidEvent]]
    known: dict[str, ExternalUser]
    keys: dict[int, tuple[str, str, str]]  # position → (scope, key, key hash)

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> dict[int, str]:
        paid_at = {n: event.order.paid_at for n, event in self.events}

        def finish(bodies: dict[int, str]) -> None:
            for n, body in bodies.items():
                scope, key, key_hash = self.keys[n]
                # Strict: a key taken meanwhile fails the unit (the group is read again).
                insert_answer(
                    conn,
                    tenant_id=self.tenant_id,
                    scope=scope,
                    key=key,
                    response=StoredResponse(key_hash, 201, body),
                    now=paid_at[n],
                    strict=True,
                )

        return write_events(conn, book, writes, self.tenant_id, self.events, self.known, finish)


class _Coalescer(Batcher[Push]):
    """The thread that reads and writes one tenant's queued pushes in groups. Under load (the
    last group had several pushes) it lingers up to ``LINGER_SECONDS`` for more: the answers
    of one group bring their clients' next pushes back a little apart, and a group of one
    costs its reads alone."""

    request_type = Push
    LINGER_SECONDS = 0.002  # float-ok: seconds

    def __init__(self, registry: Pushes, tenant_id: str) -> None:
        super().__init__(
            tenant_id,
            f"pushes-{tenant_id}",
            max_batch=registry.max_group,
            linger_seconds=self.LINGER_SECONDS,
            idle_seconds=registry.idle_seconds,
            registry=registry,
        )
        self.registry = registry
        self._thread.start()

    def _process(self, group: list[Push]) -> None:
        # A second push of an order or a key waits for the next group (carried to it).
        now_group, self._carry = _split(group)
        self._process_group(now_group)
        self._expect = len(group)

    def _broken(self, batch: list[Push], error: BaseException) -> None:
        carried = {id(push) for push in self._carry}
        super()._broken([push for push in batch if id(push) not in carried], error)

    def _process_group(self, group: list[Push]) -> None:
        deferred: list[Push] = []
        for attempt in range(MAX_RACES + 1):
            pending = [
                p for p in group if not p.future.done() and all(p is not d for d in deferred)
            ]
            if not pending:
                return
            try:
                self._round(pending, deferred)
            except IntegrityError:
                if attempt == MAX_RACES:
                    raise
                continue  # a racing push committed first: read again, which replays it
            return

    def _round(self, pushes: list[Push], deferred: list[Push]) -> None:
        store = self.registry.store
        over: list[tuple[Push, Principal, access.CapRefusal]] = []
        with store.read() as conn:
            now = utc_now()
            reader = MallUnitOfWork.joining(conn)
            live = _callers(reader, self.tenant_id, pushes, now)
            live = _capped(reader, self.tenant_id, live, now, over)
            live = _keys(conn, self.tenant_id, live)
            # One caller's key twice in a group (two of its tokens at once): the later push
            # waits for the next group, where it finds the first one's stored answer.
            keys: set[tuple[str, str]] = set()
            first: list[tuple[Push, Principal]] = []
            for push, caller in live:
                if (caller.scope, push.key) in keys:
                    deferred.append(push)
                    self.put(push)
                else:
                    keys.add((caller.scope, push.key))
                    first.append((push, caller))
            live = first
            items = [push.item for push, _ in live]

            def invalid(n: int, error: DomainError) -> None:
                _settle(live[n][0], error)

            reads = read_events(conn, self.tenant_id, items, skip=set(), now=now, invalid=invalid)
        if over:
            # The alerts are committed before their pushes are answered.
            with store.transaction() as conn:
                alerts = MallUnitOfWork.joining(conn)
                for _, caller, refusal in over:
                    access.record_refusal(alerts, caller, self.tenant_id, refusal, now)
            for push, _, refusal in over:
                _settle(push, refusal.error)
        for n, (stored_hash, _, _) in reads.stored.items():
            push = live[n][0]
            # The same order and body under a new key: the route's one-transaction path
            # answers it and stores the new key (None); another body: 409.
            _settle(push, None if stored_hash == push.item.request_hash else reported(push.item))
        events = reads.events
        while events:
            unit = PushesUnit(
                self.tenant_id,
                events,
                reads.known,
                {n: (live[n][1].scope, live[n][0].key, live[n][0].key_hash) for n, _ in events},
            )
            try:
                bodies: dict[int, str] = writers_for(store.engine).call(unit)
            except EventRefused as refusal:
                _settle(live[refusal.position][0], refusal.error)
                events = [(n, event) for n, event in events if n != refusal.position]
                continue
            for n, body in bodies.items():
                _settle(live[n][0], Answer(201, body, False))
            return


def _split(group: list[Push]) -> tuple[list[Push], list[Push]]:
    """The group without a second push of an order or of a key (those go to the next)."""
    orders: set[str] = set()
    keys: set[tuple[str, str]] = set()
    now_group: list[Push] = []
    later: list[Push] = []
    for push in group:
        order, key = push.item.external_order_id, (push.token, push.key)
        if order in orders or key in keys:
            later.append(push)
        else:
            orders.add(order)
            keys.add(key)
            now_group.append(push)
    return now_group, later


def _settle(push: Push, outcome: Answer | DomainError | None) -> None:
    if push.future.done():
        return
    if isinstance(outcome, DomainError):
        push.future.set_exception(outcome)
    else:
        push.future.set_result(outcome)


def _callers(
    reader: MallUnitOfWork, tenant_id: str, pushes: list[Push], now: Any
) -> list[tuple[Push, Principal]]:
    """Each push's caller, each token authenticated once; refusals settled."""
    seen: dict[str, Principal | DomainError] = {}
    live: list[tuple[Push, Principal]] = []
    for push in pushes:
        caller = seen.get(push.token)
        if caller is None:
            try:
                caller = auth.require(
                    auth.authenticate(reader, push.token, now),
                    tenant_id,
                    ADMIN,
                    scope=Scope.INTEGRATION,
                )
            except DomainError as error:
                caller = error
            seen[push.token] = caller
        if isinstance(caller, DomainError):
            _settle(push, caller)
        else:
            live.append((push, caller))
    return live


def _capped(
    reader: MallUnitOfWork,
    tenant_id: str,
    live: list[tuple[Push, Principal]],
    now: datetime,
    over: list[tuple[Push, Principal, access.CapRefusal]],
) -> list[tuple[Push, Principal]]:
    """Pushes within the tenant's integration caps (one read of the caps for the group; with
    caps, which of its orders were pushed before is read at once). Each push is checked on
    its own against what is committed, as it would be alone; those above a cap go to
    ``over`` (their alerts are recorded before they are answered)."""
    if not live:
        return live
    caps = access.PushCaps(reader, tenant_id, now)
    if not caps.any:
        return live
    caps.look_up([push.item.external_order_id for push, _ in live])
    within: list[tuple[Push, Principal]] = []
    for push, caller in live:
        refusal = caps.refusal([(push.item.external_order_id, push.item.amount)])
        if refusal is None:
            within.append((push, caller))
        else:
            over.append((push, caller, refusal))
    return within


def _keys(
    conn: Connection, tenant_id: str, live: list[tuple[Push, Principal]]
) -> list[tuple[Push, Principal]]:
    """Pushes whose Idempotency-Key is new (a stored one replayed, or 409 for another
    request), and whose order id is well formed."""
    by_scope: dict[str, list[str]] = {}
    for push, caller in live:
        by_scope.setdefault(caller.scope, []).append(push.key)
    stored = {
        (scope, key): answer
        for scope, keys in by_scope.items()
        for key, answer in idempotency_repo.find_many(conn, tenant_id, scope, keys).items()
    }
    fresh: list[tuple[Push, Principal]] = []
    for push, caller in live:
        answer = stored.get((caller.scope, push.key))
        if answer is not None:
            if answer.request_hash != push.key_hash:
                _settle(
                    push,
                    Conflict(
                        "this Idempotency-Key was already used for a different request",
                        "Idempotency-Key",
                    ),
                )
            else:
                _settle(push, Answer(answer.status_code, answer.body, True))
            continue
        try:
            external_id(push.item.external_order_id, "external_order_id")
        except DomainError as error:
            _settle(push, error)
            continue
        fresh.append((push, caller))
    return fresh


class Pushes(Registry[_Coalescer]):
    """The coalescers of one database's tenants in this process (started on first use,
    retired when idle)."""

    def __init__(
        self,
        store: Store,
        max_group: int = 64,
        idle_seconds: float = 10.0,  # float-ok: seconds
    ) -> None:
        super().__init__(store)
        self.max_group = max_group
        self.idle_seconds = idle_seconds

    def _start(self, tenant_id: str) -> _Coalescer:
        return _Coalescer(self, tenant_id)

    def submit(self, push: Push) -> Future[Answer | None]:
        self.put(push.tenant_id, push)
        return push.future


_PUSHES: PerEngine[Pushes] = PerEngine(Pushes)


def pushes_for(engine: Engine) -> Pushes:
    """This process's coalescers of ``engine``'s database."""
    return _PUSHES.of(engine)
