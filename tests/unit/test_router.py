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

    threshold = ModelMetadata.load(ARTIFACTS_DIR).threshold
    assert {rule.min_confidence for rule in RULES.classes.values()} == {threshold}
