"""``tokenmall market replay`` as market.md specifies it: the examples' golden output through
a real subprocess, stdin and files alike, and bad input (``line N: …``, exit 2, no traceback).
The line-by-line cases run the same ``MarketReplay`` in process (a subprocess costs ~2 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenmall.domain.market.replay import MarketReplay, ReplayError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "market"

COLLECTION = (
    '{"op":"collection","id":"c","issuer":"brand","editions":10,"price":"100.00",'
    '"fee_rate":"0.02","royalty_rate":"0.05"}'
)


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "profile"), [("open", "open"), ("cn-licensed", "cn-licensed")])
def test_the_examples_give_their_golden_output(name: str, profile: str, cli: Any) -> None:
    events = EXAMPLES / f"{name}.jsonl"
    result = cli("market", "replay", str(events), "--profile", profile)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (EXAMPLES / f"{name}.out.jsonl").read_text(encoding="utf-8")
    assert result.stderr == ""


def test_stdin_and_the_default_profile_open(cli: Any) -> None:
    text = (EXAMPLES / "open.jsonl").read_text(encoding="utf-8")
    result = cli("market", "replay", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (EXAMPLES / "open.out.jsonl").read_text(encoding="utf-8")


def test_malformed_line_stops_with_line_n_and_exit_2(tmp_path: Path, cli: Any) -> None:
    events = tmp_path / "bad.jsonl"
    events.write_text(COLLECTION + '\n{"op":"mint","collection":"c"}\n{"op":"day"}\n')
    result = cli("market", "replay", str(events))
    assert result.returncode == 2
    assert result.stdout == '{"n": 1, "ok": true}\n'
    assert result.stderr.startswith("line 2: ")
    assert "to" in result.stderr
    no_traceback(result)


def test_unknown_profile_and_missing_file(tmp_path: Path, cli: Any) -> None:
    result = cli("market", "replay", str(tmp_path / "none.jsonl"))
    assert result.returncode == 2
    no_traceback(result)
    result = cli("market", "replay", "-", "--profile", "wild-west", stdin="")
    assert result.returncode == 2
    assert "wild-west" in result.stderr
    no_traceback(result)


def run(lines: list[str], profile: str = "open") -> list[dict[str, Any]]:
    replay = MarketReplay(profile)
    out = [replay.apply_line(n, text) for n, text in enumerate(lines, start=1)]
    return [*out, replay.final_line()]


def test_the_documented_trade_line() -> None:
    out = run(
        [
            COLLECTION,
            '{"op":"mint","collection":"c","to":"a","count":3}',
            '{"op":"deposit","user":"b","amount":"500.00"}',
            '{"op":"list","user":"a","token":"c/1","price":"120.00"}',
            '{"op":"take","user":"b","order":1}',
        ]
    )
    assert out[1] == {"n": 2, "ok": True, "tokens": ["c/1", "c/2", "c/3"]}
    assert out[3] == {"n": 4, "ok": True, "order": 1}
    assert out[4]["trades"] == [
        {"token": "c/1", "seller": "a", "buyer": "b", "price": "120.00", "fee": "2.40",
         "royalty": "6.00"}
    ]  # fmt: skip
    assert out[-1] == {
        "final": True,
        "cash": {"a": "111.60", "b": "380.00"},
        "owners": {"c/1": "b", "c/2": "a", "c/3": "a"},
        "platform": "2.40",
        "issuers": {"brand": "6.00"},
    }


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('{"op":"deposit","user":"b","amount":"1.001"}', "invalid_input"),
        ('{"op":"deposit","user":"b","amount":"-1.00"}', "invalid_input"),
        ('{"op":"deposit","user":"b","amount":"0"}', "invalid_input"),
        ('{"op":"deposit","user":"b","amount":"abc"}', "invalid_input"),
        ('{"op":"list","user":"a","token":"c/1","price":"0.00"}', "invalid_input"),
        ('{"op":"list","user":"a","token":"c/9","price":"1.00"}', "not_found"),
        ('{"op":"bid","user":"b","collection":"x","price":"1.00"}', "not_found"),
        ('{"op":"bid","user":"b","collection":"c","price":"1.00"}', "insufficient_funds"),
        ('{"op":"take","user":"b","order":7}', "not_found"),
        ('{"op":"mint","collection":"c","to":"a","count":0}', "invalid_input"),
        ('{"op":"mint","collection":"c","to":"a","count":10}', "invalid_input"),
        ('{"op":"halt","collection":"x"}', "not_found"),
        ('{"op":"gift","user":"b","token":"c/1","to":"a"}', "not_owner"),
        (COLLECTION, "invalid_input"),  # a second collection of the same id
        (COLLECTION.replace('"c"', '"d"').replace("0.02", "0.99"), "invalid_input"),
    ],
)
def test_refused_events_print_the_code_and_change_nothing(line: str, code: str) -> None:
    base = [COLLECTION, '{"op":"mint","collection":"c","to":"a"}']
    without = run(base)[-1]
    out = run([*base, line])
    assert out[2] == {"n": 3, "ok": False, "code": code}
    assert out[-1] == without


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"op":"fly"}', "unknown op"),
        ('{"user":"a"}', "unknown op"),
        ('{"op":"deposit","user":"a"}', "missing amount"),
        ('{"op":"deposit","user":"a","amount":5}', "amount"),
        ('{"op":"deposit","user":"a","amount":1.5}', "JSON number"),
        ('{"op":"deposit","user":"a","amount":"1.00","memo":"x"}', "unknown field memo"),
        ('{"op":"take","user":"a","order":"1"}', "order"),
        ('{"op":"take","user":"a","order":true}', "order"),
        ('{"op":"day","trading":"no"}', "trading"),
        ('{"op":"kyc","user":""}', "user"),
        ('{"op":"kyc","user":3}', "user"),
    ],
)
def test_malformed_lines_raise_line_n(line: str, words: str) -> None:
    replay = MarketReplay("open")
    with pytest.raises(ReplayError) as caught:
        replay.apply_line(4, line)
    assert str(caught.value).startswith("line 4: ")
    assert words in str(caught.value)


def test_refused_users_do_not_appear_and_named_ones_do() -> None:
    out = run(
        [
            COLLECTION,
            '{"op":"mint","collection":"c","to":"a"}',
            '{"op":"gift","user":"a","token":"c/1","to":"z"}',
            '{"op":"bid","user":"nobody","collection":"c","price":"1.00"}',
        ]
    )
    assert out[-1]["cash"] == {"a": "0.00", "z": "0.00"}
    assert out[-1]["owners"] == {"c/1": "z"}


def test_every_profile_replays_its_gift(tmp_path: Path) -> None:
    lines = [
        COLLECTION,
        '{"op":"mint","collection":"c","to":"a"}',
        '{"op":"kyc","user":"a"}',
        '{"op":"kyc","user":"b"}',
        '{"op":"gift","user":"a","token":"c/1","to":"b"}',
    ]
    assert run(lines, "open")[4]["ok"] is True
    assert run(lines, "cn-licensed")[4]["ok"] is True
    assert run(lines, "cn-gift-only")[4] == {"n": 5, "ok": False, "code": "hold_period"}
    assert json.dumps(run(lines, "cn-gift-only")[-1]["owners"]) == '{"c/1": "a"}'


def test_final_cash_includes_what_open_bids_reserve() -> None:
    out = run(
        [
            COLLECTION,
            '{"op":"deposit","user":"b","amount":"500.00"}',
            '{"op":"bid","user":"b","collection":"c","price":"120.00"}',
            '{"op":"bid","user":"b","collection":"c","price":"380.01"}',
        ]
    )
    assert out[3] == {"n": 4, "ok": False, "code": "insufficient_funds"}  # 380.00 available
    assert out[-1]["cash"] == {"b": "500.00"}


def test_null_optional_fields_are_absent() -> None:
    line = COLLECTION.replace("}", ',"band":null,"holder_limit":null}')
    out = run([line, '{"op":"mint","collection":"c","to":"a","count":null}'])
    assert out[1] == {"n": 2, "ok": True, "tokens": ["c/1"]}
