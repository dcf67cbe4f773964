"""Where one upload's time goes on the driver's page, from the browser's resource timings.

The page is not changed for the benchmark: after each upload the bench reads the browser's own
`performance.getEntriesByType("resource")` (every fetch and XHR, with start and end on the page's
clock) and the decision time the API returned, and this module splits the tap-to-answer time into
its round trips. Pure functions of numbers, so they are tested without a browser.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.stats import percentile

PRESIGN, S3_POST, STATUS, TODAY, SIGN_IN, OTHER = "presign", "s3-post", "status", "today", "cognito", "other"


@dataclass(frozen=True)
class Request:
    kind: str
    start_ms: float  # on the page's clock (performance.now), from its time origin
    end_ms: float

    @property
    def ms(self) -> float:
        return self.end_ms - self.start_ms


def requests_of(entries: Iterable[Mapping[str, object]], api_origin: str) -> list[Request]:
    """The upload's requests, in order, each named by what it was. Resource timing gives no method:
    `POST /uploads` (the form) and `GET /uploads` (today's list) share a URL, so a `/uploads` before the
    bucket's post is the form's request and one after it the list."""
    out: list[Request] = []
    for entry in sorted(entries, key=lambda e: float(str(e["startTime"]))):
        parts = urlsplit(str(entry["name"]))
        posted = any(r.kind == S3_POST for r in out)
        if f"{parts.scheme}://{parts.netloc}" != api_origin:
            kind = S3_POST if entry.get("initiatorType") == "xmlhttprequest" else SIGN_IN
        elif parts.path.endswith("/uploads"):
            kind = TODAY if posted else PRESIGN
        elif "/uploads/" in parts.path:
            kind = STATUS
        else:
            kind = OTHER
        out.append(Request(kind, float(str(entry["startTime"])), float(str(entry["responseEnd"]))))
    return out


@dataclass(frozen=True)
class Phases:
    """One upload, in milliseconds: the tap to the form, the form's post, the chain (from S3 having the
    photo to the router's decision time), and the decision to the answer on screen (polls' wait,
    the last read and the render)."""

    total_ms: float
    presign_ms: float
    s3_post_ms: float
    chain_ms: float
    decided_to_shown_ms: float
    status_reads: int
    status_read_ms: float  # the median status read
    today_reads: int
    today_read_ms: float


def phases(requests: Sequence[Request], tap_ms: float, shown_ms: float, decided_ms: float) -> Phases:
    """`tap_ms`, `shown_ms` and `decided_ms` on the same page clock as the requests."""

    def of(kind: str) -> list[Request]:
        return [r for r in requests if r.kind == kind]

    presign, posts, reads, today = of(PRESIGN), of(S3_POST), of(STATUS), of(TODAY)
    posted = posts[-1].end_ms if posts else tap_ms
    return Phases(
        total_ms=shown_ms - tap_ms,
        presign_ms=sum(r.ms for r in presign),
        s3_post_ms=sum(r.ms for r in posts),
        chain_ms=decided_ms - posted,
        decided_to_shown_ms=shown_ms - decided_ms,
        status_reads=len(reads),
        status_read_ms=statistics.median(r.ms for r in reads) if reads else 0.0,
        today_reads=len(today),
        today_read_ms=statistics.median(r.ms for r in today) if today else 0.0,
    )


def summary(all_phases: Sequence[Phases]) -> dict[str, dict[str, float]]:
    """p50 and p95 of each phase over the uploads, rounded to the millisecond."""
    names = [name for name in Phases.__dataclass_fields__]
    return {
        name: {
            "p50": round(percentile([float(getattr(p, name)) for p in all_phases], 50), 1),
            "p95": round(percentile([float(getattr(p, name)) for p in all_phases], 95), 1),
        }
        for name in names
    }
