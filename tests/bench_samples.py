"""The decisions and records the bench's tests watch for: rejected photos, timed as each test needs."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contracts import CaptureRecord, PhotoRef, Route, RoutingDecision

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def decision(key: str) -> RoutingDecision:
    photo = PhotoRef(bucket="b", key=key, etag="e", size=1, uploaded_at=NOW)
    return RoutingDecision(photo=photo, driver_id="d-1", route=Route.REJECTED, reason="x", rules_version="r1")


def record(
    key: str, *, uploaded_at: datetime = NOW, decided_at: datetime = NOW, **stages: datetime
) -> CaptureRecord:
    """A record of `key`; `stages` sets `ingested_at`, `assessed_at`, `captured_at`."""
    return CaptureRecord(
        photo_id=key,
        photo_identity=f"s3://b/{key}#e",
        bucket="b",
        photo_key=key,
        driver_id="d-1",
        route=Route.REJECTED,
        rules_version="r1",
        uploaded_at=uploaded_at,
        decided_at=decided_at,
        **stages,
    )
