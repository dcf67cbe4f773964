"""bench.command: option parsing, and the refusals that must come before minutes of benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bench.command
from bench.command import bench as bench_command
from bench.command import parse_concurrency


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any phase that starts is a failure of these tests: they are about what stops a run first."""

    def started(*_: Any, **__: Any) -> Any:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench.command, "bench_model", started)
    monkeypatch.setattr(bench.command, "measure_chain", started)


def test_parse_concurrency_reads_function_equals_count_pairs() -> None:
    assert parse_concurrency(["ingest=4", "classifier=2"]) == {"ingest": 4, "classifier": 2}
    assert parse_concurrency([]) == {}


@pytest.mark.parametrize("spec", ["ingest", "ingest=", "=2", "ingest=0", "ingest=two", "ingest=-1"])
def test_parse_concurrency_rejects_malformed_pairs(spec: str) -> None:
    with pytest.raises(ValueError, match="FUNCTION=N"):
        parse_concurrency([spec])


def test_plot_without_matplotlib_stops_before_the_run_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_run: None
) -> None:
    # GIVEN matplotlib is not installed
    monkeypatch.setattr(bench.command, "plot_available", lambda: False)

    # WHEN a plot is asked for
    outcome = CliRunner().invoke(bench_command, ["--plot", str(tmp_path / "bench.png")])

    # THEN it fails at once, naming the extra, without a traceback
    assert outcome.exit_code == 1
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: --plot needs the 'bench' extra (matplotlib is not installed)")
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--photos", "0"], "must be positive"),
        (["--rate", "0"], "must be positive"),
        (["--concurrency", "ingest=0"], "expected FUNCTION=N"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str, no_run: None) -> None:
    # GIVEN / WHEN
    outcome = CliRunner().invoke(bench_command, args)

    # THEN
    assert outcome.exit_code == 2
    assert message in outcome.output
