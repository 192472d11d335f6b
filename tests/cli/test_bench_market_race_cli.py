"""``tokenmall bench market --database`` at a tiny size on SQLite and PostgreSQL: races of
buyers on one listing each have exactly one winner, nobody is charged twice, the money is
conserved (never a timing asserted)."""

from __future__ import annotations

import json
from typing import Any

from test_bench_drop_cli import _integration_fixtures

db_url = _integration_fixtures().db_url


def test_bench_market_races_have_one_winner_and_conserve_money(cli: Any, db_url: str) -> None:
    result = cli(
        "bench", "market", "--json", "--operations", "1000", "--database", db_url,
        "--runs", "3", "--buyers", "6",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert (report["race_runs"], report["race_winners"]) == (3, 3)
    assert (report["double_charges"], report["race_errors"], report["trade_errors"]) == (0, 0, 0)
    assert report["trades"] == 6 * 4
    assert (report["bids"], report["bid_trades"], report["bid_errors"]) == (24, 24, 0)
    assert report["conservation_ok"] is True, report
    print(f"bench market figures (small run, for reading only): {line}")
