"""``tokenmall simulate`` end to end: the files in DIR, their contents, and refused input."""

from __future__ import annotations

import csv
import json
import re
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenmall.cli.main import app
from tokenmall.sim.output import COLUMNS

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNGS = ("price.png", "pools.png", "flows.png", "days_to_pay.png", "cohorts.png")
REQUIRED = (
    "day",
    "price",
    "pool",
    "circulating",
    "minted",
    "dividend_pool",
    "dividends_paid",
    "quota_outstanding",
    "days_to_pay_quota",
    "exits",
    "buybacks",
    "stable_outstanding",
    "stable_cover",
)
DECIMAL = re.compile(r"^-?\d+\.\d+$")


def simulate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["simulate", "--no-progress", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def stall_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "stall"
    with warnings.catch_warnings():
        # A glyph missing from the font is a UserWarning from matplotlib: make it fail.
        warnings.simplefilter("error", UserWarning)
        code, output = simulate(
            "--scenario", "stall", "--days", "40", "--seed", "4", "--out", str(out)
        )
    assert code == 0, output
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_every_output_is_written(stall_dir: Path) -> None:
    names = {p.name for p in stall_dir.iterdir()}
    assert {"report.html", "series.csv", "series.json", "cohorts.csv", *PNGS} <= names
    for name in PNGS:
        data = (stall_dir / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 10_000, name


def test_series_csv_has_one_row_a_day_of_decimal_strings(stall_dir: Path) -> None:
    with (stall_dir / "series.csv").open(encoding="utf-8") as stream:
        header = stream.readline().strip().split(",")
    assert header == list(COLUMNS)
    assert set(REQUIRED) <= set(header)
    rows = read_csv(stall_dir / "series.csv")
    assert [row["day"] for row in rows] == [str(d) for d in range(1, 41)]
    for row in rows:
        for column in ("price", "pool", "circulating", "dividend_pool", "quota_outstanding"):
            assert DECIMAL.match(row[column]), (column, row[column])
        # totals reconcile in the written figures too
        assert Decimal(row["money_in_total"]) == (
            Decimal(row["pool"])
            + Decimal(row["dividend_pool"])
            + Decimal(row["dividends_paid_total"])
            + Decimal(row["buybacks_total"])
            + Decimal(row["revenue_total"])
        )
    prices = [Decimal(row["price"]) for row in rows]
    assert prices == sorted(prices)
    # sales stop halfway: a week later the quota is shown as never paid (an empty cell)
    assert rows[-1]["days_to_pay_quota"] == ""
    assert rows[0]["days_to_pay_quota"].isdigit()


def test_series_json_carries_strings_and_no_floats(stall_dir: Path) -> None:
    document = json.loads(
        (stall_dir / "series.json").read_text(encoding="utf-8"),
        parse_float=lambda text: pytest.fail(f"a float in JSON: {text}"),
    )
    assert document["scenario"] == "stall"
    assert document["violations"] == []
    assert len(document["series"]) == 40
    assert document["series"][-1]["days_to_pay_quota"] is None
    assert document["final"]["quota_outstanding"] == document["series"][-1]["quota_outstanding"]
    assert document["final"]["statement"][0].startswith("有保障")


def test_cohorts_csv_compares_first_and_last_tenth(stall_dir: Path) -> None:
    rows = read_csv(stall_dir / "cohorts.csv")
    assert [row["cohort"] for row in rows] == ["first 10%", "last 10%"]
    for row in rows:
        received = (
            Decimal(row["dividends"])
            + Decimal(row["buybacks"])
            + Decimal(row["stable"])
            + Decimal(row["points_value"])
        )
        assert Decimal(row["received"]) == received
        multiple = (received / Decimal(row["spent"])).quantize(
            Decimal("0.0001"), rounding="ROUND_DOWN"
        )
        assert row["multiple"] == str(multiple)


def test_report_is_self_contained_and_states_what_is_backed(stall_dir: Path) -> None:
    html = (stall_dir / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == len(PNGS)
    # nothing outside the file: no address, no stylesheet or script to fetch
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert "http" not in text
    assert "//" not in text
    assert "url(" not in text
    assert "<link" not in text
    assert "<script" not in text
    assert "有保障" in html
    assert "Backed:" in html
    assert "是承诺" in html
    assert "A promise, not backed" in html
    assert "promises no returns" in html
    assert "永远付不完" in html  # sales stopped: the quota is never paid
    assert "Invariants: all hold." in html
    assert "No CJK font" not in html


def test_the_seed_scenario_writes_the_seed_table_into_series_csv(tmp_path: Path) -> None:
    out = tmp_path / "seed"
    code, output = simulate("--scenario", "seed", "--out", str(out), "--no-plots")
    assert code == 0, output
    rows = read_csv(out / "series.csv")
    assert len(rows) == 100
    prices = [Decimal(rows[i]["price"]).quantize(Decimal("0.0001")) for i in (0, 1, 2, 3, 99)]
    assert [str(p) for p in prices] == ["1.4286", "1.6807", "1.8674", "2.0188", "5.1731"]
    assert rows[2]["circulating"] == "48.19500000"
    assert not (out / "report.html").exists()  # --no-plots: data only


def test_an_unknown_scenario_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "nothing"
    code, output = simulate("--scenario", "boom", "--out", str(out))
    assert code == 2
    assert "unknown scenario 'boom'" in output
    assert not out.exists()


def test_an_output_directory_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, output = simulate("--scenario", "seed", "--out", str(blocker / "out"))
    assert code == 2
    assert "--out: cannot write to" in output
    assert "Traceback" not in output
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "pool_rate=0.9"], "pool_rate + dividend_rate"),
        (["--param", "nonsense=1"], "unknown parameter"),
        (["--new-buyers", "a:b"], "new buyers must be numbers"),
        (["--sell-rate", "1.5"], "sell_rate must be between 0 and 1"),
        (["--basket", "12.345"], "more than 2 decimal places"),
        (["--days", "0"], "days must be between 1 and 36500"),
        (["--sweep", "pool_rate"], "a sweep is NAME=V1,V2"),
        (["--sweep", "pool_rate=0.2,0.9"], "sweep combination pool_rate=0.9"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "nothing"
    code, output = simulate("--scenario", "steady", *args, "--out", str(out))
    assert code == 2, output
    assert message in output
    assert not out.exists()


def test_a_scenario_file_sets_behaviour_and_parameters(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(
        json.dumps(
            {
                "name": "mine",
                "base": "steady",
                "days": 12,
                "arrival": "fixed",
                "params": {"pool_rate": "0.25", "referral_rates": []},
                "basket": [["50.00", 1]],
                "phases": [{"new_buyers": 10, "repeat_rate": 0}],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "mine"
    code, output = simulate("--scenario-file", str(path), "--out", str(out), "--no-plots")
    assert code == 0, output
    rows = read_csv(out / "series.csv")
    assert [row["purchases"] for row in rows] == ["10"] * 12
    assert [row["inflow"] for row in rows] == ["500.00"] * 12
    document = json.loads((out / "series.json").read_text(encoding="utf-8"))
    assert document["scenario"] == "mine"
    assert document["params"]["pool_rate"] == "0.25"


def test_a_bad_scenario_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"phases": [{"sell_rate": 2}]}), encoding="utf-8")
    code, output = simulate("--scenario-file", str(path), "--out", str(tmp_path / "x"))
    assert code == 2
    assert "phase 1: sell_rate must be between 0 and 1" in output
    assert not (tmp_path / "x").exists()


def test_a_sweep_writes_one_row_per_combination(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    code, output = simulate(
        "--scenario",
        "steady",
        "--days",
        "15",
        "--out",
        str(out),
        "--sweep",
        "pool_rate=0.2,0.3",
        "--sweep",
        "quota_multiple=1,2",
    )
    assert code == 0, output
    rows = read_csv(out / "sweep.csv")
    assert [(r["pool_rate"], r["quota_multiple"]) for r in rows] == [
        ("0.2", "1"),
        ("0.2", "2"),
        ("0.3", "1"),
        ("0.3", "2"),
    ]
    assert all(r["violations"] == "0" for r in rows)
    # more quota per unit spent is a larger promise for the same sales
    assert Decimal(rows[1]["quota_outstanding"]) > Decimal(rows[0]["quota_outstanding"])
    assert (out / "sweep.png").read_bytes().startswith(PNG_MAGIC)


def test_bench_simulate_prints_purchases_and_seconds() -> None:
    result = runner.invoke(
        app, ["bench", "simulate", "--json", "--purchases", "3000", "--days", "10"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == {"purchases", "seconds"}
    assert figures["purchases"] == 3000
