"""Every command through the simple path writes one balanced journal; refusals change nothing."""

from __future__ import annotations

import pytest
from ledger_helpers import holder, snapshot, unbalanced
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError, InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import IdempotencyConflict, UnknownTenant
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute

POINT = 10**8


def run_all(store: Store, t: str) -> list[dict[str, object]]:
    """One of each command, in an order where each one is allowed."""
    return [
        execute(store, c.Join(tenant_id=t, idempotency_key="j", user="bob", referrer="amy")),
        execute(store, c.Purchase(tenant_id=t, idempotency_key="p", user="bob", amount_fen=10000)),
        execute(store, c.Convert(tenant_id=t, idempotency_key="c", user="bob", units=2 * POINT)),
        execute(
            store,
            c.PayStable(
                tenant_id=t, idempotency_key="s", user="bob", merchant="shop", amount_fen=100
            ),
        ),
        execute(
            store, c.RedeemStable(tenant_id=t, idempotency_key="r", merchant="shop", amount_fen=100)
        ),
        execute(store, c.Sell(tenant_id=t, idempotency_key="b", user="bob", units=POINT)),
        execute(
            store,
            c.ChangeParams(tenant_id=t, idempotency_key="x", changes={"sell_fee_rate": "0.05"}),
        ),
    ]


def test_every_command_writes_one_balanced_journal(store: Store, tenant: str) -> None:
    # given a new tenant; when one of each command runs
    results = run_all(store, tenant)
    # then journals 1..7 exist, in order, with the codes of the commands, and all balance
    assert [r["journal_id"] for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [r["code"] for r in results] == [
        "join",
        "purchase",
        "convert",
        "pay_stable",
        "redeem_stable",
        "buyback",
        "params_change",
    ]
    assert unbalanced(store, tenant) == []
    rows = snapshot(store, tenant)
    by_journal: dict[int, list[tuple[str, str, str, int]]] = {}
    for _, jid, _, account, name, asset, amount in rows["postings"]:
        by_journal.setdefault(jid, []).append((account, name, asset, amount))
    # the purchase: 100.00 in, 30 to the pool, 30 to dividends, 40 revenue, 21 + 3 points
    assert sorted(by_journal[2]) == sorted(
        [
            ("gateway_clearing", "", "money", -10000),
            ("backing_pool", "", "money", 3000),
            ("dividend_pool", "", "money", 3000),
            ("revenue", "", "money", 4000),
            ("supply", "", "equity", -24 * POINT),
            ("user_points", "bob", "equity", 21 * POINT),
            ("user_points", "amy", "equity", 3 * POINT),
        ]
    )
    assert 1 not in by_journal
    assert 7 not in by_journal
    bob = holder(store, tenant, "bob")
    assert bob is not None
    # 21 points - 2 converted - 1 sold; cash from the sale at 30/24 per point less 10%
    assert bob["points"] == 18 * POINT
    assert bob["cash"] == 112  # floor(1 × 1.25 × 0.9 × 100)
    assert bob["stable"] == 250 - 100
    assert bob["quota"] == 20000
    assert bob["spend"] == 10000
    assert bob["referrer"] == "amy"
    shop = holder(store, tenant, "shop")
    assert shop is not None
    assert shop["merchant"]
    assert shop["points"] == 80_000_000
    state = rows["economy_state"][0]
    assert rows["tenants"][0][2] == 2  # params_version
    assert len(rows["tenant_params"]) == 2
    assert rows["tenant_params"][1][3] == 7
    assert state  # the row exists; its values are checked by the audit tests


def test_replay_returns_first_result_and_changes_nothing(store: Store, tenant: str) -> None:
    command = c.Purchase(tenant_id=tenant, idempotency_key="k1", user="ann", amount_fen=5000)
    first = execute(store, command)
    before = snapshot(store, tenant)
    # when the same request comes again under the same key
    again = execute(store, command)
    # then the answer is the first one and no row changed
    assert again == first
    assert snapshot(store, tenant) == before


def test_conflicting_replay_is_refused_and_changes_nothing(store: Store, tenant: str) -> None:
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="k1", user="ann", amount_fen=5000))
    before = snapshot(store, tenant)
    with pytest.raises(IdempotencyConflict, match="k1"):
        execute(
            store, c.Purchase(tenant_id=tenant, idempotency_key="k1", user="ann", amount_fen=5001)
        )
    with pytest.raises(IdempotencyConflict):
        execute(store, c.Sell(tenant_id=tenant, idempotency_key="k1", user="ann", units=1))
    assert snapshot(store, tenant) == before


