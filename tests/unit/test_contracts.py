from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from shared.contracts import (
    Assessment,
    CaptureRecord,
    PhotoRef,
    Prediction,
    Probabilities,
    Rejection,
    RejectionReason,
    ReviewReason,
    Route,
    RoutingDecision,
    VehicleClass,
)

PHOTO = PhotoRef(
    bucket="b", key="photos/d-1/a.jpg", etag="abc", size=10, uploaded_at=datetime(2026, 11, 25, 9, tzinfo=UTC)
)


def test_identity_uses_version_when_present_else_etag() -> None:
    assert PHOTO.identity == "s3://b/photos/d-1/a.jpg#abc"
    versioned = PHOTO.model_copy(update={"version_id": "v7"})
    assert versioned.identity.endswith("#v7")
    assert versioned.photo_id != PHOTO.photo_id
    assert len(PHOTO.photo_id) == 32


def test_endpoint_answer_is_read_in_class_order() -> None:
    probabilities = Probabilities.from_endpoint([0.1, 0.9])
    assert probabilities.top == (VehicleClass.MOTORCYCLE, 0.9)
    assert Probabilities.from_endpoint([0.7, 0.3]).top == (VehicleClass.BICYCLE, 0.7)
    with pytest.raises(ValueError):
        Probabilities.from_endpoint([0.2, 0.3, 0.4, 0.1])


def test_a_three_class_answer_reads_other_and_judges_the_vehicle_among_vehicles() -> None:
    # GIVEN [p_bicycle, p_motorcycle, p_other] from a three-class model
    probabilities = Probabilities.from_endpoint([0.01, 0.49, 0.5])
    # THEN "other" is its own number, and the confidence is the vehicle's share of the two vehicles
    assert probabilities.other == 0.5
    vehicle_class, confidence = probabilities.top
    assert vehicle_class is VehicleClass.MOTORCYCLE
    assert confidence == pytest.approx(0.98)


def test_a_two_class_answer_serialises_as_it_always_has() -> None:
    assert Probabilities.from_endpoint([0.2, 0.8]).model_dump() == {"bicycle": 0.2, "motorcycle": 0.8}
    assert Probabilities.from_endpoint([0.2, 0.7, 0.1]).model_dump()["other"] == 0.1


class _ProbabilitiesV1(BaseModel):
    """The 1.0 schema's probabilities, as a subscriber built before "other" existed holds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    bicycle: float
    motorcycle: float


class _DecisionV1(BaseModel):
    model_config = ConfigDict(extra="ignore")  # only the part that changed is held strictly here
    probabilities: _ProbabilitiesV1 | None
    reason: str | None


def test_a_subscriber_of_the_old_schema_reads_a_neither_decision() -> None:
    # GIVEN a decision about a photo the three-class model called "neither"
    probabilities = Probabilities.from_endpoint([0.02, 0.03, 0.95])
    decision = RoutingDecision(
        photo=PHOTO,
        driver_id="d-1",
        route=Route.MANUAL_REVIEW,
        reason=ReviewReason.NO_TWO_WHEELER.value,
        probabilities=probabilities.vehicles(),
        rules_version="r",
    )
    # WHEN a subscriber of the 1.0 schema reads the message
    old = _DecisionV1.model_validate_json(decision.model_dump_json())
    # THEN it gets the two vehicle probabilities and the reason, and nothing it would refuse
    assert old.probabilities == _ProbabilitiesV1(bicycle=0.02, motorcycle=0.03)
    assert old.reason == "no-two-wheeler"


def test_routed_decision_needs_a_bay_and_other_routes_a_reason() -> None:
    with pytest.raises(ValidationError):
        RoutingDecision(photo=PHOTO, driver_id="d-1", route=Route.SHORT_RADIUS, rules_version="1")
    with pytest.raises(ValidationError):
        RoutingDecision(photo=PHOTO, driver_id="d-1", route=Route.REJECTED, rules_version="1")


def test_assessment_is_told_apart_by_kind() -> None:
    adapter: TypeAdapter[Prediction | Rejection] = TypeAdapter(Assessment)
    rejection = Rejection(photo=PHOTO, driver_id="d-1", reason=RejectionReason.EMPTY_OBJECT)
    assert isinstance(adapter.validate_json(rejection.model_dump_json()), Rejection)
    with pytest.raises(ValidationError):
        adapter.validate_json('{"kind": "something-else"}')


def test_contracts_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        PhotoRef.model_validate({**PHOTO.model_dump(), "bytes": "..."})


def test_capture_record_carries_the_decision() -> None:
    decision = RoutingDecision(
        photo=PHOTO,
        driver_id="d-1",
        route=Route.LONG_RADIUS,
        bay="M-FAR-01",
        radius_km=12.0,
        vehicle_class=VehicleClass.MOTORCYCLE,
        confidence=0.97,
        probabilities=Probabilities(bicycle=0.03, motorcycle=0.97),
        rules_version="1",
        decided_at=datetime(2026, 11, 25, 23, 59, tzinfo=UTC),
    )
    record = CaptureRecord.from_decision(decision)
    assert record.photo_id == PHOTO.photo_id
    assert (record.p_bicycle, record.p_motorcycle) == (0.03, 0.97)
    assert record.decision_day == "2026-11-25"
    assert decision.message_attributes() == {
        "route": "long-radius",
        "schema_version": "1.0",
        "driver_id": "d-1",
        "vehicle_class": "motorcycle",
        "bay": "M-FAR-01",
    }


def test_the_capture_record_keeps_the_uploaded_file_name() -> None:
    # GIVEN a decision about a photo the driver uploaded as "bike.png"
    photo = PhotoRef(
        bucket="b",
        key="photos/d-1/x.png",
        etag="e",
        size=1,
        uploaded_at=datetime.now(UTC),
        original_name="bike.png",
    )
    decision = RoutingDecision(
        photo=photo, driver_id="d-1", route=Route.MANUAL_REVIEW, reason="low", rules_version="r"
    )
    # WHEN capture turns it into a record
    record = CaptureRecord.from_decision(decision)
    # THEN the record can be found by that name
    assert record.original_name == "bike.png"
