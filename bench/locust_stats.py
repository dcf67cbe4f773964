"""The figures of `driver-routing bench --api`: one run's from what Locust and the locustfile wrote, and
the median over runs.

A run leaves, in its folder:
- Locust's CSV stats (`--csv load`): `load_stats.csv` (requests per route, Locust's percentiles),
  `load_failures.csv` (failures per route and error: a 429 carries the error `THROTTLED`, so it is
  counted apart from errors) and `load_exceptions.csv` (what a user raised: an error too);
- the locustfile's `samples.jsonl`: one line per photo, its final status or error, the seconds from the
  first `POST /uploads` attempt to the final `GET /uploads/{id}` (429 waits included) and from the
  admitted `POST /uploads` (the 201) to it.

The percentiles of the upload -> final times are `bench.stats.percentile`'s over every photo (Locust's
own percentiles are rounded to two significant digits; they are kept per route for the requests).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import percentile

# The error a 429 is marked with in Locust's failures (passed to the locustfile in the plan).
THROTTLED = "429 Too Many Requests"
STATS_PREFIX = "load"
SAMPLES = "samples.jsonl"
GOAL_P95_MS = 2000.0
# The locustfile names the API's requests by route ("GET /board"); S3's and Cognito's otherwise.
API_ROUTE = ("GET /", "POST /")


def _quantiles_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(seconds, 50) * 1000, 1),
        "p95": round(percentile(seconds, 95) * 1000, 1),
        "p99": round(percentile(seconds, 99) * 1000, 1),
        "max": round(max(seconds) * 1000, 1),
    }


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_run(folder: Path, *, expected_photos: int) -> dict[str, Any]:
    """One run's figures from its folder."""
    samples = [
        json.loads(line)
        for line in (folder / SAMPLES).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    answered = [s for s in samples if s.get("status") and not s.get("error")]
    requests: dict[str, dict[str, Any]] = {}
    api_rate = 0.0
    for row in _rows(folder / f"{STATS_PREFIX}_stats.csv"):
        if row["Name"] == "Aggregated":
            continue
        requests[row["Name"]] = {
            "count": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "p50_ms": float(row["50%"]) if row["50%"] != "N/A" else None,
            "p95_ms": float(row["95%"]) if row["95%"] != "N/A" else None,
        }
        if row["Name"].startswith(API_ROUTE):
            api_rate += float(row["Requests/s"])
    throttled: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for row in _rows(folder / f"{STATS_PREFIX}_failures.csv"):
        if THROTTLED in row["Error"]:
            throttled[row["Name"]] += int(row["Occurrences"])
        else:
            errors[f"{row['Method']} {row['Name']}: {row['Error']}"] += int(row["Occurrences"])
    for row in _rows(folder / f"{STATS_PREFIX}_exceptions.csv"):
        errors[f"exception: {row['Message']}"] += int(row["Count"])
    return {
        "photos": expected_photos,
        "answered": len(answered),
        "unanswered": expected_photos - len(answered),
        "by_status": dict(Counter(s["status"] for s in answered)),
        "upload_to_final_ms": _quantiles_ms([s["upload_to_final_s"] for s in answered]),
        "admitted_to_final_ms": _quantiles_ms([s["admitted_to_final_s"] for s in answered]),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "throttled_429": sum(throttled.values()),
        "throttled_by_route": dict(throttled),
        "api_requests_per_s": round(api_rate, 1),
        "requests": requests,
    }


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The median over runs of each figure, every run beside it, and whether the goal was met."""
    if not runs:
        raise ValueError("no run to summarise")
    median: dict[str, Any] = {
        figure: {q: _median([r[figure][q] for r in runs]) for q in ("p50", "p95", "p99", "max")}
        for figure in ("upload_to_final_ms", "admitted_to_final_ms")
    }
    for count in ("answered", "unanswered", "errors", "throttled_429", "api_requests_per_s"):
        median[count] = _median([float(r[count]) for r in runs])
    p95 = median["upload_to_final_ms"]["p95"]
    return {
        "median": median,
        "runs": list(runs),
        "goal": {"p95_ms": GOAL_P95_MS, "errors": 0},
        "goal_met": p95 is not None
        and p95 <= GOAL_P95_MS
        and all(r["errors"] == 0 and r["unanswered"] == 0 for r in runs),
    }


def render(summary: dict[str, Any]) -> list[str]:
    """The lines `bench --api` prints: each run, then the median."""

    def line(label: str, figures: dict[str, Any]) -> str:
        lat = figures["upload_to_final_ms"]
        adm = figures["admitted_to_final_ms"]
        return (
            f"{label}: upload -> final p50 {lat['p50']} / p95 {lat['p95']} / p99 {lat['p99']} ms "
            f"(from the 201: p50 {adm['p50']} / p95 {adm['p95']} ms); answered {figures['answered']:g}, "
            f"unanswered {figures['unanswered']:g}, errors {figures['errors']:g}, "
            f"429s {figures['throttled_429']:g}; the API served {figures['api_requests_per_s']:g} requests/s"
        )

    lines = []
    for number, run in enumerate(summary["runs"], start=1):
        load = run.get("load_average")
        lines.append(line(f"run {number}", run) + (f", load average {load[0]} -> {load[1]}" if load else ""))
        if run["throttled_by_route"]:
            lines.append(f"  429s by route: {run['throttled_by_route']}")
        if run["error_kinds"]:
            lines.append(f"  errors: {run['error_kinds']}")
    lines.append(line(f"median of {len(summary['runs'])}", summary["median"]))
    verdict = "met" if summary["goal_met"] else "not met"
    lines.append(f"goal (p95 <= {GOAL_P95_MS:g} ms, no error, every photo answered): {verdict}")
    return lines