@pytest.mark.parametrize(
    ("command", "error", "message"),
    [
        (
            c.Sell(tenant_id="T", idempotency_key="z", user="ann", units=22 * POINT),
            InsufficientBalance,
            "cannot sell",
        ),
        (
            c.Convert(tenant_id="T", idempotency_key="z", user="nobody", units=POINT),
            InsufficientBalance,
            "cannot convert",
        ),
        (
            c.Purchase(tenant_id="T", idempotency_key="z", user="ann", amount_fen=0),
            DomainError,
            "greater than zero",
        ),
        (
            c.Purchase(
                tenant_id="T", idempotency_key="z", user="ann", amount_fen=100, contribution_fen=101
            ),
            DomainError,
            "must not exceed",
        ),
        (
            c.PayStable(tenant_id="T", idempotency_key="z", user="ann", merchant="m", amount_fen=1),
            InsufficientBalance,
            "stable points",
        ),
        (
            c.RedeemStable(tenant_id="T", idempotency_key="z", merchant="ann", amount_fen=1),
            RuleViolation,
            "not a merchant",
        ),
        (
            c.Join(tenant_id="T", idempotency_key="z", user="ann", referrer="ann"),
            RuleViolation,
            "refer themselves",
        ),
        (
            c.ChangeParams(tenant_id="T", idempotency_key="z", changes={"grant_rate": "0.95"}),
            DomainError,
            "grant_rate",
        ),
    ],
)
def test_refused_command_changes_nothing(
    store: Store, tenant: str, command: c.Command, error: type[Exception], message: str
) -> None:
    # given ann holds 21 points
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=10000))
    before = snapshot(store, tenant)
    # when a command the rules refuse arrives
    import dataclasses

    command = dataclasses.replace(command, tenant_id=tenant)
    with pytest.raises(error, match=message):
        execute(store, command)
    # then nothing was written, and its key is still free
    assert snapshot(store, tenant) == before
    ok = execute(
        store, c.Purchase(tenant_id=tenant, idempotency_key="z", user="ann", amount_fen=100)
    )
    assert ok["journal_id"] == 2


def test_referral_cycle_is_refused_across_loaded_holders(store: Store, tenant: str) -> None:
    execute(store, c.Join(tenant_id=tenant, idempotency_key="1", user="b", referrer="a"))
    execute(store, c.Join(tenant_id=tenant, idempotency_key="2", user="c", referrer="b"))
    before = snapshot(store, tenant)
    with pytest.raises(RuleViolation, match="cycle"):
        execute(store, c.Join(tenant_id=tenant, idempotency_key="3", user="a", referrer="c"))
    assert snapshot(store, tenant) == before


def test_unknown_tenant_is_refused(store: Store) -> None:
    with pytest.raises(UnknownTenant):
        execute(store, c.Purchase(tenant_id="nope", idempotency_key="k", user="a", amount_fen=1))


def test_database_check_refuses_a_hand_made_overdraft(store: Store, tenant: str) -> None:
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=100))
    before = snapshot(store, tenant)
    for column in ("points", "cash", "stable"):
        with pytest.raises(IntegrityError), store.transaction() as conn:
            conn.execute(
                text(f"UPDATE holders SET {column} = -1 WHERE tenant_id = :t AND name = 'ann'"),
                {"t": tenant},
            )
    with pytest.raises(IntegrityError), store.transaction() as conn:
        conn.execute(text("UPDATE economy_state SET pool = -1 WHERE tenant_id = :t"), {"t": tenant})
    assert snapshot(store, tenant) == before


