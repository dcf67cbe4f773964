from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.router.domain import decide
from services.router.rules import RoutingRules, load_rules
from shared.contracts import PhotoRef, Prediction, Probabilities, Rejection, RejectionReason, Route

PHOTO = PhotoRef(bucket="b", key="photos/d-1/a.jpg", etag="e", size=1, uploaded_at=datetime.now(UTC))
RULES = load_rules()


def prediction(p_bicycle: float) -> Prediction:
    probabilities = Probabilities(bicycle=p_bicycle, motorcycle=1 - p_bicycle)
    vehicle_class, confidence = probabilities.top
    return Prediction(
        photo=PHOTO,
        driver_id="d-1",
        probabilities=probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
        model_version="m1",
    )


def three_class_prediction(p_bicycle: float, p_motorcycle: float, p_other: float) -> Prediction:
    probabilities = Probabilities.from_endpoint([p_bicycle, p_motorcycle, p_other])
    vehicle_class, confidence = probabilities.top
    return prediction(0.5).model_copy(
        update={"probabilities": probabilities, "vehicle_class": vehicle_class, "confidence": confidence}
    )


def test_a_photo_of_neither_goes_to_review_with_its_own_reason_even_when_sure_of_the_vehicle() -> None:
    # GIVEN a photo the model finds to be neither, though it leans to "bicycle" with certainty
    neither = RULES.neither
    p_other = neither.min_probability
    assessment = three_class_prediction((1 - p_other) * 0.999, (1 - p_other) * 0.001, p_other)
    assert assessment.confidence > RULES.classes["bicycle"].min_confidence  # type: ignore[index]
    # WHEN the router decides
    decision = decide(assessment, RULES)
    # THEN a person looks at it, nothing reaches a bay, and the reason says why
    assert decision.route is Route.MANUAL_REVIEW
    assert decision.bay is None
    assert decision.reason == "no-two-wheeler" != RULES.manual_review_reason


def test_a_vehicle_just_under_the_neither_threshold_is_routed_on_its_confidence() -> None:
    neither = RULES.neither
    p_other = neither.min_probability - 1e-3
    decision = decide(three_class_prediction((1 - p_other) * 0.999, (1 - p_other) * 0.001, p_other), RULES)
    assert decision.route is Route.SHORT_RADIUS
    # the decision keeps the 1.0 schema's two numbers: the model's own, without "other"
    assert decision.probabilities is not None and decision.probabilities.other is None
    assert decision.probabilities.bicycle == pytest.approx((1 - p_other) * 0.999)


def test_rules_without_a_neither_threshold_are_refused() -> None:
    raw = RULES.model_dump(mode="json")
    del raw["neither"]
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(raw)


def test_a_two_class_answer_is_judged_on_its_confidence_alone() -> None:
    # GIVEN an answer from a model without "other" (two numbers)
    decision = decide(prediction(0.999), RULES)
    # THEN the neither rule has nothing to read, and the confident bicycle is routed
    assert decision.route is Route.SHORT_RADIUS


def test_rules_name_the_answer_classes_in_the_endpoints_order() -> None:
    assert RULES.answer_classes == ("bicycle", "motorcycle", "other")
    raw = RULES.model_dump(mode="json")
    with pytest.raises(ValidationError):
        RoutingRules.model_validate({**raw, "answer_classes": ["motorcycle", "bicycle", "other"]})


def test_a_confident_bicycle_gets_the_near_bay_and_a_short_radius() -> None:
    decision = decide(prediction(0.995), RULES)
    assert decision.route == Route.SHORT_RADIUS
    assert decision.bay == RULES.classes["bicycle"].bay  # type: ignore[index]
    assert decision.radius_km == RULES.classes["bicycle"].radius_km  # type: ignore[index]


def test_a_confident_motorcycle_gets_the_far_bay_and_a_long_radius() -> None:
    decision = decide(prediction(0.005), RULES)
    assert decision.route == Route.LONG_RADIUS
    assert decision.radius_km is not None
    assert decision.radius_km > RULES.classes["bicycle"].radius_km  # type: ignore[index]
    assert decision.model_version == "m1"


def test_the_shipped_rules_put_motorcycles_further_than_bicycles() -> None:
    bicycle, motorcycle = RULES.classes["bicycle"], RULES.classes["motorcycle"]  # type: ignore[index]
    assert bicycle.bay != motorcycle.bay
    assert bicycle.radius_km < motorcycle.radius_km


@pytest.mark.parametrize("p_bicycle", [0.55, 0.45, 0.5])
def test_an_unsure_call_goes_to_manual_review_never_to_a_bay(p_bicycle: float) -> None:
    decision = decide(prediction(p_bicycle), RULES)
    assert decision.route == Route.MANUAL_REVIEW
    assert decision.bay is None
    assert decision.reason == RULES.manual_review_reason


def test_the_threshold_is_inclusive_at_the_rule() -> None:
    threshold = RULES.classes["bicycle"].min_confidence  # type: ignore[index]
    assert decide(prediction(threshold), RULES).route == Route.SHORT_RADIUS


def test_a_rejection_becomes_a_rejected_decision_with_its_reason() -> None:
    rejection = Rejection(photo=PHOTO, driver_id="d-1", reason=RejectionReason.CORRUPT_IMAGE)
    decision = decide(rejection, RULES)
    assert (decision.route, decision.reason, decision.bay) == (Route.REJECTED, "corrupt-image", None)


def test_rules_must_cover_every_class_with_a_bay_route() -> None:
    rule = {"route": "short-radius", "bay": "B", "radius_km": 3, "min_confidence": 0.8}
    with pytest.raises(ValidationError):
        RoutingRules.model_validate({"version": "x", "classes": {"bicycle": rule}})
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(
            {"version": "x", "classes": {"bicycle": rule, "motorcycle": {**rule, "route": "manual-review"}}}
        )


def test_the_rules_use_the_threshold_the_committed_model_was_validated_with() -> None:
    from model.metadata import ARTIFACTS_DIR, ModelMetadata

    meta = ModelMetadata.load(ARTIFACTS_DIR)
    assert {rule.min_confidence for rule in RULES.classes.values()} == {meta.threshold}
    assert meta.neither is not None
    assert RULES.neither.min_probability == meta.neither.threshold
