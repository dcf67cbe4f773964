from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from shared.contracts import (
    NONE,
    Assessment,
    CaptureRecord,
    PhotoRef,
    Prediction,
    Probabilities,
    Rejection,
    RejectionReason,
    Review,
    ReviewReason,
    Route,
    RoutingDecision,
)
from tests.decisions import BIKE, MOTO, decided, no_two_wheeler, photo, sure

PHOTO = PhotoRef(
    bucket="b", key="photos/d-1/a.jpg", etag="abc", size=10, uploaded_at=datetime(2026, 11, 25, 9, tzinfo=UTC)
)


def test_identity_uses_version_when_present_else_etag() -> None:
    assert PHOTO.identity == "s3://b/photos/d-1/a.jpg#abc"
    versioned = PHOTO.model_copy(update={"version_id": "v7"})
    assert versioned.identity.endswith("#v7")
    assert versioned.photo_id != PHOTO.photo_id
    assert len(PHOTO.photo_id) == 32
    # the depot the upload names is not part of the identity
    assert PHOTO.model_copy(update={"depot_id": "depot-2"}).photo_id == PHOTO.photo_id


def test_endpoint_answer_is_read_in_the_order_the_endpoint_names_its_classes() -> None:
    assert Probabilities.from_endpoint([BIKE, MOTO], [0.1, 0.9]).top == (MOTO, 0.9)
    assert Probabilities.from_endpoint([MOTO, BIKE], [0.1, 0.9]).top == (BIKE, 0.9)
    # a tie goes to the class the endpoint named first
    assert Probabilities.from_endpoint([MOTO, BIKE], [0.5, 0.5]).top == (MOTO, 0.5)


@pytest.mark.parametrize(
    ("labels", "scores"),
    [
        ([BIKE, MOTO], [0.2, 0.3, 0.5]),  # more scores than classes
        ([BIKE, BIKE], [0.5, 0.5]),  # a class named twice
        (["Bicycle", MOTO], [0.5, 0.5]),  # not a class name
        ([NONE], [1.0]),  # no vehicle class at all
        ([BIKE, MOTO], [0.2, 1.3]),  # not a probability
    ],
)
def test_an_endpoint_answer_that_cannot_be_read_safely_is_refused(
    labels: list[str], scores: list[float]
) -> None:
    with pytest.raises(ValueError):
        Probabilities.from_endpoint(labels, scores)


def test_an_answer_with_none_reads_none_apart_and_judges_the_vehicle_among_vehicles() -> None:
    # GIVEN bicycle, motorcycle, none from a model that answers "no two-wheeler"
    probabilities = Probabilities.from_endpoint([BIKE, MOTO, NONE], [0.01, 0.49, 0.5])
    # THEN none is its own number, and the confidence is the vehicle's share of the vehicles
    assert probabilities.none == 0.5
    assert probabilities.vehicles() == {BIKE: 0.01, MOTO: 0.49}
    vehicle_class, confidence = probabilities.top
    assert vehicle_class == MOTO
    assert confidence == pytest.approx(0.98)


def test_a_model_without_none_has_no_none_probability() -> None:
    assert Probabilities.from_endpoint([BIKE, MOTO], [0.3, 0.7]).none is None


def test_a_model_with_any_classes_is_read_the_same_way() -> None:
    # GIVEN a newer model with a third vehicle class
    probabilities = Probabilities.from_endpoint([BIKE, "cargo-bike", MOTO, NONE], [0.1, 0.6, 0.1, 0.2])
    # THEN its classes are read by name, and its shares are among its vehicle classes
    vehicle_class, confidence = probabilities.top
    assert vehicle_class == "cargo-bike"
    assert confidence == pytest.approx(0.75)
    assert list(probabilities.shares()) == [BIKE, "cargo-bike", MOTO]


def test_probabilities_serialise_as_a_plain_object_of_classes() -> None:
    answer = Probabilities.from_endpoint([BIKE, MOTO, NONE], [0.2, 0.7, 0.1])
    assert answer.model_dump() == {BIKE: 0.2, MOTO: 0.7, NONE: 0.1}
    assert Probabilities.model_validate_json(answer.model_dump_json()) == answer


