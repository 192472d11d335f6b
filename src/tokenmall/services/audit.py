"""``audit``: rebuild every balance from the postings and check economy.md's invariants.

For each tenant: every journal balances per asset and every posting's journal exists; every
holder's points, cash, stable points and dividends equal the sums of their postings; every
aggregate of economy_state (pools, supply, treasury, stable points outstanding, money in,
revenue, escrow, commissions, withdrawals, receivables) equals its account's postings; the
engine's own ``violations()`` hold on the stored state; and the price recorded by each journal
(the price it was executed at) never fell from one journal to the next. The checks read only; a
finding is a sentence naming the tenant and what differs.

Memory: the per-holder sums and the holders of one tenant are held while it is audited
(the invariants need them all); audit is an operator's tool, not the hot path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, select, text

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals
from tokenmall.domain.economy.invariants import violations
from tokenmall.domain.ledger.accounts import AccountKind
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.services.book import HOLDER_FIELDS, holder_from_row


@dataclass(slots=True)
class TenantAudit:
    tenant_id: str
    journals: int = 0
    postings: int = 0
    holders: int = 0
    findings: list[str] = field(default_factory=list)


def audit(store: Store, tenant_id: str | None = None) -> list[TenantAudit]:
    """Audit one tenant or every tenant; read-only."""
    with store.read() as conn:
        tenants = [tenant_id] if tenant_id is not None else store.tenant_ids(conn)
        return [audit_tenant(store, conn, t) for t in tenants]


def audit_tenant(store: Store, conn: Connection, tenant_id: str) -> TenantAudit:
    report = TenantAudit(tenant_id)
    found = report.findings
    params, _ = store.load_params(conn, tenant_id)
    state, last_journal_id = store.load_state(conn, tenant_id)
    t = {"t": tenant_id}

    report.journals = conn.execute(
        text("SELECT count(*) FROM journals WHERE tenant_id = :t"), t
    ).scalar_one()
    if report.journals != last_journal_id:
        found.append(f"{report.journals} journals but the last journal id is {last_journal_id}")
    for jid, asset, total in conn.execute(
        text(
            "SELECT journal_id, asset, SUM(amount) FROM postings WHERE tenant_id = :t "
            "GROUP BY journal_id, asset HAVING SUM(amount) <> 0 ORDER BY journal_id"
        ),
        t,
    ):
        found.append(f"journal {jid} does not balance: {asset} by {total}")
    for (jid,) in conn.execute(
        text(
            "SELECT DISTINCT p.journal_id FROM postings p LEFT JOIN journals j "
            "ON j.tenant_id = p.tenant_id AND j.journal_id = p.journal_id "
            "WHERE p.tenant_id = :t AND j.journal_id IS NULL ORDER BY p.journal_id LIMIT 20"
        ),
        t,
    ):
        found.append(f"postings refer to journal {jid}, which does not exist")

    # Balances rebuilt from postings, by account.
    users: dict[str, list[int]] = {}  # holder -> [points, cash, stable, dividends]
    pools: dict[str, int] = {}
    minted = burned = 0
    slot = {"user_points": 0, "user_cash": 1, "user_stable": 2}
    for account, holder, total, negative, count in conn.execute(
        text(
            "SELECT account, holder, SUM(amount), "
            "SUM(CASE WHEN amount < 0 THEN amount ELSE 0 END), count(*) "
            "FROM postings WHERE tenant_id = :t GROUP BY account, holder"
        ),
        t,
    ):
        report.postings += int(count)
        total, negative = int(total), int(negative)
        if account in slot:
            users.setdefault(holder, [0, 0, 0, 0])[slot[account]] = total
        else:
            pools[account] = total
            if account == AccountKind.SUPPLY:
                minted, burned = -negative, total - negative
    for holder, total in conn.execute(
        text(
            "SELECT p.holder, SUM(p.amount) FROM postings p JOIN journals j "
            "ON j.tenant_id = p.tenant_id AND j.journal_id = p.journal_id "
            "WHERE p.tenant_id = :t AND j.code = :code AND p.account = 'user_cash' "
            "GROUP BY p.holder"
        ),
        {**t, "code": str(JournalCode.DIVIDEND)},
    ):
        users.setdefault(holder, [0, 0, 0, 0])[3] = int(total)
    buybacks = conn.execute(
        text(
            "SELECT COALESCE(SUM(p.amount), 0) FROM postings p JOIN journals j "
            "ON j.tenant_id = p.tenant_id AND j.journal_id = p.journal_id "
            "WHERE p.tenant_id = :t AND j.code IN ('buyback', 'forced_exit') "
            "AND p.account = 'user_cash'"
        ),
        t,
    ).scalar_one()
    dividends_paid = sum(v[3] for v in users.values())
    cash_by_code = {
        str(code): int(total)
        for code, total in conn.execute(
            text(
                "SELECT j.code, SUM(p.amount) FROM postings p JOIN journals j "
                "ON j.tenant_id = p.tenant_id AND j.journal_id = p.journal_id "
                "WHERE p.tenant_id = :t AND p.account = 'user_cash' AND j.code IN "
                "('commission_release', 'commission_clawback', 'debt_repaid', "
                "'withdrawal_hold', 'withdrawal_release') GROUP BY j.code"
            ),
            t,
        )
    }
    commissions_paid = cash_by_code.pop("commission_release", 0)
    cash_out = -sum(cash_by_code.values())

    def pool(kind: AccountKind) -> int:
        return pools.get(str(kind), 0)

    expected = {
        "pool": pool(AccountKind.BACKING_POOL),
        "dividend_pool": pool(AccountKind.DIVIDEND_POOL),
        "revenue": pool(AccountKind.REVENUE),
        "money_in": -pool(AccountKind.GATEWAY_CLEARING),
        "treasury": pool(AccountKind.TREASURY),
        "stable_outstanding": -pool(AccountKind.STABLE_SUPPLY),
        "minted": minted,
        "burned": burned,
        "circulating": minted - burned,
        "dividends_paid": dividends_paid,
        "buybacks_paid": int(buybacks),
        "escrow": pool(AccountKind.ORDER_ESCROW),
        "commissions_frozen": pool(AccountKind.COMMISSIONS_FROZEN),
        "commissions_paid": commissions_paid,
        "withdrawing": pool(AccountKind.WITHDRAWAL_HOLD),
        "withdrawn": pool(AccountKind.WITHDRAWALS),
        "receivables": -pool(AccountKind.RECEIVABLES),
        "cash_out": cash_out,
    }
    for name, value in expected.items():
        stored = getattr(state, name)
        if stored != value:
            found.append(f"stored {name} {stored} != {value} rebuilt from postings")

    # Holders: stored balances against the rebuilt ones.
    columns = [holders.c[n] for n in HOLDER_FIELDS]
    seen: set[str] = set()
    for row in conn.execute(
        select(*columns).where(holders.c.tenant_id == tenant_id).order_by(holders.c.name)
    ):
        h = holder_from_row(row)
        state.holders[h.name] = h
        seen.add(h.name)
        rebuilt = users.get(h.name, [0, 0, 0, 0])
        for i, name in enumerate(("points", "cash", "stable", "dividends")):
            if getattr(h, name) != rebuilt[i]:
                found.append(
                    f"{h.name}: stored {name} {getattr(h, name)} != {rebuilt[i]} from postings"
                )
    report.holders = len(seen)
    for name in sorted(set(users) - seen):
        if any(users[name]):
            found.append(f"{name} has postings but no holder row")

    found.extend(violations(state, params.max_supply_units))
    found.extend(_price_history(conn, tenant_id))
    return report


def _price_history(conn: Connection, tenant_id: str) -> list[str]:
    """The price each journal executed at, in journal order, must never fall."""
    out: list[str] = []
    last: Decimal | None = None
    last_id = 0
    query = (
        select(journals.c.journal_id, journals.c.result)
        .where(journals.c.tenant_id == tenant_id)
        .order_by(journals.c.journal_id)
        .execution_options(yield_per=10_000)
    )
    for jid, result in conn.execute(query):
        price_text = json.loads(result).get("price")
        if price_text is None:
            continue
        price = Decimal(price_text)
        if last is not None and price < last:
            out.append(f"price fell from {last} (journal {last_id}) to {price} (journal {jid})")
        last, last_id = price, jid
    return out


def clean(reports: list[TenantAudit]) -> bool:
    return all(not r.findings for r in reports)
