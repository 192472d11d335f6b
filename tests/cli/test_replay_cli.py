"""``tokenmall economy replay`` as design/replay.md specifies it, through a real subprocess.

Each case starts the real command (about 2 s each on this machine, most of it importing the
CLI), so the bad-input table holds one line per kind in replay.md and a few near neighbours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD = [
    '{"op": "join", "user": "B", "referrer": "A"}',
    '{"op": "purchase", "user": "A", "amount": "100.00"}',
    '{"op": "purchase", "user": "B", "amount": "100.00"}',
]
AFTER = '{"op": "purchase", "user": "C", "amount": "100.00"}'

SEED_FIRST_LINE = (
    '{"n": 1, "op": "purchase", "price": "1.42857143", "pool": "30.00", '
    '"circulating": "21.00000000", "minted": "21.00000000", "burned": "0.00000000", '
    '"treasury": "0.00000000", "dividend_pool": "10.00", "stable_outstanding": "0.00"}'
)


def write(tmp_path: Path, lines: list[str], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr


def test_preset_seed_prints_the_documented_first_line(tmp_path: Path, cli: Any) -> None:
    events = write(tmp_path, ['{"op": "purchase", "user": "A", "amount": "100.00"}'])
    result = cli("economy", "replay", str(events), "--preset", "seed")
    assert result.returncode == 0, result.stderr
    assert result.stdout == SEED_FIRST_LINE + "\n"
    assert result.stderr == ""


def test_one_line_out_per_line_in(tmp_path: Path, cli: Any) -> None:
    result = cli("economy", "replay", str(write(tmp_path, GOOD)), "--preset", "seed")
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["n"], line["op"]) for line in lines] == [
        (1, "join"),
        (2, "purchase"),
        (3, "purchase"),
    ]
    # B was referred by A: B gets 14.7, A 2.1 more (0.10 × 30 / (30/21)); price 60 / 37.8
    assert lines[2]["circulating"] == "37.80000000"
    assert lines[2]["price"] == "1.58730159"
    assert lines[2]["pool"] == "60.00"


def test_stdin_gives_the_same_output_as_the_file(tmp_path: Path, cli: Any) -> None:
    from_file = cli("economy", "replay", str(write(tmp_path, GOOD)), "--preset", "seed")
    from_stdin = cli("economy", "replay", "-", "--preset", "seed", stdin="\n".join(GOOD) + "\n")
    assert from_stdin.returncode == 0
    assert from_stdin.stdout == from_file.stdout
    assert from_stdin.stdout.count("\n") == 3


def test_params_file_overrides_the_preset(tmp_path: Path, cli: Any) -> None:
    overrides = tmp_path / "params.json"
    overrides.write_text('{"dividend_rate": "0.20", "grant_rate": "0.50"}', encoding="utf-8")
    events = write(tmp_path, ['{"op": "purchase", "user": "A", "amount": "100.00"}'])
    result = cli("economy", "replay", str(events), "--preset", "seed", "--params", str(overrides))
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert (line["dividend_pool"], line["circulating"], line["price"]) == (
        "20.00",
        "15.00000000",
        "2.00000000",
    )


def test_params_line_changes_the_rules_from_the_next_event(tmp_path: Path, cli: Any) -> None:
    events = write(
        tmp_path,
        [
            '{"op": "purchase", "user": "A", "amount": "100.00"}',
            '{"op": "params", "dividend_rate": "0.25"}',
            '{"op": "purchase", "user": "B", "amount": "100.00"}',
        ],
    )
    result = cli("economy", "replay", str(events), "--preset", "seed")
    assert result.returncode == 0, result.stderr
    pools = [json.loads(line)["dividend_pool"] for line in result.stdout.splitlines()]
    assert pools == ["10.00", "10.00", "35.00"]


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ('{"dividend_rate": "1.5"}', "dividend_rate"),
        ('{"no_such": "1"}', "no_such"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_params_file_exits_2_with_a_message(
    tmp_path: Path, cli: Any, contents: str, message: str
) -> None:
    overrides = tmp_path / "params.json"
    overrides.write_text(contents, encoding="utf-8")
    events = write(tmp_path, GOOD)
    result = cli("economy", "replay", str(events), "--params", str(overrides))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    no_traceback(result)


def test_final_line_lists_every_user(tmp_path: Path, cli: Any) -> None:
    result = cli("economy", "replay", str(write(tmp_path, GOOD)), "--preset", "seed", "--final")
    assert result.returncode == 0, result.stderr
    *states, last = result.stdout.splitlines()
    assert len(states) == 3
    final = json.loads(last)
    assert final["final"] is True
    assert sorted(final["users"]) == ["A", "B"]
    keys = ["points", "cash", "stable", "quota", "quota_used", "shares", "level", "exited"]
    for user in final["users"].values():
        assert sorted(user) == sorted(keys)
    assert final["users"]["A"] == {
        "points": "23.10000000",  # 21 of its own, 2.1 for referring B
        "cash": "0.00",
        "stable": "0.00",
        "quota": "200.00",
        "quota_used": "0.00",
        "shares": 0,
        "level": "普通",
        "exited": False,
    }


def test_the_seed_example_file_replays(cli: Any) -> None:
    result = cli(
        "economy", "replay", str(REPO / "examples" / "seed.jsonl"), "--preset", "seed", "--final"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["n"] for line in lines[:-1]] == list(range(1, 12))
    assert lines[0] == {
        "n": 1,
        "op": "join",
        "price": "1.00000000",
        "pool": "0.00",
        "circulating": "0.00000000",
        "minted": "0.00000000",
        "burned": "0.00000000",
        "treasury": "0.00000000",
        "dividend_pool": "0.00",
        "stable_outstanding": "0.00",
    }
    prices = [line["price"] for line in lines[:-1]]
    assert prices == sorted(prices, key=float)  # display only; the engine never uses floats
    assert "wine-shop" in lines[-1]["users"]


BAD_LINES = [
    ("invalid-json", '{"op": "purchase", "user": "A"', "not valid JSON"),
    ("not-an-object", '["purchase", "A"]', "JSON object"),
    ("unknown-op", '{"op": "mint", "user": "A"}', "unknown op"),
    ("missing-field", '{"op": "purchase", "user": "A"}', "missing amount"),
    ("malformed-amount", '{"op": "purchase", "user": "A", "amount": "1.2.3"}', "amount"),
    ("malformed-user", '{"op": "purchase", "user": 7, "amount": "1.00"}', "user"),
    ("json-float", '{"op": "purchase", "user": "A", "amount": 100.00}', "decimal strings"),
    ("json-integer", '{"op": "purchase", "user": "A", "amount": 100}', "decimal string"),
    ("negative", '{"op": "purchase", "user": "A", "amount": "-5.00"}', "negative"),
    ("non-numeric", '{"op": "purchase", "user": "A", "amount": "lots"}', "amount"),
    ("sell-too-much", '{"op": "sell", "user": "B", "points": "100"}', "cannot sell"),
    (
        "stable-lacking",
        '{"op": "pay_stable", "user": "A", "merchant": "M", "amount": "1.00"}',
        "cannot pay",
    ),
    ("bad-params", '{"op": "params", "grant_rate": "0.95"}', "grant_rate"),
    ("unknown-param", '{"op": "params", "colour": "red"}', "colour"),
    (
        "unknown-field",
        '{"op": "purchase", "user": "A", "amount": "1.00", "colour": "red"}',
        "unknown field colour",
    ),
]


@pytest.fixture(scope="module")
def good_prefix_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write(tmp_path_factory.mktemp("prefix"), GOOD)
    result = subprocess.run(
        [sys.executable, "-m", "tokenmall", "economy", "replay", str(path), "--preset", "seed"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    return result.stdout


@pytest.mark.parametrize(
    ("line", "message"), [(line, msg) for _, line, msg in BAD_LINES], ids=[k for k, *_ in BAD_LINES]
)
def test_bad_input_stops_with_line_n_and_exit_2(
    tmp_path: Path, cli: Any, good_prefix_output: str, line: str, message: str
) -> None:
    # Given three good lines, a bad fourth and a good fifth
    events = write(tmp_path, [*GOOD, line, AFTER])
    # When replayed
    result = cli("economy", "replay", str(events), "--preset", "seed")
    # Then it stops at line 4 with exit 2, says what is wrong, and the first three are printed
    assert result.returncode == 2
    assert result.stderr.startswith("line 4: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == good_prefix_output
    no_traceback(result)


def test_bad_input_on_stdin_too(cli: Any, good_prefix_output: str) -> None:
    stdin = "\n".join([*GOOD, '{"op": "sell", "user": "B", "points": "-1"}', AFTER]) + "\n"
    result = cli("economy", "replay", "-", "--preset", "seed", stdin=stdin)
    assert result.returncode == 2
    assert result.stderr.startswith("line 4: ")
    assert result.stdout == good_prefix_output
    no_traceback(result)


def test_bad_first_line_prints_nothing_on_stdout(tmp_path: Path, cli: Any) -> None:
    result = cli("economy", "replay", str(write(tmp_path, ["nonsense", *GOOD])))
    assert result.returncode == 2
    assert result.stderr.startswith("line 1: not valid JSON")
    assert result.stdout == ""


def test_non_utf8_input_is_bad_input(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(("\n".join(GOOD) + "\n").encode() + b'{"op": "join", "user": "\xe9"}\n')
    result = cli("economy", "replay", str(path), "--preset", "seed")
    assert result.returncode == 2
    assert "not valid UTF-8" in result.stderr
    no_traceback(result)


def test_missing_file_exits_2_with_a_message(tmp_path: Path, cli: Any) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = cli("economy", "replay", str(missing))
    assert result.returncode == 2
    assert "nowhere.jsonl" in result.stderr
    assert "cannot read" in result.stderr
    assert result.stdout == ""
    no_traceback(result)


def test_unknown_preset_exits_2(tmp_path: Path, cli: Any) -> None:
    result = cli("economy", "replay", str(write(tmp_path, GOOD)), "--preset", "nope")
    assert result.returncode == 2
    assert "unknown preset" in result.stderr
    no_traceback(result)


SALE = [
    '{"op": "purchase", "user": "A", "amount": "1000.00"}',
    '{"op": "purchase", "user": "B", "amount": "100.00"}',
    '{"op": "sell", "user": "A", "points": "210.00000000"}',
]


@pytest.mark.parametrize(
    ("args", "pool", "dividend_pool"),
    [
        # A's 210 of 224.7 points are worth floor(210 × 330.00 / 224.7) = 308.41; A is paid
        # floor(277.57…) = 277.57 and the fee 30.84 goes to the dividend pool (rule 2)
        (["--preset", "seed"], "21.59", "140.84"),  # 110.00 from the orders (10 %) + 30.84
        ([], "21.59", "360.84"),  # the default dividend rate is 30 %: 330.00 + 30.84
        # the old rule on request: the fee stays in the backing pool, 330.00 - 277.57
        (["--preset", "seed", "--params", "PARAMS"], "52.43", "110.00"),
    ],
)
def test_a_sale_moves_its_fee_where_sell_fee_to_says(
    tmp_path: Path, cli: Any, args: list[str], pool: str, dividend_pool: str
) -> None:
    params = tmp_path / "params.json"
    params.write_text('{"sell_fee_to": "backing_pool"}', encoding="utf-8")
    args = [str(params) if a == "PARAMS" else a for a in args]
    result = cli("economy", "replay", str(write(tmp_path, SALE)), *args, "--final")
    assert result.returncode == 0, result.stderr
    *lines, final = (json.loads(line) for line in result.stdout.splitlines())
    sale = lines[-1]
    assert (sale["op"], sale["pool"], sale["dividend_pool"]) == ("sell", pool, dividend_pool)
    assert sale["circulating"] == "14.70000000"
    assert final["users"]["A"]["cash"] == "277.57"


# -- refunds (economy.md rule 9) -----------------------------------------------------------------

REFUND = [
    '{"op": "purchase", "user": "A", "amount": "100.00"}',
    '{"op": "purchase", "user": "B", "amount": "100.00"}',
    '{"op": "sell", "user": "A", "points": "5"}',
    '{"op": "dividend"}',
    '{"op": "refund", "order": 1}',
]


def test_a_refund_burns_the_points_and_leaves_a_debt(tmp_path: Path, cli: Any) -> None:
    result = cli("economy", "replay", str(write(tmp_path, REFUND)), "--preset", "seed", "--final")
    assert result.returncode == 0, result.stderr
    *lines, final = (json.loads(line) for line in result.stdout.splitlines())
    sale, paid, refund = lines[2], lines[3], lines[4]
    assert refund["op"] == "refund"
    # A's 21 points: 5 sold before, the other 16 burned now; the pool keeps the contribution
    assert (refund["burned"], refund["circulating"]) == ("21.00000000", "14.70000000")
    assert refund["pool"] == paid["pool"] == sale["pool"]
    assert refund["dividend_pool"] == paid["dividend_pool"]
    assert Decimal(refund["price"]) >= Decimal(paid["price"])
    a = final["users"]["A"]
    assert (a["points"], a["quota"], a["quota_used"], a["exited"]) == (
        "0.00000000",
        "0.00",
        "0.00",
        True,
    )
    # the debt: 5 points sold at the price they left at (rounded up) plus the dividends paid
    # against the quota the refund removed (A's quota used before the refund)
    before = cli(
        "economy", "replay", str(write(tmp_path, REFUND[:4])), "--preset", "seed", "--final"
    )
    used = json.loads(before.stdout.splitlines()[-1])["users"]["A"]["quota_used"]
    assert "debt" not in json.loads(before.stdout.splitlines()[-1])["users"]["A"]
    sold = (5 * Decimal(lines[1]["price"])).quantize(Decimal("0.01"), ROUND_UP)
    assert Decimal(used) > 0
    assert Decimal(a["debt"]) == sold + Decimal(used)
    assert final["users"]["B"]["debt"] == "0.00"


def test_a_partial_refund_takes_back_its_share(tmp_path: Path, cli: Any) -> None:
    events = [*REFUND[:2], '{"op": "refund", "order": "2", "amount": "50.00"}']
    result = cli("economy", "replay", str(write(tmp_path, events)), "--preset", "seed", "--final")
    assert result.returncode == 0, result.stderr
    *lines, final = (json.loads(line) for line in result.stdout.splitlines())
    assert lines[-1]["burned"] == "7.35000000"
    assert final["users"]["B"]["points"] == "7.35000000"
    assert final["users"]["B"]["quota"] == "100.00"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"op": "refund", "order": 3}', "no purchase on line 3"),
        ('{"op": "refund", "order": 9}', "no purchase on line 9"),
        ('{"op": "refund", "order": 1}', "already refunded"),
        ('{"op": "refund", "order": "x"}', "line number of a purchase"),
        ('{"op": "refund"}', "missing order"),
        ('{"op": "refund", "order": 2, "amount": "100.01"}', "more than the purchase"),
    ],
)
def test_a_bad_refund_reference_exits_2_naming_the_line(
    tmp_path: Path, cli: Any, bad: str, message: str
) -> None:
    events = [*REFUND[:2], '{"op": "refund", "order": 1}', bad, AFTER]
    result = cli("economy", "replay", str(write(tmp_path, events)), "--preset", "seed", "--final")
    assert result.returncode == 2
    assert result.stderr.startswith("line 4: ")
    assert message in result.stderr
    assert [json.loads(line)["n"] for line in result.stdout.splitlines()] == [1, 2, 3]
    no_traceback(result)
