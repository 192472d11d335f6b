"""economy.md's invariants as a check that lists every violation it finds (empty: all hold)."""

from __future__ import annotations

from tokenmall.domain.economy.state import EconomyState


def violations(state: EconomyState, max_supply_units: int) -> list[str]:
    found: list[str] = []
    holders = state.holders.values()
    held = sum(h.points for h in holders)
    if state.pool < 0:
        found.append(f"backing pool is negative: {state.pool}")
    if state.dividend_pool < 0:
        found.append(f"dividend pool is negative: {state.dividend_pool}")
    if state.minted - state.burned != state.circulating:
        found.append(
            f"minted {state.minted} - burned {state.burned} != circulating {state.circulating}"
        )
    if held + state.treasury != state.circulating:
        found.append(
            f"holdings {held} + treasury {state.treasury} != circulating {state.circulating}"
        )
    if state.minted > max_supply_units:
        found.append(f"minted {state.minted} exceeds max supply {max_supply_units}")
    if state.treasury < 0:
        found.append(f"treasury is negative: {state.treasury}")
    stable = sum(h.stable for h in holders)
    if stable != state.stable_outstanding:
        found.append(f"stable points held {stable} != outstanding {state.stable_outstanding}")
    price_num, price_den = state.price()
    # Cover: treasury × price >= stable points outstanding.
    if state.treasury * price_num < state.stable_outstanding * price_den:
        found.append("treasury value does not cover the stable points outstanding")
    cash = sum(h.cash for h in holders)
    money_out = (
        state.pool
        + state.dividend_pool
        + state.revenue
        + cash
        + state.escrow
        + state.withdrawing
        + state.withdrawn
        + state.commissions_frozen
        + state.market_escrow
        + state.market_fees
        + state.royalties
        - state.receivables
    )
    if state.money_in != money_out:
        found.append(
            f"money in {state.money_in} != pools + revenue + cash balances + escrow + "
            f"withdrawals + frozen commissions + market escrow, fees and royalties "
            f"- receivables {money_out}"
        )
    explained = (
        state.dividends_paid
        + state.buybacks_paid
        + state.commissions_paid
        - state.cash_out
        + state.market_deposits
        - state.market_escrow
        - state.market_fees
        - state.royalties
    )
    if cash != explained:
        found.append(
            "cash balances differ from dividends, buybacks, commissions less cash out, plus "
            "market deposits less market escrow, fees and royalties"
        )
    for name in (
        "escrow",
        "withdrawing",
        "withdrawn",
        "commissions_frozen",
        "commissions_paid",
        "receivables",
        "cash_out",
        "market_deposits",
        "market_escrow",
        "market_fees",
        "royalties",
    ):
        if getattr(state, name) < 0:
            found.append(f"{name} is negative: {getattr(state, name)}")
    for h in holders:
        for name in ("points", "cash", "stable", "quota", "quota_used", "spend", "dividends"):
            if getattr(h, name) < 0:
                found.append(f"{h.name}: {name} is negative")
        if h.quota_used > h.quota:
            found.append(f"{h.name}: quota used {h.quota_used} exceeds quota {h.quota}")
        if h.dividends > h.quota:
            found.append(f"{h.name}: dividends {h.dividends} exceed quota {h.quota}")
    return found


def price_not_below(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """True when the price ``after`` is at least the price ``before`` (exact fractions)."""
    return after[0] * before[1] >= before[0] * after[1]
