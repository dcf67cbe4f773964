"""Predictions, decisions and records for the tests, made the way the chain makes them: an answer the
endpoint could give (its labels and scores), the classifier's prediction, the router's `decide`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from services.router.domain import decide
from services.router.rules import RoutingRules, load_rules
from shared.contracts import (
    CaptureRecord,
    PhotoRef,
    Prediction,
    Probabilities,
    Rejection,
    RejectionReason,
    RoutingDecision,
)

RULES = load_rules()
BIKE, MOTO = "bicycle", "motorcycle"  # the served model's classes (model/artifacts/metadata.json)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def photo(
    key: str = "photos/d-1/a.jpg",
    *,
    depot_id: str | None = None,
    uploaded_at: datetime | None = None,
    original_name: str | None = None,
) -> PhotoRef:
    return PhotoRef(
        bucket="photos",
        key=key,
        etag="e" + key[-6:],
        size=1234,
        uploaded_at=uploaded_at or datetime.now(UTC),
        original_name=original_name,
        depot_id=depot_id,
    )


def prediction(
    probabilities: Mapping[str, float],
    *,
    key: str = "photos/d-1/a.jpg",
    depot_id: str | None = None,
    uploaded_at: datetime | None = None,
) -> Prediction:
    """The classifier's prediction for an endpoint answer of these class probabilities."""
    answer = Probabilities.from_endpoint(list(probabilities), list(probabilities.values()))
    vehicle_class, confidence = answer.top
    return Prediction(
        photo=photo(key, depot_id=depot_id, uploaded_at=uploaded_at),
        driver_id=key.split("/")[1],
        probabilities=answer,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
        model_version="m1",
    )


def sure(vehicle_class: str = BIKE, p: float = 0.999) -> dict[str, float]:
    """A two-class answer, sure of `vehicle_class` (p above the served threshold by default)."""
    other = MOTO if vehicle_class == BIKE else BIKE
    return {vehicle_class: p, other: round(1 - p, 6), "none": 0.0}


def decided(
    probabilities: Mapping[str, float],
    *,
    key: str = "photos/d-1/a.jpg",
    depot_id: str | None = None,
    rules: RoutingRules = RULES,
    decided_at: datetime | None = None,
    uploaded_at: datetime | None = None,
) -> RoutingDecision:
    """What the router decides for this answer."""
    decision = decide(prediction(probabilities, key=key, depot_id=depot_id, uploaded_at=uploaded_at), rules)
    return decision.model_copy(update={"decided_at": decided_at}) if decided_at else decision


def rejected(
    key: str = "photos/d-1/a.jpg",
    reason: RejectionReason = RejectionReason.CORRUPT_IMAGE,
    *,
    depot_id: str | None = None,
    decided_at: datetime | None = None,
) -> RoutingDecision:
    rejection = Rejection(photo=photo(key, depot_id=depot_id), driver_id=key.split("/")[1], reason=reason)
    decision = decide(rejection, RULES)
    return decision.model_copy(update={"decided_at": decided_at}) if decided_at else decision


def unsure() -> dict[str, float]:
    """A two-wheeler, but under the confidence threshold."""
    return {BIKE: 0.7, MOTO: 0.3, "none": 0.0}


def no_two_wheeler() -> dict[str, float]:
    return {BIKE: 0.02, MOTO: 0.05, "none": 0.93}


def record_of(decision: RoutingDecision, captured_at: datetime | None = None) -> CaptureRecord:
    record = CaptureRecord.from_decision(decision)
    return record.model_copy(update={"captured_at": captured_at}) if captured_at else record
