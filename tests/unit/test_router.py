from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.router.domain import UnknownLabel, decide, decide_review
from services.router.rules import RoutingRules
from shared.contracts import NONE, NOT_A_VEHICLE, RejectionReason, Review, ReviewReason, Route
from tests.decisions import BIKE, MOTO, RULES, decided, no_two_wheeler, prediction, rejected, sure, unsure


def bays(vehicle_class: str, depot_id: str | None = None) -> tuple[str, float]:
    """The served rules' bay and radius for a class at a depot (the default one by default)."""
    bay = RULES.depots[depot_id or RULES.default_depot].bays[vehicle_class]
    return bay.bay, bay.radius_km


def test_a_photo_of_neither_goes_to_review_with_its_own_reason_even_when_sure_of_the_vehicle() -> None:
    # GIVEN a photo the model finds shows no two-wheeler, though it leans to "bicycle" with certainty
    p_none = RULES.neither.min_probability
    assessment = prediction({BIKE: (1 - p_none) * 0.999, MOTO: (1 - p_none) * 0.001, NONE: p_none})
    assert assessment.confidence > RULES.classes[BIKE].min_confidence
    # WHEN the router decides
    decision = decide(assessment, RULES)
    # THEN a person looks at it, nothing reaches a bay, and the reason says why
    assert decision.outcome is Route.MANUAL_REVIEW
    assert (decision.bay, decision.vehicle_class, decision.model_answer) == (None, None, NONE)
    assert decision.reason == "no-two-wheeler" != RULES.manual_review_reason
    # AND the decision says what the rule compared: p(none) against its threshold
    assert (decision.compared, decision.threshold) == (p_none, RULES.neither.min_probability)


def test_a_vehicle_just_under_the_neither_threshold_is_routed_on_its_confidence() -> None:
    p_none = RULES.neither.min_probability - 1e-3
    decision = decided({BIKE: (1 - p_none) * 0.999, MOTO: (1 - p_none) * 0.001, NONE: p_none})
    assert (decision.outcome, decision.route) == (Route.ROUTED, "short-radius")
    # the decision keeps the vehicle classes' probabilities, and p(none) beside them
    assert decision.probabilities is not None and set(decision.probabilities) == {BIKE, MOTO}
    assert decision.probabilities[BIKE] == pytest.approx((1 - p_none) * 0.999)
    assert decision.none_probability == p_none


def test_rules_without_a_neither_threshold_are_refused() -> None:
    raw = RULES.model_dump(mode="json")
    del raw["neither"]
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(raw)


def test_a_two_class_answer_is_judged_on_its_confidence_alone() -> None:
    # GIVEN an answer from a model without "none" (two numbers)
    decision = decided({BIKE: 0.999, MOTO: 0.001})
    # THEN the neither rule has nothing to read, and the confident bicycle is routed
    assert decision.outcome is Route.ROUTED
    assert decision.none_probability is None


def test_the_rules_route_the_classes_the_committed_model_answers() -> None:
    from model.dataset import OTHER_CLASS
    from model.metadata import ARTIFACTS_DIR, ModelMetadata

    meta = ModelMetadata.load(ARTIFACTS_DIR)
    assert set(RULES.classes) == {name for name in meta.classes if name != OTHER_CLASS}


def test_a_class_the_rules_do_not_route_goes_to_a_person() -> None:
    # GIVEN a newer model, sure of a class these rules have no bay for
    decision = decided({"cargo-bike": 0.999, BIKE: 0.001, NONE: 0.0})
    # THEN a dispatcher decides, and the decision names what the model said
    assert (decision.outcome, decision.reason, decision.bay) == (
        Route.MANUAL_REVIEW,
        ReviewReason.UNKNOWN_CLASS,
        None,
    )
    assert decision.model_answer == "cargo-bike"


def test_a_confident_bicycle_gets_the_near_bay_and_a_short_radius() -> None:
    decision = decided(sure(BIKE, 0.995))
    assert (decision.outcome, decision.route, decision.vehicle_class) == (Route.ROUTED, "short-radius", BIKE)
    assert (decision.bay, decision.radius_km) == bays(BIKE)
    assert (decision.compared, decision.threshold) == (
        decision.confidence,
        RULES.classes[BIKE].min_confidence,
    )


