"""``tokenmall audit``: clean after a random history, non-zero after tampering."""

from __future__ import annotations

from datetime import date

import pytest
from ledger_helpers import snapshot
from ledger_history import random_history
from sqlalchemy import text
from typer.testing import CliRunner

from tampering import behind_the_triggers
from tokenmall.adapters.db.store import Store
from tokenmall.cli.main import app
from tokenmall.domain.economy import Params
from tokenmall.domain.errors import InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute, reverse
from tokenmall.services.ledger.settlement import settle

runner = CliRunner()


def findings(store: Store, tenant: str) -> list[str]:
    (report,) = audit(store, tenant)
    return report.findings


def test_audit_is_clean_after_a_random_history(db_url: str, store: Store, tenant: str) -> None:
    random_history(store, tenant, Params(), seed=7, steps=150)
    assert findings(store, tenant) == []
    result = runner.invoke(app, ["audit", "--database", db_url, "--tenant", tenant])
    assert result.exit_code == 0, result.output
    assert "audit clean" in result.output


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE holders SET points = points + 1 WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t AND points > 0)",
            "stored points",
        ),
        (
            "UPDATE holders SET cash = cash + 100 WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t)",
            "stored cash",
        ),
        ("UPDATE economy_state SET pool = pool + 1 WHERE tenant_id = :t", "stored pool"),
        (
            "UPDATE economy_state SET dividend_pool = dividend_pool + 5 WHERE tenant_id = :t",
            "stored dividend_pool",
        ),
        # What no posting carries, replayed from the journals:
        (
            "UPDATE holders SET quota = quota + 1000 WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t AND quota > 0)",
            "stored quota",
        ),
        (
            "UPDATE holders SET quota_used = quota_used + 1 WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t AND quota_used < quota)",
            "stored quota_used",
        ),
        (
            "UPDATE holders SET spend = spend + 1 WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t AND spend > 0)",
            "stored spend",
        ),
        (
            "UPDATE holders SET exited = NOT exited WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t AND quota > 0)",
            "stored exited",
        ),
        (
            "UPDATE holders SET referrer = 'someone-else' WHERE tenant_id = :t AND name = "
            "(SELECT min(name) FROM holders WHERE tenant_id = :t)",
            "stored referrer",
        ),
        (
            "DELETE FROM settled_days WHERE tenant_id = :t AND business_date = "
            "(SELECT min(business_date) FROM settled_days WHERE tenant_id = :t)",
            "belongs to no settled day",
        ),
    ],
)
def test_audit_fails_after_tampering(
    db_url: str, store: Store, tenant: str, sql: str, expected: str
) -> None:
    # given a clean history
    random_history(store, tenant, Params(), seed=11, steps=60)
    assert findings(store, tenant) == []
    # when someone edits a balance by hand
    with store.transaction() as conn:
        conn.execute(text(sql), {"t": tenant})
    # then the audit names it and the command exits non-zero
    assert any(expected in f for f in findings(store, tenant)), findings(store, tenant)
    result = runner.invoke(app, ["audit", "--database", db_url, "--tenant", tenant])
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "audit FAILED" in result.output


def test_audit_finds_an_unbalanced_journal_on_sqlite(store: Store, tenant: str) -> None:
    if store.postgres:
        pytest.skip("PostgreSQL's trigger refuses the commit (test_ledger_commands)")
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="a", amount_fen=100))
    with store.transaction() as conn:
        conn.execute(
            text("INSERT INTO postings VALUES (:t, 1, 99, 'revenue', '', 'money', 1)"),
            {"t": tenant},
        )
    assert "journal 1 does not balance: money by 1" in findings(store, tenant)


def test_audit_finds_postings_without_their_journal_on_sqlite(store: Store, tenant: str) -> None:
    if store.postgres:
        pytest.skip("PostgreSQL's deferred check refuses the commit (test_ledger_commands)")
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="a", amount_fen=100))
    with store.transaction() as conn:
        for line, amount in ((1, 5), (2, -5)):
            conn.execute(
                text("INSERT INTO postings VALUES (:t, 77, :line, 'revenue', '', 'money', :a)"),
                {"t": tenant, "line": line, "a": amount},
            )
    assert "postings refer to journal 77, which does not exist" in findings(store, tenant)


def test_reversal_of_a_conversion_restores_balances(store: Store, tenant: str) -> None:
    # given ann converted 2 points to stable points
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=10000))
    converted = execute(
        store, c.Convert(tenant_id=tenant, idempotency_key="c", user="ann", units=2 * 10**8)
    )
    # when an operator reverses it
    result = reverse(store, tenant, int(converted["journal_id"]), "r1", "converted by mistake")
    # then a reversal journal negates it, balances are back and the audit is clean
    assert result.to_json()["code"] == "reversal"
    assert result.reverses == converted["journal_id"]
    rows = snapshot(store, tenant)
    ann = next(r for r in rows["holders"] if r[1] == "ann")
    assert ann[2] == 21 * 10**8
    assert ann[4] == 0
    assert findings(store, tenant) == []
    # and replaying the reversal changes nothing; reversing twice is refused
    before = snapshot(store, tenant)
    assert reverse(store, tenant, int(converted["journal_id"]), "r1", "converted by mistake") == (
        result
    )
    with pytest.raises(RuleViolation, match="already reversed"):
        reverse(store, tenant, int(converted["journal_id"]), "r2", "again")
    assert snapshot(store, tenant) == before


