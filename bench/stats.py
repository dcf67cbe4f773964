"""The one place percentiles, summaries of durations and intervals of proportions are computed (bench,
latency, evaluate), and the benchmark's per-photo accounting: lost and duplicated photos, events per
second, stage durations.

Everything here is a pure function of numbers and timestamps, so it is tested without a stack.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# One photo's timestamps: datetimes from the contracts, wall-clock floats measured by the client.
Timeline = Mapping[str, datetime | float | None]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of the proportion k / n (95% for z = 1.96); (nan, nan) for n = 0.

    (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n): unlike p +- z sqrt(p(1-p)/n) it stays
    inside 0-1 and is not empty at k = 0 or k = n, which is where a small evaluation set lives.
    """
    if not 0 <= k <= n:
        raise ValueError(f"{k} of {n} is not a proportion")
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def summarise(values: Sequence[float], *, digits: int = 1) -> dict[str, float | int | None]:
    """count, mean, p50/p95/p99 and max of a list of durations (in whatever unit they came)."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "mean": round(sum(values) / len(values), digits),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


@dataclass(frozen=True)
class Accounting:
    uploaded: int
    decided: int
    captured: int
    no_decision: tuple[str, ...]
    no_record: tuple[str, ...]
    duplicated: tuple[str, ...]

    @property
    def lost(self) -> int:
        """Photos with no decision or no record (a photo missing both counts once)."""
        return len(set(self.no_decision) | set(self.no_record))

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "decided": self.decided,
            "captured": self.captured,
            "lost": self.lost,
            "no_decision": len(self.no_decision),
            "no_record": len(self.no_record),
            "duplicated": len(self.duplicated),
            "lost_keys": sorted(set(self.no_decision) | set(self.no_record))[:10],
            "duplicated_keys": list(self.duplicated[:10]),
        }


def account(uploaded: Iterable[str], decisions: Mapping[str, int], records: Iterable[str]) -> Accounting:
    """Per uploaded key: decisions seen on the topic (how many times) and records in the table.

    Keys outside `uploaded` (another phase's photos) are ignored."""
    keys = list(dict.fromkeys(uploaded))
    wanted = set(keys)
    captured = {k for k in records if k in wanted}
    return Accounting(
        uploaded=len(keys),
        decided=sum(1 for k in keys if decisions.get(k, 0) > 0),
        captured=len(captured),
        no_decision=tuple(k for k in keys if decisions.get(k, 0) == 0),
        no_record=tuple(k for k in keys if k not in captured),
        duplicated=tuple(k for k in keys if decisions.get(k, 0) > 1),
    )


def per_second(times: Iterable[float], start: float, *, bin_s: float = 1.0) -> list[int]:
    """How many events fell in each bin of `bin_s` seconds from `start` (events before it are dropped)."""
    counts: Counter[int] = Counter(int((t - start) // bin_s) for t in times if t >= start)
    if not counts:
        return []
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def cpu_cores(before: Mapping[str, float], after: Mapping[str, float], seconds: float) -> dict[str, float]:
    """Average cores each process used between two CPU-seconds snapshots."""
    if seconds <= 0:
        return {}
    return {name: round((after[name] - before.get(name, 0.0)) / seconds, 2) for name in sorted(after)}


def _ms(later: datetime | float | None, earlier: datetime | float | None) -> float | None:
    if later is None or earlier is None:
        return None
    a = later.timestamp() if isinstance(later, datetime) else later
    b = earlier.timestamp() if isinstance(earlier, datetime) else earlier
    return (a - b) * 1000.0


def stage_durations(timeline: Timeline) -> dict[str, float | None]:
    """Milliseconds each hop adds, from one photo's timestamps (None where one end is missing)."""
    t = timeline
    return {
        "client_put": _ms(t.get("upload_done"), t.get("upload_start")),
        "s3_event_to_ingested": _ms(t.get("ingested_at"), t.get("uploaded_at")),
        "ingested_to_assessed": _ms(t.get("assessed_at"), t.get("ingested_at")),
        "assessed_to_decided": _ms(t.get("decided_at"), t.get("assessed_at")),
        "decided_to_captured": _ms(t.get("captured_at"), t.get("decided_at")),
        "decided_to_client": _ms(t.get("decision_seen"), t.get("decided_at")),
        "upload_to_decision": _ms(t.get("decision_seen"), t.get("upload_done")),
        "upload_to_record": _ms(t.get("captured_at"), t.get("upload_done")),
    }


def stage_values(timelines: Iterable[Timeline], stage: str) -> list[float]:
    """One stage's durations over many photos, skipping photos where it cannot be measured."""
    return [v for t in timelines if (v := stage_durations(t)[stage]) is not None]


def summarise_stages(timelines: Iterable[Timeline]) -> dict[str, Any]:
    collected: dict[str, list[float]] = {}
    for timeline in timelines:
        for name, value in stage_durations(timeline).items():
            if value is not None:
                collected.setdefault(name, []).append(value)
    return {name: summarise(values) for name, values in collected.items()}
