"""The decisions and records the bench's tests watch for: rejected photos, timed as each test needs."""

from __future__ import annotations

from datetime import UTC, datetime

from services.router.domain import decide
from services.router.rules import load_rules
from shared.contracts import CaptureRecord, PhotoRef, Rejection, RejectionReason, RoutingDecision

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def decision(key: str, *, uploaded_at: datetime = NOW) -> RoutingDecision:
    photo = PhotoRef(bucket="b", key=key, etag="e", size=1, uploaded_at=uploaded_at)
    rejection = Rejection(photo=photo, driver_id="d-1", reason=RejectionReason.CORRUPT_IMAGE)
    return decide(rejection, load_rules())


def record(
    key: str, *, uploaded_at: datetime = NOW, decided_at: datetime = NOW, **stages: datetime
) -> CaptureRecord:
    """A record of `key`; `stages` sets `ingested_at`, `assessed_at`, `captured_at`."""
    record = CaptureRecord.from_decision(decision(key, uploaded_at=uploaded_at))
    unset = {"ingested_at": None, "assessed_at": None}
    return record.model_copy(update={"photo_id": key, "decided_at": decided_at, **unset, **stages})
