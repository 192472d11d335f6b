"""``tokenmall bench nfg --json`` at a tiny size: one JSON object of the figures it promises
(their shape only: figures are never asserted on)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tokenmall.cli.main import app as cli


def test_bench_nfg_prints_one_json_object_of_figures() -> None:
    result = CliRunner().invoke(cli, ["bench", "nfg", "--json", "--leaves", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for name in (
        "log_appends_per_second",
        "leaf_encodes_per_second",
        "log_verify_seconds",
        "log_recompute_seconds",
        "proof_verify_microseconds",
        "proof_hashes",
    ):
        assert isinstance(report[name], int | float), name
    assert report["leaves"] == 300
    assert report["proof_hashes"] == 9  # ceil(log2(300))
    assert report["verified"] is True


def test_bench_nfg_reads_as_text_too() -> None:
    result = CliRunner().invoke(cli, ["bench", "nfg", "--leaves", "64"])
    assert result.exit_code == 0, result.output
    assert "verified: yes" in result.output


def test_bench_nfg_verifies_with_the_jobs_asked_for() -> None:
    for jobs in ("1", "2"):
        result = CliRunner().invoke(
            cli, ["bench", "nfg", "--json", "--leaves", "300", "--jobs", jobs]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["jobs"] == int(jobs)
        assert report["verified"] is True
    refused = CliRunner().invoke(cli, ["bench", "nfg", "--leaves", "300", "--jobs", "0"])
    assert refused.exit_code == 2
    assert "--jobs" in refused.output
