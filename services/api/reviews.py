"""A dispatcher's review: the router's rules give the route for the label; pure functions.

The reviewed record keeps the model's prediction (class, confidence, probabilities) and gains the
review; its route, bay and decision time become the review's. The published decision is schema 1.1,
`decided_by` the dispatcher, with the label as the vehicle class the driver is routed as.
"""

from __future__ import annotations

from datetime import datetime

from services.router.rules import RoutingRules
from shared.contracts import (
    REVIEWED_SCHEMA_VERSION,
    CaptureRecord,
    Probabilities,
    RejectionReason,
    Review,
    ReviewLabel,
    Route,
    RoutingDecision,
    VehicleClass,
)


def decided_by(reviewer: str) -> str:
    return f"dispatcher:{reviewer}"


def reviewed_record(
    record: CaptureRecord, review: Review, rules: RoutingRules, now: datetime
) -> CaptureRecord:
    if review.label == ReviewLabel.NOT_A_VEHICLE:
        route: dict[str, object] = {
            "route": Route.REJECTED,
            "bay": None,
            "radius_km": None,
            "reason": RejectionReason.NOT_A_VEHICLE.value,
        }
    else:
        rule = rules.classes[VehicleClass(review.label.value)]
        route = {"route": rule.route, "bay": rule.bay, "radius_km": rule.radius_km, "reason": None}
    return record.model_copy(
        update={
            **route,
            "schema_version": REVIEWED_SCHEMA_VERSION,
            "rules_version": rules.version,
            "decided_at": now,
            "decided_by": decided_by(review.reviewer),
            "review": review,
            "captured_at": now,
        }
    )


def reviewed_decision(record: CaptureRecord) -> RoutingDecision:
    """The decision a reviewed record stands for, as it goes on the routing topic."""
    assert record.review is not None
    probabilities = (
        Probabilities(bicycle=record.p_bicycle, motorcycle=record.p_motorcycle)
        if record.p_bicycle is not None and record.p_motorcycle is not None
        else None
    )
    label = record.review.label
    return RoutingDecision(
        schema_version=REVIEWED_SCHEMA_VERSION,
        photo=record.photo,
        driver_id=record.driver_id,
        route=record.route,
        bay=record.bay,
        radius_km=record.radius_km,
        vehicle_class=None if label == ReviewLabel.NOT_A_VEHICLE else VehicleClass(label.value),
        probabilities=probabilities,
        reason=record.reason,
        endpoint_name=record.endpoint_name,
        model_version=record.model_version,
        rules_version=record.rules_version,
        ingested_at=record.ingested_at,
        assessed_at=record.assessed_at,
        decided_at=record.decided_at,
        decided_by=record.decided_by,
        review=record.review,
    )
