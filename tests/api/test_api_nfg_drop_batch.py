"""A drop's presses group-committed (``services/nfg/press_batch.py``) on SQLite and PostgreSQL:
one batch of presses — over the limit, beyond sold out, a key replayed and a key reused for
another request inside the same batch, a bad credential — decides exactly as the same presses
one transaction at a time; a press whose buyer's row another transaction holds leaves the
batch (PostgreSQL) and is settled on its own afterwards; concurrent presses over HTTP sell
exactly the edition within the limit and replay a key's first answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture
from orders_helpers import audit_clean
from sqlalchemy import func, select
from test_api_nfg_drop import _all_at_once, _error, buyer, drop, make_collection, reserve

from tokenmall.adapters.db.nfg.tables import nfg_drop_buyers, nfg_drop_counters, nfg_reservations
from tokenmall.domain.nfg.records import Collection, Reservation
from tokenmall.services.mall import accounts, idempotency
from tokenmall.services.mall.errors import MallError
from tokenmall.services.mall.uow import Database
from tokenmall.services.nfg import drop as drop_service
from tokenmall.services.nfg import press_batch

HOLD = timedelta(minutes=10)


def _sign_in(token: str) -> accounts.SignIn:
    return accounts.SignIn(token, timedelta(hours=1), None)


def _answer(r: Reservation, c: Collection) -> str:
    return json.dumps({"reservation_id": r.reservation_id, "quantity": r.quantity})


def _press(t: TenantFixture, col: str, token: str, quantity: int, key: str) -> press_batch.Press:
    path = t.path(f"/nfg/collections/{col}/reservations")
    return press_batch.Press(
        tenant_id=t.tenant_id,
        collection_id=col,
        sign_in=_sign_in(token),
        key=key,
        request=idempotency.request_hash("POST", path, {"quantity": quantity}),
        quantity=quantity,
        pay_with=None,
        hold=HOLD,
        answer=_answer,
    )


def _alone(db: Database, p: press_batch.Press) -> idempotency.Outcome:
    """The press in a transaction of its own (the route without group commit)."""

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        made = drop_service.reserve(
            attempt.uow, attempt.caller, p.tenant_id, p.collection_id, p.quantity, p.pay_with,
            attempt.now, hold=p.hold,
        )  # fmt: skip
        return idempotency.Done(201, p.answer(*made))

    return idempotency.run_once(
        db, tenant_id=p.tenant_id, key=p.key, request=p.request, action=act, sign_in=p.sign_in
    )


def _decided(outcome: tuple[bool, Any]) -> tuple[Any, ...]:
    """What a press decided: (201, replayed) or (the refusal's code, its field)."""
    ok, value = outcome
    if ok:
        return (value.status, value.replayed)
    assert isinstance(value, MallError), repr(value)
    return (value.code, value.field)


def _one_at_a_time(db: Database, p: press_batch.Press) -> tuple[bool, Any]:
    try:
        return True, _alone(db, p)
    except MallError as error:
        return False, error


def _scenario(t: TenantFixture, col: str, people: list[str]) -> list[press_batch.Press]:
    """The presses, keys under the collection's id (a key belongs to a tenant and caller)."""
    a, b, c, d = people
    return [
        _press(t, col, a, 2, f"{col}-a1"),  # 201: 2 of 3
        _press(t, col, a, 1, f"{col}-a2"),  # over the limit (a holds 2)
        _press(t, col, a, 2, f"{col}-a1"),  # the same key and request: replays the first
        _press(t, col, a, 1, f"{col}-a1"),  # the same key, another request: refused
        _press(t, col, b, 2, f"{col}-b1"),  # 1 left: sold out
        _press(t, col, b, 1, f"{col}-b2"),  # 201: the last place
        _press(t, col, c, 1, f"{col}-c1"),  # sold out
        _press(t, col, d + "x", 1, f"{col}-d1"),  # a bad credential
        _press(t, col, c, 3, f"{col}-c2"),  # above the per-user limit: the field named
    ]


def _stored(db: Database, t: TenantFixture, col: str) -> tuple[dict[str, int], int]:
    """Places per buyer in open reservations, and the buyers' rows, as stored."""
    r, b = nfg_reservations.c, nfg_drop_buyers.c
    with db.read() as conn:
        per_user = conn.execute(
            select(r.user_id, func.sum(r.quantity))
            .where(r.tenant_id == t.tenant_id, r.collection_id == col)
            .group_by(r.user_id)
        ).all()
        rows = conn.execute(
            select(func.count()).where(b.tenant_id == t.tenant_id, b.collection_id == col)
        ).scalar_one()
    return {str(user): int(n) for user, n in per_user}, int(rows)


def test_a_batch_decides_as_its_presses_one_at_a_time(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    db: Database = server.app.state.database
    people = [buyer(api, tenant) for _ in range(4)]
    tokens = [tok for tok, _ in people]
    batched, alone = (make_collection(server, tenant, edition=3, limit=2) for _ in range(2))
    with db.engine.connect() as conn:
        in_batch = press_batch.settle(
            conn, _scenario(tenant, batched, tokens), db.engine.dialect.name == "postgresql"
        )
    one_by_one = [_one_at_a_time(db, p) for p in _scenario(tenant, alone, tokens)]
    expected = [
        (201, False),
        ("over_limit", "quantity"),
        (201, True),
        ("conflict", "Idempotency-Key"),
        ("sold_out", "quantity"),
        (201, False),
        ("sold_out", "quantity"),
        ("unauthenticated", None),
        ("invalid_input", "quantity"),
    ]
    assert [_decided(o) for o in in_batch] == expected
    assert [_decided(o) for o in one_by_one] == expected
    assert in_batch[2][1].body == in_batch[0][1].body  # the replay answers the first's body
    (a_id, b_id) = (people[0][1], people[1][1])
    assert _stored(db, tenant, alone) == ({a_id: 2, b_id: 1}, 2)  # the buyers' rows: a's, b's
    # As sets (PostgreSQL) the buyers' rows are locked before the batch knows who is sold out.
    places, rows = _stored(db, tenant, batched)
    assert places == {a_id: 2, b_id: 1}
    assert 2 <= rows <= 3
    for col in (batched, alone):
        assert drop(api, tenant, col)["available"] == 0
    # The batch's reservations count over HTTP too: nothing is left for another press.
    again = reserve(api, tenant, batched, tokens[3], 1)
    assert again.status_code == 409
    assert _error(again)["code"] == "sold_out"
    audit_clean(server, tenant)


def test_a_press_whose_buyer_is_held_elsewhere_leaves_the_batch(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row is held by another transaction")
    (tok_a, user_a), (tok_b, _) = buyer(api, tenant), buyer(api, tenant)
    col = make_collection(server, tenant, edition=3, limit=2)
    first = reserve(api, tenant, col, tok_a)  # a's row of the drop exists
    assert first.status_code == 201, first.text
    b = nfg_drop_buyers.c
    with db.engine.connect() as holder, holder.begin():
        holder.execute(
            select(b.reservations)
            .where(b.tenant_id == tenant.tenant_id, b.collection_id == col, b.user_id == user_a)
            .with_for_update()
        ).one()
        with db.engine.connect() as conn:
            outcomes = press_batch.settle(
                conn, [_press(tenant, col, tok_a, 1, "a-2"), _press(tenant, col, tok_b, 1, "b-1")],
                True,
            )  # fmt: skip
    assert isinstance(outcomes[0][1], press_batch.Alone)  # a's row held: not waited for
    assert _decided(outcomes[1]) == (201, False)  # the other press of the batch went on
    assert drop(api, tenant, col)["available"] == 1
    # On its own (the route's fallback), a's press is settled as usual.
    assert _decided((True, _alone(db, _press(tenant, col, tok_a, 1, "a-2")))) == (201, False)
    assert drop(api, tenant, col)["available"] == 0


def test_concurrent_presses_over_http_sell_exactly_the_edition(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    edition, limit = 7, 2
    col = make_collection(server, tenant, edition=edition, limit=limit)
    people = [buyer(api, tenant) for _ in range(8)]
    path = tenant.path(f"/nfg/collections/{col}/reservations")

    def press(tok: str, quantity: int, key: str) -> Any:
        return lambda a: a.post(
            path, tok, json={"quantity": quantity}, headers={"Idempotency-Key": key}
        )

    calls = []
    for n, (tok, _) in enumerate(people):
        calls.append(press(tok, 2, f"k{n}"))
        calls.append(press(tok, 2, f"k{n}"))  # the same key at once: one reservation
        calls.append(press(tok, 1, f"k{n}-more"))  # over the limit, or sold out
    answers = _all_at_once(server.base_url, calls)
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert {_error(a)["code"] for a in answers if a.status_code == 409} <= {
        "sold_out",
        "over_limit",
    }
    for n in range(len(people)):
        pair = answers[3 * n : 3 * n + 2]
        if all(a.status_code == 201 for a in pair):
            assert pair[0].json() == pair[1].json()  # the replay answers the first
    made = {a.json()["reservation_id"]: a.json() for a in answers if a.status_code == 201}
    per_user: dict[str, int] = {}
    for m in made.values():
        per_user[m["user_id"]] = per_user.get(m["user_id"], 0) + int(m["quantity"])
    assert sum(per_user.values()) <= edition
    assert max(per_user.values()) <= limit
    assert drop(api, tenant, col)["available"] == edition - sum(per_user.values())
    stored, _ = _stored(server.app.state.database, tenant, col)
    assert stored == per_user
    # Whatever is left goes to the next buyers one at a time, until sold out.
    for tok, _ in people:
        reserve(api, tenant, col, tok, 1)
    assert drop(api, tenant, col)["available"] == 0
    late = reserve(api, tenant, col, buyer(api, tenant)[0])
    assert late.status_code == 409
    assert _error(late)["code"] == "sold_out"
    audit_clean(server, tenant)


def test_a_press_finding_every_counter_row_held_leaves_the_batch(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row is held by another transaction")
    (tok_a, _), (tok_b, _) = buyer(api, tenant), buyer(api, tenant)
    col = make_collection(server, tenant, edition=3, limit=2)
    assert reserve(api, tenant, col, tok_a).status_code == 201  # the counters are open
    d = nfg_drop_counters.c
    with db.engine.connect() as holder, holder.begin():
        held = holder.execute(
            select(d.shard)
            .where(d.tenant_id == tenant.tenant_id, d.collection_id == col)
            .with_for_update()
        ).all()
        assert held
        with db.engine.connect() as conn:
            outcomes = press_batch.settle(conn, [_press(tenant, col, tok_b, 1, "b-1")], True)
    assert isinstance(outcomes[0][1], press_batch.Alone)  # not slept on: it left the batch
    assert drop(api, tenant, col)["available"] == 2  # and took nothing
    assert _decided((True, _alone(db, _press(tenant, col, tok_b, 1, "b-1")))) == (201, False)
    assert drop(api, tenant, col)["available"] == 1


def test_a_batch_on_postgresql_is_a_few_statements_not_ten_a_press(
    api: Api, server: Any, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As sets: one sign-in a press, and a handful of statements for the whole batch (the
    collection, the keys, the buyers' rows and places, the counter rows, the answers, the
    places taken, the reservations), whatever its size."""
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite settles one press a transaction")
    from sqlalchemy import event

    from tokenmall.adapters.db.nfg import press_rows

    people = [buyer(api, tenant) for _ in range(12)]
    col = make_collection(server, tenant, edition=100, limit=2)
    reserve(api, tenant, col, people[0][0])  # the counters open before the batch
    presses = [_press(tenant, col, tok, 1, f"{col}-{n}") for n, (tok, _) in enumerate(people)]
    counted: list[str] = []
    real = press_rows._run

    def run(conn: Any, sql: str, params: Any) -> Any:
        counted.append(sql.split()[0])
        return real(conn, sql, params)

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement.split()[0])

    monkeypatch.setattr(press_rows, "_run", run)
    with db.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", before)
        outcomes = press_batch.settle(conn, presses, True)
    assert [_decided(o) for o in outcomes] == [(201, False)] * len(presses)
    assert len(counted) <= len(presses) + 12, counted
    assert drop(api, tenant, col)["available"] == 100 - 1 - len(presses)
    places, _ = _stored(db, tenant, col)
    assert sum(places.values()) == 1 + len(presses)
    audit_clean(server, tenant)


def test_a_batch_short_of_places_expires_the_due_reservations_once_for_all(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Sold out but for a reservation past its expiry: the batch expires it (its places
    return) and its presses take them, as a press on its own would; nothing oversold."""
    db: Database = server.app.state.database
    from sqlalchemy import update

    people = [buyer(api, tenant) for _ in range(4)]
    col = make_collection(server, tenant, edition=3, limit=2)
    late = reserve(api, tenant, col, people[0][0], 2)
    assert late.status_code == 201, late.text
    assert reserve(api, tenant, col, people[1][0], 1).status_code == 201
    r = nfg_reservations.c
    with db.transaction() as conn:
        conn.execute(
            update(nfg_reservations)
            .where(
                r.tenant_id == tenant.tenant_id, r.reservation_id == late.json()["reservation_id"]
            )
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    presses = [
        _press(tenant, col, tok, 1, f"{col}-due-{n}") for n, (tok, _) in enumerate(people[2:])
    ]
    presses.append(_press(tenant, col, people[1][0], 1, f"{col}-due-over"))  # none left
    with db.engine.connect() as conn:
        outcomes = press_batch.settle(conn, presses, db.engine.dialect.name == "postgresql")
    assert [_decided(o) for o in outcomes] == [
        (201, False),
        (201, False),
        ("sold_out", "quantity"),
    ]
    assert drop(api, tenant, col)["available"] == 0
    with db.read() as conn:
        status = conn.execute(
            select(r.status).where(
                r.tenant_id == tenant.tenant_id, r.reservation_id == late.json()["reservation_id"]
            )
        ).scalar_one()
    assert status == "expired"
    places, _ = _stored(db, tenant, col)
    assert sum(places.values()) == 5  # every reservation: 2 expired, 1, and the batch's 2
    again = reserve(api, tenant, col, people[3][0], 1)
    assert again.status_code == 409
    audit_clean(server, tenant)


def test_a_batch_short_of_places_whose_due_reservation_is_being_paid_stays_a_set(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Sold out but for a reservation past its expiry whose payment holds its row: the batch
    sweeps once (nothing can be claimed), then decides as sets: sold out, without a savepoint a
    press, and the reservation being paid left as it is."""
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row is held by another transaction")
    from sqlalchemy import event, update

    people = [buyer(api, tenant) for _ in range(4)]
    col = make_collection(server, tenant, edition=2, limit=2)
    paying = reserve(api, tenant, col, people[0][0], 2)
    assert paying.status_code == 201, paying.text
    rid = paying.json()["reservation_id"]
    r = nfg_reservations.c
    mine = (r.tenant_id == tenant.tenant_id) & (r.reservation_id == rid)
    with db.transaction() as conn:
        conn.execute(
            update(nfg_reservations)
            .where(mine)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    presses = [
        _press(tenant, col, tok, 1, f"{col}-paying-{n}") for n, (tok, _) in enumerate(people[1:])
    ]
    counted: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement.split()[0].upper())

    with db.engine.connect() as holder, holder.begin():
        holder.execute(select(r.status).where(mine).with_for_update())  # its payment, in flight
        with db.engine.connect() as conn:
            event.listen(conn, "before_cursor_execute", before)
            outcomes = press_batch.settle(conn, presses, True)
    assert [_decided(o) for o in outcomes] == [("sold_out", "quantity")] * len(presses)
    assert "SAVEPOINT" not in counted, counted
    assert drop(api, tenant, col)["available"] == 0
    with db.read() as conn:
        assert conn.execute(select(r.status).where(mine)).scalar_one() == "reserved"
    places, _ = _stored(db, tenant, col)
    assert sum(places.values()) == 2  # only the reservation being paid
    audit_clean(server, tenant)


def test_the_first_batch_of_a_drop_waits_for_its_counters_to_open_not_its_lock_timeout(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Every lane's first batch finds the counters closed while one of them opens them under
    the collection's row: the others open (or find open) the counters in a transaction of
    their own, which waits longer than a batch's lock time-out, then settle as sets; nothing
    leaves the batch. A collection not on sale does not open them (its edition may change)."""
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite settles one press a transaction")
    import threading
    import time

    from tokenmall.adapters.db.nfg import counters

    people = [buyer(api, tenant) for _ in range(3)]
    col = make_collection(server, tenant, edition=10, limit=2)
    presses = [_press(tenant, col, tok, 1, f"{col}-first-{n}") for n, (tok, _) in enumerate(people)]
    released = threading.Event()

    def opener() -> None:  # another lane's first batch, opening the counters
        with db.engine.connect() as conn, conn.begin():
            counters.lock_collection(conn, tenant.tenant_id, col)
            time.sleep(0.4)  # well past the batch's lock time-out (50 ms)
            released.set()

    holder = threading.Thread(target=opener)
    holder.start()
    time.sleep(0.1)
    try:
        with db.engine.connect() as conn:
            outcomes = press_batch.settle(conn, presses, True)
    finally:
        holder.join()
    assert released.is_set()
    assert [_decided(o) for o in outcomes] == [(201, False)] * len(presses)
    assert drop(api, tenant, col)["available"] == 10 - len(presses)
    with db.read() as conn:
        assert counters.is_open(conn, tenant.tenant_id, col)

    later = make_collection(server, tenant, edition=5, starts=datetime.now(UTC) + HOLD)
    early = [_press(tenant, later, people[0][0], 1, f"{later}-early")]
    with db.engine.connect() as conn:
        assert [_decided(o) for o in press_batch.settle(conn, early, True)] == [
            ("not_on_sale", "collection_id")
        ]
    with db.read() as conn:
        assert not counters.is_open(conn, tenant.tenant_id, later)
    audit_clean(server, tenant)


def test_a_new_buyer_another_batch_is_making_leaves_the_batch_not_its_lock_timeout(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Two lanes' batches with the same new buyer (a buyer pressing twice at once): the one
    that comes second leaves that press out (it runs alone afterwards) instead of waiting on
    the other's uncommitted row; its other presses are decided as usual."""
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row is held by another transaction")
    from tokenmall.adapters.db.nfg import press_rows

    (tok_a, user_a), (tok_b, _), (tok_c, _) = (buyer(api, tenant) for _ in range(3))
    col = make_collection(server, tenant, edition=10, limit=2)
    assert reserve(api, tenant, col, tok_c).status_code == 201  # the counters are open
    second = [
        _press(tenant, col, tok_a, 1, f"{col}-lane2-a"),
        _press(tenant, col, tok_b, 1, f"{col}-lane2-b"),
    ]
    with db.engine.connect() as one, one.begin():  # lane 1's batch making a's row, not committed
        made = press_rows.lock_buyers(one, tenant.tenant_id, col, {user_a: 1})
        assert made == {user_a}
        with db.engine.connect() as two:
            outcomes = press_batch.settle(two, second, True)
        one.rollback()
    assert isinstance(outcomes[0][1], press_batch.Alone), outcomes[0]
    assert _decided(outcomes[1]) == (201, False)
    assert drop(api, tenant, col)["available"] == 10 - 2
    assert _decided((True, _alone(db, second[0]))) == (201, False)  # then alone, after lane 1
    places, _ = _stored(db, tenant, col)
    assert places[user_a] == 1
    audit_clean(server, tenant)


def test_a_batch_after_the_sell_out_locks_and_writes_nothing(
    api: Api, server: Any, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sold out with nothing due: a batch's presses are refused ``sold_out`` as a press alone
    would be, before any buyer's row is locked or made (no UPDATE, no INSERT); a replay in the
    same batch still answers its first answer."""
    db: Database = server.app.state.database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite settles one press a transaction")
    from tokenmall.adapters.db.nfg import press_rows

    people = [buyer(api, tenant) for _ in range(4)]
    col = make_collection(server, tenant, edition=1, limit=2)
    won = _alone(db, _press(tenant, col, people[0][0], 1, f"{col}-won"))
    assert won.status == 201
    _, rows_before = _stored(db, tenant, col)
    presses = [_press(tenant, col, tok, 1, f"{col}-late-{n}") for n, (tok, _) in enumerate(people)]
    presses.append(_press(tenant, col, people[0][0], 1, f"{col}-won"))  # a replay
    counted: list[str] = []
    real = press_rows._run

    def run(conn: Any, sql: str, params: Any) -> Any:
        counted.append(sql.split()[0])
        return real(conn, sql, params)

    monkeypatch.setattr(press_rows, "_run", run)
    with db.engine.connect() as conn:
        outcomes = press_batch.settle(conn, presses, True)
    assert [_decided(o) for o in outcomes] == [("sold_out", "quantity")] * len(people) + [
        (201, True)
    ]
    assert outcomes[-1][1].body == won.body
    assert set(counted) == {"SELECT"}, counted  # the keys' answers only
    _, rows_after = _stored(db, tenant, col)
    assert rows_after == rows_before  # no buyer's row made
    audit_clean(server, tenant)