class _ProbabilitiesV1(BaseModel):
    """The 1.0 schema's probabilities, as a subscriber built before "none" existed holds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    bicycle: float
    motorcycle: float


class _DecisionV1(BaseModel):
    """What a 1.x subscriber holds of a decision (unknown fields ignored, as the schema promises)."""

    model_config = ConfigDict(extra="ignore")
    route: str
    bay: str | None
    radius_km: float | None
    vehicle_class: str | None
    confidence: float | None
    probabilities: _ProbabilitiesV1 | None
    reason: str | None


def test_a_subscriber_of_the_old_schema_reads_a_no_two_wheeler_decision() -> None:
    # GIVEN a decision about a photo the model called "no two-wheeler"
    decision = decided(no_two_wheeler())
    # WHEN a subscriber of the 1.0 schema reads the message
    old = _DecisionV1.model_validate_json(decision.model_dump_json())
    # THEN it gets the two vehicle probabilities and the reason, and nothing it would refuse
    assert old.probabilities == _ProbabilitiesV1(bicycle=0.02, motorcycle=0.05)
    assert (old.route, old.reason) == ("manual-review", "no-two-wheeler")


def test_a_subscriber_of_the_old_schema_reads_a_routed_decision_as_before() -> None:
    # GIVEN a sure motorcycle, routed
    decision = decided(sure(MOTO))
    # WHEN a 1.x subscriber reads it
    old = _DecisionV1.model_validate_json(decision.model_dump_json())
    # THEN it reads the order radius's name as the route, with the bay, the radius and the class
    assert (old.route, old.bay, old.radius_km, old.vehicle_class) == ("long-radius", "M-FAR-01", 12.0, MOTO)
    assert decision.schema_version.startswith("1.")


def test_routed_decision_needs_a_bay_and_other_outcomes_a_reason() -> None:
    with pytest.raises(ValidationError):
        RoutingDecision(photo=PHOTO, driver_id="d-1", outcome=Route.ROUTED, route="x", rules_version="1")
    with pytest.raises(ValidationError):
        RoutingDecision(photo=PHOTO, driver_id="d-1", outcome=Route.REJECTED, route="x", rules_version="1")


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
    # GIVEN a sure motorcycle decided just before midnight (UTC)
    decision = decided(sure(MOTO, 0.99), decided_at=datetime(2026, 11, 25, 23, 59, tzinfo=UTC))
    # WHEN capture turns it into a record
    record = CaptureRecord.from_decision(decision)
    # THEN the record holds what was decided and what the model said, on the decision's day and depot
    assert record.photo_id == decision.photo.photo_id
    assert (record.outcome, record.route, record.bay, record.vehicle_class) == (
        Route.ROUTED,
        "long-radius",
        "M-FAR-01",
        MOTO,
    )
    assert record.probabilities == {MOTO: 0.99, BIKE: 0.01}
    assert (record.none_probability, record.model_answer) == (0.0, MOTO)
    assert (record.compared, record.threshold) == (decision.confidence, decision.threshold)
    assert record.decision_day == "2026-11-25"
    assert record.depot_day == "depot-1#2026-11-25"


def test_a_record_gives_back_the_decision_it_was_made_from() -> None:
    # GIVEN decisions of each outcome, at a depot the photo names
    decisions = [decided(probabilities, depot_id="depot-2") for probabilities in (sure(), no_two_wheeler())]
    for decision in decisions:
        # WHEN the record is made and read back as a decision
        again = CaptureRecord.from_decision(decision).decision()
        # THEN it is the same decision
        assert again == decision


def test_a_decisions_message_attributes_are_what_subscribers_filter_on() -> None:
    decision = decided(sure(MOTO), depot_id="depot-2")
    assert decision.message_attributes() == {
        "route": "long-radius",
        "outcome": "routed",
        "schema_version": "1.2",
        "driver_id": "d-1",
        "decided_by": "model",
        "depot_id": "depot-2",
        "vehicle_class": MOTO,
        "bay": "H-M-01",
    }
    waiting = decided(no_two_wheeler())
    assert waiting.message_attributes() == {
        "route": "manual-review",
        "outcome": "manual-review",
        "schema_version": "1.2",
        "driver_id": "d-1",
        "decided_by": "model",
        "depot_id": "depot-1",
    }


def test_a_review_is_deduplicated_apart_from_the_models_decision() -> None:
    decision = decided(no_two_wheeler())
    review = Review(reviewer="pat", label=BIKE)
    reviewed = decision.model_copy(update={"review": review, "decided_by": "dispatcher:pat"})
    assert decision.deduplication_id == decision.photo.photo_id
    assert reviewed.deduplication_id == f"{decision.photo.photo_id}-reviewed"


def test_the_capture_record_keeps_the_uploaded_file_name() -> None:
    # GIVEN a decision about a photo the driver uploaded as "bike.png"
    decision = decided(sure(), key="photos/d-1/x.png").model_copy(
        update={"photo": photo("photos/d-1/x.png", original_name="bike.png")}
    )
    # WHEN capture turns it into a record
    record = CaptureRecord.from_decision(decision)
    # THEN the record can be found by that name, and the photo read back carries it
    assert record.original_name == "bike.png"
    assert record.photo.original_name == "bike.png"


def _record_1x(**fields: Any) -> dict[str, Any]:
    """A capture item as schema 1.x wrote it: per-class `p_` fields, the route naming the radius."""
    return {
        "schema_version": "1.1",
        "photo_id": PHOTO.photo_id,
        "photo_identity": PHOTO.identity,
        "bucket": "b",
        "photo_key": PHOTO.key,
        "driver_id": "d-1",
        "rules_version": "2026-11-01.1",
        "uploaded_at": "2026-11-25T09:00:00Z",
        "decided_at": "2026-11-25T09:00:01Z",
        "captured_at": "2026-11-25T09:00:02Z",
        **fields,
    }


def test_a_routed_1x_record_reads_as_2_0() -> None:
    # GIVEN a routed record written before 2.0
    item = _record_1x(
        route="short-radius",
        bay="B-NEAR-01",
        radius_km=3.0,
        vehicle_class=BIKE,
        confidence=0.99,
        p_bicycle=0.99,
        p_motorcycle=0.01,
    )
    # WHEN it is read
    record = CaptureRecord.model_validate(item)
    # THEN its probabilities are a mapping, its outcome routed, its route the 1.x name
    assert record.probabilities == {BIKE: 0.99, MOTO: 0.01}
    assert (record.outcome, record.route, record.model_answer, record.vehicle_class) == (
        Route.ROUTED,
        "short-radius",
        BIKE,
        BIKE,
    )


def test_1x_records_waiting_or_reviewed_read_with_the_models_answer_and_the_dispatchers_class() -> None:
    # GIVEN a 1.x record of a photo the model saw no two-wheeler in
    waiting = CaptureRecord.model_validate(
        _record_1x(
            route="manual-review",
            reason=ReviewReason.NO_TWO_WHEELER.value,
            vehicle_class=MOTO,
            p_bicycle=0.02,
            p_motorcycle=0.05,
        )
    )
    # THEN it is waiting for review, and the model's answer is none
    assert (waiting.outcome, waiting.model_answer) == (Route.MANUAL_REVIEW, NONE)
    # GIVEN a 1.x record a dispatcher routed as a bicycle after the model was unsure of a motorcycle
    review = {"reviewer": "pat", "label": BIKE, "reviewed_at": "2026-11-25T09:05:00Z"}
    reviewed = CaptureRecord.model_validate(
        _record_1x(
            route="short-radius",
            bay="B-NEAR-01",
            radius_km=3.0,
            vehicle_class=MOTO,
            p_bicycle=0.3,
            p_motorcycle=0.7,
            decided_by="dispatcher:pat",
            review=review,
        )
    )
    # THEN the driver is routed as the dispatcher's class, and the model's answer stays its own
    assert (reviewed.outcome, reviewed.vehicle_class, reviewed.model_answer) == (Route.ROUTED, BIKE, MOTO)