def test_deferred_trigger_refuses_an_unbalanced_journal(store: Store, tenant: str) -> None:
    if not store.postgres:
        pytest.skip("the deferred constraint trigger is PostgreSQL's; SQLite relies on the domain")
    journal = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, result)"
        " VALUES (:t, 99, 'purchase', 'hand', 'f', '{}')"
    )
    posting = "INSERT INTO postings VALUES (:t, 99, :line, :account, '', 'money', :amount)"
    before = snapshot(store, tenant)
    # when postings that do not net to zero are committed, then the commit is refused
    with pytest.raises(IntegrityError, match="does not balance"), store.transaction() as conn:
        conn.execute(text(journal), {"t": tenant})
        conn.execute(text(posting), {"t": tenant, "line": 1, "account": "revenue", "amount": 5})
    assert snapshot(store, tenant) == before
    # and it is checked at commit, not per statement: balancing in a later statement passes
    with store.transaction() as conn:
        conn.execute(text(journal), {"t": tenant})
        conn.execute(text(posting), {"t": tenant, "line": 1, "account": "revenue", "amount": 5})
        conn.execute(text(posting), {"t": tenant, "line": 2, "account": "fees", "amount": -5})
    # and postings of a committed journal cannot be changed or added to unbalanced
    with pytest.raises(IntegrityError), store.transaction() as conn:
        conn.execute(text("UPDATE postings SET amount = 6 WHERE tenant_id = :t"), {"t": tenant})
    with pytest.raises(IntegrityError, match="does not balance"), store.transaction() as conn:
        conn.execute(text(posting), {"t": tenant, "line": 3, "account": "fees", "amount": -1})
    # and balanced postings of a journal that does not exist are refused at commit
    orphan = "INSERT INTO postings VALUES (:t, 500, :line, :account, '', 'money', :amount)"
    with pytest.raises(IntegrityError, match="does not exist"), store.transaction() as conn:
        conn.execute(text(orphan), {"t": tenant, "line": 1, "account": "revenue", "amount": 5})
        conn.execute(text(orphan), {"t": tenant, "line": 2, "account": "fees", "amount": -5})
    # but a journal inserted after its postings, in the same transaction, is there at commit
    late = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, result)"
        " VALUES (:t, 500, 'purchase', 'late', 'f', '{}')"
    )
    with store.transaction() as conn:
        conn.execute(text(orphan), {"t": tenant, "line": 1, "account": "revenue", "amount": 5})
        conn.execute(text(orphan), {"t": tenant, "line": 2, "account": "fees", "amount": -5})
        conn.execute(text(late), {"t": tenant})
    with store.engine.connect() as conn:  # and nothing is left pending once it committed
        left = conn.execute(text("SELECT count(*) FROM ledger_tx_pending")).scalar_one()
        left += conn.execute(text("SELECT count(*) FROM ledger_tx_checks")).scalar_one()
    assert left == 0
    # and a transaction posting to several journals in several statements (as a writer batch
    # does) is checked once for all of them: the one journal that does not net to zero is named
    many = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, result)"
        " VALUES (:t, :j, 'purchase', :key, 'f', '{}')"
    )
    spread = "INSERT INTO postings VALUES (:t, :j, :line, :account, '', 'money', :amount)"
    after_99 = snapshot(store, tenant)
    refused = pytest.raises(IntegrityError, match=r"journal 102 .*does not balance")
    with refused, store.transaction() as conn:
        for jid, amounts in ((100, (5, -5)), (101, (7, -7)), (102, (5, -4)), (140, (1, -1))):
            conn.execute(text(many), {"t": tenant, "j": jid, "key": f"hand-{jid}"})
            for line, amount in enumerate(amounts, start=1):
                account = "revenue" if amount > 0 else "fees"
                row = {"t": tenant, "j": jid, "line": line, "account": account}
                conn.execute(text(spread), {**row, "amount": amount})
    assert snapshot(store, tenant) == after_99