def test_reversals_that_would_lower_the_price_or_overdraw_are_refused(
    store: Store, tenant: str
) -> None:
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=10000))
    execute(store, c.Convert(tenant_id=tenant, idempotency_key="c", user="ann", units=10**8))
    execute(
        store,
        c.PayStable(
            tenant_id=tenant, idempotency_key="s", user="ann", merchant="m", amount_fen=125
        ),
    )
    settle(store, tenant, date(2026, 7, 1))
    before = snapshot(store, tenant)
    with pytest.raises(RuleViolation, match="lower the price"):
        reverse(store, tenant, 1, "r1", "refund after booking")  # the purchase
    with pytest.raises(InsufficientBalance, match="negative"):
        reverse(store, tenant, 2, "r2", "undo conversion")  # its stable points were spent
    with pytest.raises(RuleViolation, match="cannot be reversed"):
        reverse(store, tenant, 4, "r3", "undo the dividend")
    assert snapshot(store, tenant) == before
    assert findings(store, tenant) == []


def test_a_replayed_history_names_what_it_rebuilt(store: Store, tenant: str) -> None:
    """The replay of quotas follows the rules: a purchase adds 2x to quota and 1x to spend, a
    day's dividend uses quota up; a changed flag is named with the value the journals give."""
    execute(
        store, c.Purchase(tenant_id=tenant, idempotency_key="a1", user="ann", amount_fen=10_000)
    )
    execute(
        store, c.Purchase(tenant_id=tenant, idempotency_key="b1", user="bob", amount_fen=30_000)
    )
    settle(store, tenant, date(2026, 1, 1))
    query = text(
        "SELECT quota, quota_used, spend, dividends, exited FROM holders "
        "WHERE tenant_id = :t AND name = 'ann'"
    )
    with store.read() as conn:
        ann = conn.execute(query, {"t": tenant}).one()
    assert (ann.quota, ann.spend) == (20_000, 10_000)
    assert 0 < ann.quota_used == ann.dividends < ann.quota
    assert not ann.exited
    assert findings(store, tenant) == []
    with store.transaction() as conn:
        conn.execute(
            text(
                "UPDATE holders SET exited = TRUE, quota = quota + 1 "
                "WHERE tenant_id = :t AND name = 'ann'"
            ),
            {"t": tenant},
        )
    assert findings(store, tenant) == [
        "ann: stored quota 20001 != 20000 from journals",
        "ann: stored exited True != False from journals",
    ]


@pytest.mark.parametrize(
    "result",
    [
        '{"buyer": "ann", "amount": "ten", "quota_added": "1.00", "price": "1.00"}',
        '{"buyer": "ann", "amount": "1.00", "quota_added": "1.00", "price": "cheap"}',
        "not json",
    ],
)
def test_a_result_that_cannot_be_read_is_a_finding(store: Store, tenant: str, result: str) -> None:
    execute(
        store, c.Purchase(tenant_id=tenant, idempotency_key="a1", user="ann", amount_fen=10_000)
    )
    with store.transaction() as conn:  # journals are immutable: only their owner could
        behind_the_triggers(
            store,
            conn,
            "UPDATE journals SET result = :r WHERE tenant_id = :t AND code = 'purchase'",
            {"t": tenant, "r": result},
        )
    assert any("its result cannot be read" in f for f in findings(store, tenant))


def test_audit_prints_the_first_violations_and_counts_the_rest(
    db_url: str, store: Store, tenant: str
) -> None:
    # given a history where five holders' cash was edited by hand
    random_history(store, tenant, Params(), seed=3, steps=60)
    with store.transaction() as conn:
        edited = conn.execute(
            text(
                "UPDATE holders SET cash = cash + 7 WHERE tenant_id = :t AND name IN "
                "(SELECT name FROM holders WHERE tenant_id = :t ORDER BY name LIMIT 5)"
            ),
            {"t": tenant},
        ).rowcount
    assert edited == 5
    every = findings(store, tenant)
    # each holder's cash, and the money identity's totals that no longer add up
    assert sum("stored cash" in f for f in every) == 5
    assert len(every) > 5
    args = ["audit", "--database", db_url, "--tenant", tenant]
    # when only two are asked for, two are printed and the other three counted
    result = runner.invoke(app, [*args, "--show", "2"])
    assert result.exit_code == 1, result.output
    printed = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert printed == [f"  - {f}" for f in every[:2]]
    rest = len(every) - 2
    assert f"… and {rest} more (--show 0 prints them all)" in result.output
    assert f"audit FAILED: {len(every)} violation(s)" in result.output
    # --show 0 prints every one, with no count of the rest
    result = runner.invoke(app, [*args, "--show", "0"])
    assert result.exit_code == 1
    assert [ln for ln in result.output.splitlines() if ln.startswith("  - ")] == [
        f"  - {f}" for f in every
    ]
    assert "more (--show" not in result.output
    # a negative count is the user's mistake: exit 2, nothing audited
    result = runner.invoke(app, [*args, "--show", "-1"])
    assert result.exit_code == 2
    assert "FAILED" not in result.output
    assert "violation" not in result.output
