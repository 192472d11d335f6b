"""market.md, checked from the outside: ``tokenmall market replay`` in a real subprocess (exact
output lines, exit codes, ``line N: …`` with exit 2 for input that cannot be read), one rule a
test, under the profile the rule belongs to."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the HTTP helpers of tests/api and tests (the API tests' own modules, not their conftest)
_TESTS = Path(__file__).resolve().parents[1]
for _dir in (_TESTS, _TESTS / "api"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from mall_api import (  # noqa: E402
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    Api,
    TenantFixture,
    make_tenant,
    ok,
)

from served import Server, app_settings, integration_db_url, served  # noqa: E402

COL = {
    "op": "collection",
    "id": "c",
    "issuer": "brand",
    "editions": 10,
    "price": "100.00",
    "fee_rate": "0.02",
    "royalty_rate": "0.05",
}


def col(**extra: Any) -> dict[str, Any]:
    return {**COL, **extra}


def run(events: list[Any], profile: str | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tokenmall", "market", "replay", "-"]
    if profile is not None:
        args += ["--profile", profile]
    text = "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)
    result = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr
    return result


def replay(events: list[Any], profile: str | None = None) -> list[dict[str, Any]]:
    """The output lines of a run that must succeed (exit 0, nothing on stderr)."""
    result = run(events, profile)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(events) + 1
    assert [line.get("n") for line in lines[:-1]] == list(range(1, len(events) + 1))
    return lines


def codes(lines: list[dict[str, Any]]) -> list[str | bool]:
    """Per event: True if accepted, else its refusal code."""
    return [True if ln["ok"] else ln["code"] for ln in lines[:-1]]


def final(lines: list[dict[str, Any]]) -> dict[str, Any]:
    last = lines[-1]
    assert last["final"] is True
    return last


DAYS5 = [{"op": "day"}] * 5


def kyc(*users: str) -> list[dict[str, Any]]:
    return [{"op": "kyc", "user": u} for u in users]


def dep(user: str, amount: str) -> dict[str, Any]:
    return {"op": "deposit", "user": user, "amount": amount}


# --- the output format, trades, fees and royalties ------------------------------------------


def test_open_listing_taken_exact_output_and_split() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 3},
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "120.00"},
        {"op": "take", "user": "b", "order": 1},
    ]
    result = run(events, "open")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        '{"n": 1, "ok": true}',
        '{"n": 2, "ok": true, "tokens": ["c/1", "c/2", "c/3"]}',
        '{"n": 3, "ok": true}',
        '{"n": 4, "ok": true, "order": 1}',
        '{"n": 5, "ok": true, "trades": [{"token": "c/1", "seller": "a", "buyer": "b", '
        '"price": "120.00", "fee": "2.40", "royalty": "6.00"}]}',
        '{"final": true, "cash": {"a": "111.60", "b": "380.00"}, '
        '"owners": {"c/1": "b", "c/2": "a", "c/3": "a"}, "platform": "2.40", '
        '"issuers": {"brand": "6.00"}}',
    ]


def test_default_profile_is_open() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "list", "user": "a", "token": "c/1", "price": "120.00"},
    ]
    assert codes(replay(events)) == [True, True, True]


def test_fee_and_royalty_are_floored_to_the_fen() -> None:
    events = [
        col(fee_rate="0.015", royalty_rate="0.033"),
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "200.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.99"},
        {"op": "take", "user": "b", "order": 1},
    ]
    lines = replay(events, "open")
    # 100.99 × 0.015 = 1.51485 → 1.51; 100.99 × 0.033 = 3.33267 → 3.33
    assert lines[4]["trades"] == [
        {
            "token": "c/1",
            "seller": "a",
            "buyer": "b",
            "price": "100.99",
            "fee": "1.51",
            "royalty": "3.33",
        }
    ]
    end = final(lines)
    assert end["cash"] == {"a": "96.15", "b": "99.01"}
    assert end["platform"] == "1.51"
    assert end["issuers"] == {"brand": "3.33"}


def test_bid_at_or_above_lowest_listing_trades_at_listing_price_best_then_earliest() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        {"op": "mint", "collection": "c", "to": "s"},
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "110.00"},
        {"op": "list", "user": "s", "token": "c/3", "price": "105.00"},
        {"op": "list", "user": "a", "token": "c/2", "price": "105.00"},
        {"op": "bid", "user": "b", "collection": "c", "price": "115.00"},
    ]
    lines = replay(events, "open")
    assert lines[7]["order"] == 4
    assert lines[7]["trades"] == [
        {
            "token": "c/3",
            "seller": "s",
            "buyer": "b",
            "price": "105.00",
            "fee": "2.10",
            "royalty": "5.25",
        }
    ]
    assert final(lines)["cash"]["b"] == "395.00"


def test_listing_at_or_below_highest_bid_trades_at_bid_price() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "300.00"),
        dep("d", "300.00"),
        {"op": "bid", "user": "b", "collection": "c", "price": "104.00"},
        {"op": "bid", "user": "d", "collection": "c", "price": "108.00"},
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
    ]
    lines = replay(events, "open")
    assert lines[6]["order"] == 3
    assert lines[6]["trades"] == [
        {
            "token": "c/1",
            "seller": "a",
            "buyer": "d",
            "price": "108.00",
            "fee": "2.16",
            "royalty": "5.40",
        }
    ]
    end = final(lines)
    # b's open bid is still b's money
    assert end["cash"] == {"b": "300.00", "d": "192.00", "a": "100.44"}
    assert end["owners"] == {"c/1": "d"}


def test_bid_reserves_cash_and_cancel_returns_it() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        dep("b", "150.00"),
        {"op": "bid", "user": "b", "collection": "c", "price": "100.00"},
        {"op": "bid", "user": "b", "collection": "c", "price": "100.00"},
        {"op": "cancel", "user": "a", "order": 1},
        {"op": "cancel", "user": "b", "order": 1},
        {"op": "bid", "user": "b", "collection": "c", "price": "100.00"},
        {"op": "cancel", "user": "b", "order": 1},
    ]
    lines = replay(events, "open")
    assert codes(lines) == [True, True, True, True, "insufficient_funds", "not_owner", True,
                            True, "not_found"]  # fmt: skip
    assert lines[7]["order"] == 2
    assert final(lines)["cash"] == {"b": "150.00", "a": "0.00"}


def test_listing_locks_its_token_and_a_trade_cancels_its_other_orders() -> None:
    events = [
        col(royalty_rate="0"),
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "list", "user": "a", "token": "c/1", "price": "101.00"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "x"},
        {"op": "take", "user": "b", "order": 1},
        {"op": "take", "user": "b", "order": 1},
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "gift", "user": "b", "token": "c/1", "to": "x"},
    ]
    assert codes(replay(events, "open")) == [True, True, True, True, "token_locked",
                                             "token_locked", True, "not_found", "not_owner",
                                             True]  # fmt: skip


def test_gift_cancels_open_agreement() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        *kyc("a", "b", "x"),
        dep("b", "500.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "x"},
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-3:] == [True, True, "not_found"]
    assert final(lines)["owners"] == {"c/1": "x"}
    assert final(lines)["cash"]["b"] == "500.00"


def test_self_trade_refused_and_nothing_changes() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("a", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "bid", "user": "a", "collection": "c", "price": "100.00"},
        {"op": "take", "user": "a", "order": 1},
        {"op": "bid", "user": "a", "collection": "c", "price": "99.00"},
    ]
    lines = replay(events, "open")
    assert codes(lines) == [True, True, True, True, "self_trade", "self_trade", True]
    assert lines[6]["order"] == 2  # the refused bid took no order id
    assert final(lines)["cash"] == {"a": "500.00"}


def test_insufficient_funds_on_take_changes_nothing() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "99.99"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},
        dep("b", "0.01"),
        {"op": "take", "user": "b", "order": 1},
    ]
    lines = replay(events, "open")
    assert codes(lines) == [True, True, True, True, "insufficient_funds", True, True]
    assert final(lines)["cash"] == {"b": "0.00", "a": "93.00"}


# --- profiles: which actions exist ------------------------------------------------------------


def test_cn_gift_only_has_gifts_only() -> None:
    events = [
        col(gift_hold_days=0),
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b"),
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "bid", "user": "b", "collection": "c", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},
        {"op": "cancel", "user": "a", "order": 1},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
    ]
    lines = replay(events, "cn-gift-only")
    assert codes(lines)[-7:] == ["profile_forbids"] * 6 + [True]
    end = final(lines)
    assert end["owners"] == {"c/1": "b", "c/2": "a"}
    assert end["cash"] == {"a": "0.00", "b": "500.00"}
    assert end["platform"] == "0.00"


def test_cn_licensed_has_agreements_and_gifts_but_no_listings() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b"),
        dep("b", "500.00"),
        *DAYS5,
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "bid", "user": "b", "collection": "c", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "105.00"},
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-5:] == ["profile_forbids"] * 3 + [True, True]
    assert lines[-3]["order"] == 1
    assert lines[-2]["trades"] == [
        {
            "token": "c/1",
            "seller": "a",
            "buyer": "b",
            "price": "105.00",
            "fee": "2.10",
            "royalty": "5.25",
        }
    ]


def test_agreement_only_for_the_named_buyer_and_cancel_by_seller() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "500.00"),
        dep("x", "500.00"),
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "x", "order": 1},
        {"op": "cancel", "user": "b", "order": 1},
        {"op": "cancel", "user": "a", "order": 1},
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, "open")
    assert codes(lines)[-4:] == ["not_found", "not_owner", True, "not_found"]
    assert final(lines)["owners"] == {"c/1": "a"}


# --- KYC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["cn-gift-only", "cn-licensed"])
def test_kyc_required_for_both_sides_of_a_gift(profile: str) -> None:
    events = [
        col(gift_hold_days=0),
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        *kyc("a"),
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        *kyc("b"),
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
    ]
    lines = replay(events, profile)
    assert codes(lines) == [True, True, "kyc_required", True, "kyc_required", True, True]
    assert final(lines)["owners"] == {"c/1": "b"}


def test_kyc_required_for_both_sides_of_an_agreement_under_cn_licensed() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "500.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        *kyc("a"),
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},
        *kyc("b"),
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-6:] == ["kyc_required", True, True, "kyc_required", True, True]
    assert final(lines)["cash"] == {"b": "400.00", "a": "93.00"}


def test_open_needs_no_kyc_by_default() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
    ]
    assert codes(replay(events, "open")) == [True, True, True]


# --- holding periods ------------------------------------------------------------------------


def test_gift_hold_default_180_calendar_days_and_recipient_waits_again() -> None:
    days = [{"op": "day", "trading": False}] * 179
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        *kyc("a", "b", "x"),
        *days,  # calendar day 180
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        {"op": "day", "trading": False},  # calendar day 181
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        {"op": "gift", "user": "b", "token": "c/1", "to": "x"},
    ]
    lines = replay(events, "cn-gift-only")
    assert codes(lines)[-4:] == ["hold_period", True, True, "hold_period"]
    assert final(lines)["owners"] == {"c/1": "b"}


def test_gift_hold_days_per_collection() -> None:
    events = [
        col(gift_hold_days=2),
        {**col(gift_hold_days=0), "id": "d"},
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "mint", "collection": "d", "to": "a"},
        *kyc("a", "b"),
        {"op": "gift", "user": "a", "token": "d/1", "to": "b"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        {"op": "day"},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        {"op": "day", "trading": False},
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
    ]
    lines = replay(events, "cn-gift-only")
    assert codes(lines)[-6:] == [True, "hold_period", True, "hold_period", True, True]
    assert final(lines)["owners"] == {"c/1": "b", "d/1": "b"}


@pytest.mark.parametrize("profile", ["cn-licensed", "open"])
def test_gift_hold_defaults_to_zero(profile: str) -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        *kyc("a", "b"),
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},
        {"op": "gift", "user": "b", "token": "c/1", "to": "a"},
    ]
    assert codes(replay(events, profile))[-2:] == [True, True]


def test_cn_licensed_t_plus_n_both_directions_per_collection() -> None:
    events = [
        COL,  # hold_trading_days default 5
        {**COL, "id": "e"},
        {"op": "mint", "collection": "c", "to": "a", "count": 2},  # a "bought" c on day 1
        {"op": "mint", "collection": "c", "to": "s"},
        {"op": "mint", "collection": "e", "to": "s"},
        *kyc("a", "b", "s"),
        dep("a", "1000.00"),
        dep("b", "1000.00"),
        *[{"op": "day"}] * 4,  # trading day 5
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "day"},  # trading day 6 = 1 + 5
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},  # a sold c on day 6, b bought c on day 6
        {"op": "offer", "user": "s", "token": "c/3", "to": "a", "price": "100.00"},
        {"op": "accept", "user": "a", "order": 2},  # a may not buy c before day 11
        {"op": "offer", "user": "s", "token": "e/1", "to": "a", "price": "100.00"},
        {"op": "accept", "user": "a", "order": 3},  # another collection: free
        {"op": "offer", "user": "a", "token": "c/2", "to": "b", "price": "100.00"},
        {"op": "offer", "user": "b", "token": "c/1", "to": "s", "price": "100.00"},
        *[{"op": "day"}] * 4,  # trading day 10
        {"op": "accept", "user": "a", "order": 2},
        {"op": "offer", "user": "b", "token": "c/1", "to": "s", "price": "100.00"},
        {"op": "day"},  # trading day 11
        {"op": "accept", "user": "a", "order": 2},
        {"op": "offer", "user": "b", "token": "c/1", "to": "s", "price": "100.00"},
    ]
    lines = replay(events, "cn-licensed")
    got = codes(lines)
    assert got[14] == "hold_period"
    assert got[15:24] == [True, True, True, True, "hold_period", True, True, True,
                          "hold_period"]  # fmt: skip
    assert got[24:] == [True] * 4 + ["hold_period", "hold_period", True, True, True]
    end = final(lines)
    assert end["owners"] == {"c/1": "b", "c/2": "a", "c/3": "a", "e/1": "a"}


def test_cn_licensed_hold_is_at_least_five() -> None:
    events = [col(hold_trading_days=4), col(hold_trading_days=5)]
    assert codes(replay(events, "cn-licensed")) == ["invalid_input", True]


def test_open_hold_per_token_in_trading_days_over_a_non_trading_day() -> None:
    events = [
        col(hold_trading_days=1, royalty_rate="0"),
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "day", "trading": False},  # still before trading day 2
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "day"},  # trading day 2
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},  # b bought c/1 on trading day 2
        {"op": "list", "user": "b", "token": "c/1", "price": "100.00"},
        {"op": "list", "user": "a", "token": "c/2", "price": "100.00"},  # per token: free
        {"op": "day"},
        {"op": "list", "user": "b", "token": "c/1", "price": "100.00"},
    ]
    lines = replay(events, "open")
    assert codes(lines) == [True, True, True, "hold_period", True, "hold_period", True, True,
                            True, "hold_period", True, True, True]  # fmt: skip


def test_open_default_hold_is_zero() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "500.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},
        {"op": "list", "user": "b", "token": "c/1", "price": "100.00"},
        {"op": "day", "trading": False},
        {"op": "cancel", "user": "b", "order": 2},
        {"op": "list", "user": "b", "token": "c/1", "price": "100.00"},
    ]
    assert codes(replay(events, "open")) == [True] * 9


# --- price band, reference price, calendar, halts, holder limit --------------------------------


def test_band_default_ten_percent_inclusive_around_primary_price() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        *kyc("a", "b"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "110.01"},
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "89.99"},
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "110.00"},
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "90.00"},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-4:] == ["price_band", "price_band", True, True]


def test_reference_price_is_last_trade_before_today() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b", "x"),
        dep("b", "1000.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "110.00"},
        {"op": "accept", "user": "b", "order": 1},  # a trade at 110.00 today
        # today's reference is still 100.00: 121.00 is outside, 90.00 inside
        {"op": "offer", "user": "a", "token": "c/2", "to": "x", "price": "121.00"},
        {"op": "offer", "user": "a", "token": "c/2", "to": "x", "price": "90.00"},
        {"op": "cancel", "user": "a", "order": 2},
        {"op": "day"},  # reference 110.00: band 99.00 … 121.00
        {"op": "offer", "user": "a", "token": "c/2", "to": "x", "price": "98.99"},
        {"op": "offer", "user": "a", "token": "c/2", "to": "x", "price": "121.00"},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-8:] == [True, True, "price_band", True, True, True, "price_band",
                                 True]  # fmt: skip


def test_open_band_optional() -> None:
    events = [
        COL,
        {**col(band="0.10"), "id": "d"},
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "mint", "collection": "d", "to": "a"},
        {"op": "list", "user": "a", "token": "c/1", "price": "1000.00"},
        {"op": "list", "user": "a", "token": "d/1", "price": "110.01"},
        {"op": "list", "user": "a", "token": "d/1", "price": "110.00"},
    ]
    assert codes(replay(events, "open"))[-3:] == [True, "price_band", True]


def test_cn_licensed_refuses_trades_on_non_trading_days_but_not_gifts_or_cancels() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b"),
        dep("b", "500.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "day", "trading": False},
        {"op": "offer", "user": "a", "token": "c/2", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},
        {"op": "gift", "user": "a", "token": "c/2", "to": "b"},
        {"op": "cancel", "user": "a", "order": 1},
        {"op": "day"},
        {"op": "offer", "user": "b", "token": "c/2", "to": "a", "price": "100.00"},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-7:] == [True, "market_closed", "market_closed", True, True, True, True]
    assert final(lines)["cash"] == {"a": "0.00", "b": "500.00"}


def test_open_trades_on_non_trading_days() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a"},
        dep("b", "500.00"),
        {"op": "day", "trading": False},
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
        {"op": "take", "user": "b", "order": 1},
    ]
    assert codes(replay(events, "open")) == [True] * 6


@pytest.mark.parametrize("profile", ["cn-licensed", "open"])
def test_halt_stops_trading_not_gifts_or_cancels(profile: str) -> None:
    events = [
        COL,
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b"),
        dep("b", "500.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "halt", "collection": "c"},
        {"op": "offer", "user": "a", "token": "c/2", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},
        {"op": "gift", "user": "a", "token": "c/2", "to": "b"},
        {"op": "resume", "collection": "c"},
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, profile)
    assert codes(lines)[-7:] == [True, True, "halted", "halted", True, True, True]


def test_holder_limit_counts_everyone_who_ever_held_including_gifts() -> None:
    events = [
        col(holder_limit=2),
        {"op": "mint", "collection": "c", "to": "a", "count": 2},
        *kyc("a", "b", "x"),
        {"op": "gift", "user": "a", "token": "c/1", "to": "b"},  # holders a, b
        {"op": "gift", "user": "b", "token": "c/1", "to": "a"},  # a held before: fine
        {"op": "gift", "user": "a", "token": "c/2", "to": "x"},  # a third holder
        {"op": "gift", "user": "a", "token": "c/2", "to": "b"},  # b held once: fine
        {"op": "mint", "collection": "c", "to": "x"},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-5:] == [True, True, "holder_limit", True, "holder_limit"]
    assert final(lines)["owners"] == {"c/1": "a", "c/2": "b"}


def test_holder_limit_on_an_agreement() -> None:
    events = [
        col(holder_limit=1),
        {"op": "mint", "collection": "c", "to": "a"},
        *kyc("a", "b"),
        dep("b", "500.00"),
        *DAYS5,
        {"op": "offer", "user": "a", "token": "c/1", "to": "b", "price": "100.00"},
        {"op": "accept", "user": "b", "order": 1},
    ]
    lines = replay(events, "cn-licensed")
    assert codes(lines)[-2:] == [True, "holder_limit"]
    assert final(lines)["cash"] == {"a": "0.00", "b": "500.00"}


# --- unknown things and bad input --------------------------------------------------------------


def test_unknown_names_are_not_found_and_bad_values_invalid_input() -> None:
    events = [
        COL,
        {"op": "mint", "collection": "z", "to": "a"},
        {"op": "mint", "collection": "c", "to": "a"},
        {"op": "list", "user": "a", "token": "c/9", "price": "100.00"},
        {"op": "take", "user": "a", "order": 42},
        {"op": "list", "user": "a", "token": "c/1", "price": "100.001"},
        {"op": "list", "user": "a", "token": "c/1", "price": "0.00"},
        dep("a", "-1.00"),
        {"op": "list", "user": "a", "token": "c/1", "price": "100.00"},
    ]
    lines = replay(events, "open")
    assert codes(lines) == [True, "not_found", True, "not_found", "not_found", "invalid_input",
                            "invalid_input", "invalid_input", True]  # fmt: skip
    assert lines[-2]["order"] == 1


@pytest.mark.parametrize(
    ("bad", "word"),
    [
        ("not json", ""),
        ("[1, 2]", ""),
        ('{"op":"fly"}', "fly"),
        ('{"op":"deposit","user":"a"}', "amount"),
        ('{"op":"deposit","user":"a","amount":100.5}', ""),
        ('{"op":"mint","collection":"c","to":"a","count":"2"}', "count"),
    ],
)
def test_malformed_line_stops_with_line_n_exit_2(bad: str, word: str) -> None:
    events: list[Any] = [COL, {"op": "mint", "collection": "c", "to": "a"}, bad, {"op": "day"}]
    result = run(events, "open")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        '{"n": 1, "ok": true}',
        '{"n": 2, "ok": true, "tokens": ["c/1"]}',
    ]
    assert result.stderr.startswith("line 3: ")
    assert word in result.stderr


def test_unknown_profile_exit_2() -> None:
    result = run([COL], "wild-west")
    assert result.returncode == 2
    assert result.stdout == ""


# --- refusal sentences, and the same rules over real HTTP (SQLite and PostgreSQL) -------------


def test_every_refusal_code_has_a_chinese_and_an_english_sentence() -> None:
    from tokenmall.domain.market.refusals import Code, sentence

    assert {c.value for c in Code} == {
        "not_owner", "token_locked", "kyc_required", "profile_forbids", "hold_period",
        "price_band", "holder_limit", "halted", "self_trade", "insufficient_funds",
        "market_closed", "not_found", "expired", "invalid_input",
    }  # fmt: skip
    for code in Code:
        zh, en = sentence(code, "zh"), sentence(code, "en")
        assert zh
        assert en
        assert zh != en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


db_url = integration_db_url("tokenmall_spec_market")


@pytest.fixture(scope="module")
def spec_server(db_url: str) -> Iterator[Server]:
    settings = app_settings(
        db_url, operator_email=OPERATOR_EMAIL, operator_password=OPERATOR_PASSWORD
    )
    with served(settings) as (base, app):
        yield Server(base, settings, app)


@pytest.fixture
def spec_api(spec_server: Server) -> Iterator[Api]:
    client = Api(spec_server.base_url)
    yield client
    client.http.close()


@pytest.fixture
def spec_tenant(spec_api: Api) -> TenantFixture:
    login = {"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
    answer = spec_api.post("/api/v1/platform/login", json=login)
    assert answer.status_code == 200, answer.text
    return make_tenant(spec_api, str(answer.json()["token"]))


def test_http_cancel_under_cn_gift_only_is_profile_forbids(
    spec_api: Api, spec_tenant: TenantFixture
) -> None:
    api, t = spec_api, spec_tenant
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-gift-only"}))
    res = api.post(t.path("/market/orders/1/cancel"), t.consumer_token, json={})
    assert 400 <= res.status_code < 500
    assert res.json()["error"]["code"] == "profile_forbids"
