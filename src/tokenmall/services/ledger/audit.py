"""``audit``: rebuild every balance from the postings and check economy.md's invariants.

For each tenant: every journal balances per asset and every posting's journal exists; every
holder's points, cash, stable points and dividends equal the sums of their postings; every
aggregate of economy_state (pools, supply, treasury, stable points outstanding, money in,
revenue, escrow, commissions, withdrawals, receivables, the market's deposits, escrow, fees
and royalties) equals its account's postings; the
engine's own ``violations()`` hold on the stored state; and the price recorded by each journal
(the price it was executed at) never fell from one journal to the next. The checks read only; a
finding is a sentence naming the tenant and what differs.

What no posting carries is replayed from the journals in order: every holder's dividend quota,
quota used, cumulative spend and exited flag (purchases add quota and spend and end an exit;
each day's dividend uses quota up, and a holder it fills has exited; a forced exit uses up quota
by its payout, up to what remains, and the holder has exited); and every holder's referrer, from
the join journals. A quota raised by hand would otherwise let a user draw dividends no purchase
paid for. Each settled day must name its dividend and forced-exit journals, of that business
date, and every dividend journal must belong to a settled day (the record that makes settling a
day twice change nothing); the tenant's last settled day is the latest of them.

Memory: the per-holder sums and the holders of one tenant are held while it is audited
(the invariants need them all); audit is an operator's tool, not the hot path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, select, text

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals, settled_days
from tokenmall.domain.economy.invariants import violations
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger.accounts import AccountKind
from tokenmall.domain.ledger.batch import HOLDER_FIELDS, holder_from_row
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.money import parse_money


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
                "'withdrawal_hold', 'withdrawal_release', 'market_deposit') GROUP BY j.code"
            ),
            t,
        )
    }
    commissions_paid = cash_by_code.pop("commission_release", 0)
    market_deposits = cash_by_code.pop(str(JournalCode.MARKET_DEPOSIT), 0)
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
        "market_deposits": market_deposits,
        "market_escrow": pool(AccountKind.MARKET_ESCROW),
        "market_fees": pool(AccountKind.MARKET_FEES),
        "royalties": pool(AccountKind.ROYALTIES),
    }
    for name, value in expected.items():
        stored = getattr(state, name)
        if stored != value:
            found.append(f"stored {name} {stored} != {value} rebuilt from postings")

    history = _History(tenant_id)
    history.read(conn)
    found.extend(history.findings)

    # Holders: stored balances against the rebuilt ones.
    columns = [holders.c[n] for n in HOLDER_FIELDS]
    seen: set[str] = set()
    for row in conn.execute(
        select(*columns).where(holders.c.tenant_id == tenant_id).order_by(holders.c.name)
    ):
        h = holder_from_row(row)
        state.holders[h.name] = h
        seen.add(h.name)
        rebuilt = list(users.get(h.name, [0, 0, 0, 0]))
        rebuilt[3] -= history.dividends_removed.get(h.name, 0)
        for i, name in enumerate(("points", "cash", "stable", "dividends")):
            if getattr(h, name) != rebuilt[i]:
                found.append(
                    f"{h.name}: stored {name} {getattr(h, name)} != {rebuilt[i]} from postings"
                )
        replayed = history.holders.get(h.name, _NEVER)
        for i, name in enumerate(_REPLAYED):
            value = getattr(h, name)
            if value != replayed[i]:
                found.append(f"{h.name}: stored {name} {value} != {replayed[i]} from journals")
        referrer = history.referrers.get(h.name)
        if h.referrer != referrer:
            found.append(f"{h.name}: stored referrer {h.referrer} != {referrer} from journals")
    report.holders = len(seen)
    for name in sorted(set(users) - seen):
        if any(users[name]):
            found.append(f"{name} has postings but no holder row")
    for name in sorted((set(history.holders) | set(history.referrers)) - seen - set(users)):
        found.append(f"{name} has journals but no holder row")
    found.extend(_settled_days(conn, tenant_id, state.last_day))

    found.extend(violations(state, params.max_supply_units))
    return report


# Holder fields replayed from the journals, and a holder no journal touched.
_REPLAYED = ("quota", "quota_used", "spend", "exited")
_NEVER = (0, 0, 0, False)
_DIVIDEND, _EXIT, _PURCHASE, _JOIN, _REVERSAL = (
    str(JournalCode.DIVIDEND),
    str(JournalCode.FORCED_EXIT),
    str(JournalCode.PURCHASE),
    str(JournalCode.JOIN),
    str(JournalCode.REFUND_REVERSAL),
)
_USER_CASH, _USER_POINTS = str(AccountKind.USER_CASH), str(AccountKind.USER_POINTS)


class _History:
    """One pass over a tenant's journals in order, with the holders' postings of its settled
    days: the price each journal executed at must never fall; each holder's quota, quota used,
    spend and exited flag as the rules leave them (``domain.economy.purchase``/``dividend``)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.findings: list[str] = []
        self.holders: dict[str, list[int | bool]] = {}  # name -> [quota, used, spend, exited]
        self.referrers: dict[str, str] = {}  # name -> referrer, from the join journals
        # name -> fen of dividends a refund's reversal took back (owed, no longer received)
        self.dividends_removed: dict[str, int] = {}
        self._price: Decimal | None = None
        self._price_journal = 0

    def read(self, conn: Connection) -> None:
        # Journal rows (account NULL) and the user postings of dividend and forced-exit
        # journals, in journal order (the rows of one journal in any order: its holders are
        # independent of each other).
        query = text(
            "SELECT journal_id, code, result, NULL AS account, NULL AS holder, NULL AS amount "
            "FROM journals WHERE tenant_id = :t "
            "UNION ALL "
            "SELECT p.journal_id, j.code, NULL, p.account, p.holder, p.amount "
            "FROM postings p JOIN journals j "
            "ON j.tenant_id = p.tenant_id AND j.journal_id = p.journal_id "
            "WHERE p.tenant_id = :t AND j.code IN (:dividend, :exit) "
            "AND p.account IN (:cash, :points) "
            "ORDER BY 1"
        ).execution_options(yield_per=10_000)
        args = {
            "t": self.tenant_id,
            "dividend": _DIVIDEND,
            "exit": _EXIT,
            "cash": _USER_CASH,
            "points": _USER_POINTS,
        }
        for jid, code, result, account, holder, amount in conn.execute(query, args):
            if account is None:
                self._journal(jid, code, result)
            else:
                self._settled(code, account, holder, int(amount))

    def _holder(self, name: str) -> list[int | bool]:
        found = self.holders.get(name)
        if found is None:
            found = self.holders[name] = list(_NEVER)
        return found

    def _journal(self, jid: int, code: str, result: str) -> None:
        try:
            data = json.loads(result)
            price_text = data.get("price")
            price = None if price_text is None else Decimal(price_text)
            if code == _JOIN:
                self.referrers[str(data["user"])] = str(data["referrer"])
            elif code == _PURCHASE:
                buyer = str(data["buyer"])
                quota_added = parse_money(data["quota_added"], allow_zero=True)
                amount = parse_money(data["amount"], allow_zero=True)
            elif code == _REVERSAL:
                taken = [
                    (
                        str(row["holder"]),
                        parse_money(row["quota_removed"], allow_zero=True),
                        parse_money(row["quota_used_removed"], allow_zero=True),
                        parse_money(row["spend_removed"], allow_zero=True),
                        parse_money(row.get("dividends_removed", "0"), allow_zero=True),
                    )
                    for row in data["holders"]
                ]
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            ArithmeticError,
            DomainError,
        ) as error:
            self.findings.append(f"journal {jid} ({code}): its result cannot be read ({error})")
            return
        if price is not None:
            if self._price is not None and price < self._price:
                self.findings.append(
                    f"price fell from {self._price} (journal {self._price_journal}) to "
                    f"{price} (journal {jid})"
                )
            self._price, self._price_journal = price, jid
        if code == _PURCHASE:  # rule 1
            h = self._holder(buyer)
            h[0] += quota_added
            h[2] += amount
            if quota_added > 0:
                h[3] = False
        elif code == _REVERSAL:  # rule 9: a booked order refunded takes its quota and spend back
            for name, quota, used, spend, dividends in taken:
                if dividends:
                    self.dividends_removed[name] = self.dividends_removed.get(name, 0) + dividends
                h = self._holder(name)
                h[0] -= quota
                h[1] -= used
                h[2] -= spend
                if quota > 0 and h[0] - h[1] <= 0:
                    h[3] = True

    def _settled(self, code: str, account: str, name: str, amount: int) -> None:
        h = self._holder(name)
        if code == _DIVIDEND:  # rule 6: a payout uses up quota; filled, the holder has exited
            if account == _USER_CASH:
                h[1] += amount
                h[3] = h[1] >= h[0]
        else:  # rule 7: the payout uses up quota, up to what remains; the holder has exited
            if account == _USER_CASH:
                h[1] = min(h[1] + amount, h[0])
            h[3] = True


