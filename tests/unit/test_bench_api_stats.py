"""bench.locust_stats: a run's figures from Locust's CSV stats and the locustfile's samples, and the
median over runs; and `bench --api`'s refusals, before any stack or venv is built."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bench.api_load
from bench.api_load import photo_plan
from bench.command import bench as bench_command
from bench.locust_stats import SAMPLES, STATS_PREFIX, THROTTLED, read_run, render, summarise

STATS_HEADER = [
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
    "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
]  # fmt: skip


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _stats_row(kind: str, name: str, count: int, failures: int, rate: float, p50: str) -> list[Any]:
    return [
        kind,
        name,
        count,
        failures,
        p50,
        p50,
        1,
        9,
        10,
        rate,
        0,
        p50,
        *(["N/A"] * 4),
        "80",
        *(["N/A"] * 5),
    ]


def a_run(folder: Path, seconds: list[float], *, errors: int = 0, throttled: int = 3) -> Path:
    """A run folder as Locust and the locustfile leave it."""
    folder.mkdir(parents=True)
    _csv(
        folder / f"{STATS_PREFIX}_stats.csv",
        STATS_HEADER,
        [
            _stats_row("POST", "POST /uploads", 10 + throttled, throttled, 2.0, "70"),
            _stats_row("GET", "GET /uploads/{id}", 30 + errors, errors, 6.0, "40"),
            _stats_row("POST", "S3 form POST", 10, 0, 2.0, "30"),
            _stats_row("POST", "Cognito InitiateAuth", 3, 0, 0.5, "8"),
            _stats_row("", "Aggregated", 60, 3, 10.5, "40"),
        ],
    )
    failures = [["POST", "POST /uploads", f"CatchResponseError('{THROTTLED}')", throttled, "", ""]]
    if errors:
        failures.append(["GET", "GET /uploads/{id}", "CatchResponseError('HTTP 500')", errors, "", ""])
    _csv(
        folder / f"{STATS_PREFIX}_failures.csv",
        ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"],
        failures,
    )
    lines = [
        {"status": "routed", "error": None, "upload_to_final_s": s, "admitted_to_final_s": s / 2}
        for s in seconds
    ]
    lines.append({"status": None, "error": "no final answer in time", "upload_to_final_s": 120.0})
    (folder / SAMPLES).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return folder


def test_a_run_counts_429s_apart_from_errors_and_takes_percentiles_from_every_photo(tmp_path: Path) -> None:
    # GIVEN a run where POST /uploads was throttled 3 times, one status poll failed with a 500, and one
    # of six photos got no final answer
    folder = a_run(tmp_path / "run", [1.0, 2.0, 3.0, 4.0, 5.0], errors=1, throttled=3)

    # WHEN its figures are read
    run = read_run(folder, expected_photos=6)

    # THEN the 429s are counted by route and are not errors; the 500 is an error, named
    assert run["throttled_429"] == 3
    assert run["throttled_by_route"] == {"POST /uploads": 3}
    assert run["errors"] == 1
    assert run["error_kinds"] == {"GET GET /uploads/{id}: CatchResponseError('HTTP 500')": 1}
    # AND the percentiles are over the answered photos only, the unanswered one counted apart
    assert run["answered"] == 5 and run["unanswered"] == 1
    assert run["upload_to_final_ms"] == {"p50": 3000.0, "p95": 4800.0, "p99": 4960.0, "max": 5000.0}
    assert run["admitted_to_final_ms"]["p50"] == 1500.0
    # AND the API's rate is its routes' only (not S3's or Cognito's)
    assert run["api_requests_per_s"] == 8.0
    assert run["requests"]["POST /uploads"]["p95_ms"] == 80.0


def test_the_summary_is_the_median_of_the_runs_and_the_goal_needs_every_run_clean(tmp_path: Path) -> None:
    # GIVEN three runs, the slowest with one error
    runs = [
        read_run(a_run(tmp_path / "a", [0.5, 1.0, 1.5]), expected_photos=4),
        read_run(a_run(tmp_path / "b", [0.6, 1.2, 1.8]), expected_photos=4),
        read_run(a_run(tmp_path / "c", [3.0, 4.0, 5.0], errors=1), expected_photos=4),
    ]

    # WHEN they are summarised
    summary = summarise(runs)

    # THEN each figure is the median run's, and the goal is not met: photos went unanswered, one erred
    assert summary["median"]["upload_to_final_ms"]["p50"] == 1200.0
    assert summary["median"]["errors"] == 0.0
    assert summary["goal_met"] is False
    lines = render(summary)
    assert lines[-2].startswith("median of 3: upload -> final p50 1200.0")
    assert "not met" in lines[-1]


def test_the_goal_is_met_only_under_two_seconds_at_p95_with_every_photo_answered(tmp_path: Path) -> None:
    run = read_run(a_run(tmp_path / "a", [0.5, 1.0, 1.5], throttled=0), expected_photos=3)
    assert run["unanswered"] == 0
    assert summarise([run])["goal_met"] is True


def test_only_photos_the_api_takes_are_planned(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    plan = photo_plan([tmp_path / "a.jpg", tmp_path / "notes.txt"])
    assert [(Path(p["path"]).name, p["content_type"]) for p in plan] == [("a.jpg", "image/jpeg")]


@pytest.mark.parametrize("option", ["--drivers=0", "--driver-photos=0", "--runs=0", "--arrival=0"])
def test_bench_api_refuses_a_count_below_one_in_one_line_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    def started(*_: Any, **__: Any) -> Any:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench.api_load, "run_api_bench", started)
    result = CliRunner().invoke(bench_command, ["--api", option])
    assert result.exit_code == 2
    assert "must be positive" in result.output
    assert "Traceback" not in result.output