def test_deferred_trigger_finds_a_missing_journal_among_many_posted_in_one_statement(
    store: Store, tenant: str
) -> None:
    """A writer batch posts to consecutive journals in ONE statement; the trigger probes the
    range once and looks each journal up only when that probe is not conclusive (0015)."""
    if not store.postgres:
        pytest.skip("the deferred constraint trigger is PostgreSQL's; SQLite relies on the domain")
    other = f"{tenant}b"
    with store.transaction() as conn:
        store.create_tenant(conn, other)
    journal = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, result)"
        " VALUES (:t, :j, 'purchase', :key, 'f', '{}')"
    )

    def post(conn: object, rows: list[tuple[str, int]]) -> None:
        """One balanced pair of postings per (tenant, journal), all in ONE statement."""
        values = ", ".join(
            f"('{t}', {j}, 1, 'revenue', '', 'money', 5), ('{t}', {j}, 2, 'fees', '', 'money', -5)"
            for t, j in rows
        )
        conn.execute(text(f"INSERT INTO postings VALUES {values}"))  # type: ignore[attr-defined]

    def journals(conn: object, t: str, ids: list[int]) -> None:
        for j in ids:
            conn.execute(text(journal), {"t": t, "j": j, "key": f"k{j}"})  # type: ignore[attr-defined]

    before = snapshot(store, tenant)
    missing = pytest.raises(IntegrityError, match="refer to journal 602, which does not exist")
    # when postings name 600..603 and 602 is missing (the n-th journal from 600 is not 603)
    with missing, store.transaction() as conn:
        journals(conn, tenant, [600, 601, 603])
        post(conn, [(tenant, j) for j in (600, 601, 602, 603)])
    # and when a later journal (604) makes the tenant's count from 600 come out at four
    with missing, store.transaction() as conn:
        journals(conn, tenant, [600, 601, 603, 604])
        post(conn, [(tenant, j) for j in (600, 601, 602, 603)])
    assert snapshot(store, tenant) == before
    # and when another tenant's journals in the same statement are whole but this one's not
    with pytest.raises(IntegrityError, match="does not exist"), store.transaction() as conn:
        journals(conn, tenant, [700])
        journals(conn, other, [700, 701])
        post(conn, [(other, 700), (other, 701), (tenant, 700), (tenant, 701)])
    assert snapshot(store, tenant) == before
    # then journals that are all there pass, consecutive or not, for both tenants at once
    with store.transaction() as conn:
        journals(conn, tenant, [800, 801, 802, 805])
        journals(conn, other, [800, 900])
        post(conn, [(tenant, j) for j in (800, 801, 802, 805)] + [(other, 800), (other, 900)])
    # and so does a batch whose journals come after it in the same transaction
    with store.transaction() as conn:
        post(conn, [(tenant, j) for j in (810, 811)])
        journals(conn, tenant, [810, 811])
    with store.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM ledger_tx_pending")).scalar_one()
        left += conn.execute(text("SELECT count(*) FROM ledger_tx_checks")).scalar_one()
        posted = conn.execute(
            text(
                "SELECT count(DISTINCT (tenant_id, journal_id)) FROM postings "
                "WHERE tenant_id IN (:a, :b)"
            ),
            {"a": tenant, "b": other},
        ).scalar_one()
    assert left == 0
    assert posted == 8
    assert unbalanced(store, tenant) == []
    assert unbalanced(store, other) == []


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("DELETE FROM journals WHERE tenant_id = :t AND journal_id = 1", "immutable"),
        ("UPDATE journals SET code = 'sell' WHERE tenant_id = :t AND journal_id = 1", "immutable"),
        (
            "UPDATE journals SET idempotency_key = 'other' WHERE tenant_id = :t AND journal_id = 1",
            "immutable",
        ),
        # a replay's answer: a purchase's result is final from its commit
        (
            'UPDATE journals SET result = \'{"amount": "0.01"}\' '
            "WHERE tenant_id = :t AND journal_id = 1",
            "immutable",
        ),
        # a settled day's journals: their result was written once, at the end of the day
        (
            "UPDATE journals SET result = '{}' WHERE tenant_id = :t AND code = 'dividend'",
            "immutable",
        ),
        (
            "DELETE FROM postings WHERE tenant_id = :t AND journal_id = 1 AND line = 1",
            "append-only",
        ),
        (
            "UPDATE postings SET amount = amount + 1 WHERE tenant_id = :t AND journal_id = 1",
            "append-only",
        ),
    ],
)
def test_journals_and_postings_cannot_be_changed_or_deleted(
    store: Store, tenant: str, sql: str, refusal: str
) -> None:
    # given a purchase (journal 1) and a settled day (its dividend and forced-exit journals)
    from datetime import date

    from tokenmall.services.ledger.settlement import settle

    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=10_000))
    settle(store, tenant, date(2026, 1, 1))
    before = snapshot(store, tenant)
    assert {row[2] for row in before["journals"]} == {"purchase", "dividend", "forced_exit"}
    # when someone edits or deletes one by hand, then the database refuses it, on both
    # databases, and nothing changed (corrections are reversing journals)
    with pytest.raises(IntegrityError, match=refusal), store.transaction() as conn:
        conn.execute(text(sql), {"t": tenant})
    assert snapshot(store, tenant) == before


def test_a_pending_journal_result_is_written_once_and_nothing_else_changes(
    store: Store, tenant: str
) -> None:
    # given a journal opened with the pending result, as a day's settlement opens its own
    from tokenmall.adapters.db.settlement_sql import PENDING_RESULT

    opened = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, result)"
        " VALUES (:t, 99, 'dividend', 'day', 'f', :r)"
    )
    read = "SELECT result FROM journals WHERE tenant_id = :t AND journal_id = 99"
    write = "UPDATE journals SET result = :r WHERE tenant_id = :t AND journal_id = 99"
    before = snapshot(store, tenant)
    # then its result can be written once, in the transaction that opened it...
    with pytest.raises(IntegrityError, match="immutable"), store.transaction() as conn:
        conn.execute(text(opened), {"t": tenant, "r": PENDING_RESULT})
        conn.execute(text(write), {"t": tenant, "r": '{"paid": "1.00"}'})
        assert conn.execute(text(read), {"t": tenant}).scalar_one() == '{"paid": "1.00"}'
        # ...but not a second time
        conn.execute(text(write), {"t": tenant, "r": '{"paid": "2.00"}'})
    # and not together with any other column
    with pytest.raises(IntegrityError, match="immutable"), store.transaction() as conn:
        conn.execute(text(opened), {"t": tenant, "r": PENDING_RESULT})
        conn.execute(
            text(
                "UPDATE journals SET result = '{}', code = 'purchase' "
                "WHERE tenant_id = :t AND journal_id = 99"
            ),
            {"t": tenant},
        )
    assert snapshot(store, tenant) == before