def _settled_days(conn: Connection, tenant_id: str, last_day: int | None) -> list[str]:
    """Every settled day names its two journals, of its date; every dividend journal has its
    day; the state's last settled day is the latest."""
    out: list[str] = []
    day_journals = {
        int(jid): (str(code), bdate)
        for jid, code, bdate in conn.execute(
            select(journals.c.journal_id, journals.c.code, journals.c.business_date).where(
                journals.c.tenant_id == tenant_id, journals.c.code.in_([_DIVIDEND, _EXIT])
            )
        )
    }
    claimed: set[int] = set()
    latest = None
    for bdate, dividend_id, exit_id in conn.execute(
        select(
            settled_days.c.business_date,
            settled_days.c.dividend_journal_id,
            settled_days.c.exit_journal_id,
        )
        .where(settled_days.c.tenant_id == tenant_id)
        .order_by(settled_days.c.business_date)
    ):
        latest = bdate
        for jid, code in ((int(dividend_id), _DIVIDEND), (int(exit_id), _EXIT)):
            claimed.add(jid)
            found = day_journals.get(jid)
            if found is None or found[0] != code:
                out.append(f"settled day {bdate}: journal {jid} is not a {code} journal")
            elif found[1] != bdate:
                out.append(f"settled day {bdate}: journal {jid} is of {found[1]}")
    for jid in sorted(set(day_journals) - claimed):
        code, bdate = day_journals[jid]
        out.append(f"{code} journal {jid} of {bdate} belongs to no settled day")
    latest_ordinal = latest.toordinal() if latest is not None else None
    if latest_ordinal != last_day:
        shown = "none" if last_day is None else date.fromordinal(last_day).isoformat()
        out.append(f"the last settled day is {shown} but the latest settled day is {latest}")
    return out


def clean(reports: list[TenantAudit]) -> bool:
    return all(not r.findings for r in reports)