def test_a_confident_motorcycle_gets_the_far_bay_and_a_long_radius() -> None:
    decision = decided(sure(MOTO, 0.995))
    assert (decision.outcome, decision.route, decision.vehicle_class) == (Route.ROUTED, "long-radius", MOTO)
    assert (decision.bay, decision.radius_km) == bays(MOTO)
    assert decision.model_version == "m1"


def test_the_shipped_rules_put_motorcycles_further_than_bicycles_at_every_depot() -> None:
    for depot_id in RULES.depots:
        (bicycle_bay, bicycle_km), (motorcycle_bay, motorcycle_km) = (
            bays(BIKE, depot_id),
            bays(MOTO, depot_id),
        )
        assert bicycle_bay != motorcycle_bay
        assert bicycle_km < motorcycle_km


@pytest.mark.parametrize("p_bicycle", [0.55, 0.45, 0.5])
def test_an_unsure_call_goes_to_manual_review_never_to_a_bay(p_bicycle: float) -> None:
    decision = decided({BIKE: p_bicycle, MOTO: 1 - p_bicycle, NONE: 0.0})
    assert decision.outcome == Route.MANUAL_REVIEW
    assert (decision.bay, decision.vehicle_class) == (None, None)
    assert decision.reason == RULES.manual_review_reason
    assert decision.threshold == RULES.classes[decision.model_answer or ""].min_confidence


def test_the_threshold_is_inclusive_at_the_rule() -> None:
    threshold = RULES.classes[BIKE].min_confidence
    decision = decided({BIKE: threshold, MOTO: 1 - threshold})
    assert decision.confidence == threshold
    assert decision.outcome == Route.ROUTED


def test_a_rejection_becomes_a_rejected_decision_with_its_reason() -> None:
    decision = rejected(reason=RejectionReason.CORRUPT_IMAGE)
    assert (decision.outcome, decision.route, decision.reason, decision.bay) == (
        Route.REJECTED,
        "rejected",
        "corrupt-image",
        None,
    )


@pytest.mark.parametrize("name", [NONE, NOT_A_VEHICLE, "Bicycle"])
def test_rules_refuse_a_class_name_that_cannot_name_a_vehicle_class(name: str) -> None:
    raw = RULES.model_dump(mode="json")
    raw["classes"][name] = raw["classes"][BIKE]
    for depot in raw["depots"].values():
        depot["bays"][name] = depot["bays"][BIKE]
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(raw)


def test_the_rules_use_the_threshold_the_committed_model_was_validated_with() -> None:
    from model.metadata import ARTIFACTS_DIR, ModelMetadata

    meta = ModelMetadata.load(ARTIFACTS_DIR)
    assert {rule.min_confidence for rule in RULES.classes.values()} == {meta.threshold}
    assert meta.neither is not None
    assert RULES.neither.min_probability == meta.neither.threshold


def test_a_dispatchers_label_routes_the_photo_to_that_class_bay_at_its_depot() -> None:
    # GIVEN an unsure photo at the second depot, and a dispatcher who says it is a motorcycle
    waiting = decided(unsure(), depot_id="depot-2")
    review = Review(reviewer="pat", label=MOTO)
    # WHEN the review is decided
    decision = decide_review(waiting, review, RULES)
    # THEN the driver is routed as a motorcycle at that depot, by the dispatcher, at the review's time
    assert (decision.outcome, decision.route, decision.vehicle_class) == (Route.ROUTED, "long-radius", MOTO)
    assert (decision.bay, decision.radius_km, decision.depot_id) == (*bays(MOTO, "depot-2"), "depot-2")
    assert (decision.decided_by, decision.decided_at, decision.review) == (
        "dispatcher:pat",
        review.reviewed_at,
        review,
    )
    # AND what the model said stays on it
    assert (decision.model_answer, decision.probabilities) == (BIKE, waiting.probabilities)
    assert decision.reason is None


def test_not_a_vehicle_rejects_the_photo_with_that_reason() -> None:
    waiting = decided(no_two_wheeler())
    decision = decide_review(waiting, Review(reviewer="pat", label=NOT_A_VEHICLE), RULES)
    assert (decision.outcome, decision.route, decision.reason) == (Route.REJECTED, "rejected", NOT_A_VEHICLE)
    assert (decision.bay, decision.vehicle_class, decision.model_answer) == (None, None, NONE)


def test_a_label_the_rules_do_not_know_is_refused() -> None:
    with pytest.raises(UnknownLabel, match="bicycle, motorcycle, not-a-vehicle"):
        decide_review(decided(unsure()), Review(reviewer="pat", label="cargo-bike"), RULES)
