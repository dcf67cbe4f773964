"""router built by its composition root on fakes: one decision per assessment, per photo."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.router.bootstrap import build_router
from services.router.rules import ClassRule, NeitherRule, RoutingRules
from shared.contracts import (
    Prediction,
    Probabilities,
    Rejection,
    RejectionReason,
    Route,
    VehicleClass,
)
from shared.idempotency import OncePerPhoto, PhotoIdempotency
from shared.settings import Settings
from tests.fakes import FakeTopic, InMemoryPersistence, lambda_context, photo_at

RULES = RoutingRules(
    version="test-rules",
    manual_review_reason="unsure",
    classes={
        VehicleClass.BICYCLE: ClassRule(
            route=Route.SHORT_RADIUS, bay="B-1", radius_km=2.0, min_confidence=0.9
        ),
        VehicleClass.MOTORCYCLE: ClassRule(
            route=Route.LONG_RADIUS, bay="M-1", radius_km=9.0, min_confidence=0.8
        ),
    },
    neither=NeitherRule(min_probability=0.5),
)


@dataclass
class Router:
    topic: FakeTopic
    unit: OncePerPhoto[Prediction | Rejection]


@pytest.fixture
def router() -> Router:
    settings = Settings()
    topic = FakeTopic()
    unit = build_router(
        settings, topic=topic, rules=RULES, idempotency=PhotoIdempotency(settings, InMemoryPersistence())
    )
    unit.register_lambda_context(lambda_context("router"))
    return Router(topic, unit)


def prediction(key: str, p_bicycle: float) -> Prediction:
    probabilities = Probabilities(bicycle=p_bicycle, motorcycle=1 - p_bicycle)
    vehicle_class, confidence = probabilities.top
    return Prediction(
        photo=photo_at(key),
        driver_id="d-4",
        probabilities=probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
    )


@pytest.mark.parametrize(
    ("p_bicycle", "route", "bay", "radius_km"),
    [(0.95, Route.SHORT_RADIUS, "B-1", 2.0), (0.15, Route.LONG_RADIUS, "M-1", 9.0)],
    ids=["sure-bicycle", "sure-motorcycle"],
)
def test_a_confident_prediction_is_routed_to_its_class_bay(
    router: Router, p_bicycle: float, route: Route, bay: str, radius_km: float
) -> None:
    # GIVEN a prediction above its class's threshold
    assessment = prediction("photos/d-4/a.jpg", p_bicycle)

    # WHEN the router handles it
    outcome = router.unit.run(assessment)

    # THEN one decision with the class's bay and radius, under the rules' version, is published
    [decision] = router.topic.published
    assert (decision.photo, decision.route, decision.bay, decision.radius_km) == (
        assessment.photo,
        route,
        bay,
        radius_km,
    )
    assert decision.rules_version == "test-rules"
    assert outcome == {"route": route.value, "message_id": "sns-1"}


def test_an_unsure_prediction_goes_to_manual_review(router: Router) -> None:
    # GIVEN a bicycle prediction below the bicycle threshold (but above the motorcycle one)
    assessment = prediction("photos/d-4/c.jpg", 0.85)

    # WHEN the router handles it
    router.unit.run(assessment)

    # THEN a person looks at it: no bay
    [decision] = router.topic.published
    assert (decision.route, decision.reason, decision.bay) == (Route.MANUAL_REVIEW, "unsure", None)


def test_a_rejection_is_published_as_a_rejected_decision_with_its_reason(router: Router) -> None:
    # GIVEN a photo ingest rejected
    rejection = Rejection(
        photo=photo_at("photos/d-4/r.gif"), driver_id="d-4", reason=RejectionReason.UNSUPPORTED_EXTENSION
    )

    # WHEN the router handles it
    router.unit.run(rejection)

    # THEN the driver is told why, through the same topic
    [decision] = router.topic.published
    assert (decision.route, decision.reason, decision.driver_id) == (
        Route.REJECTED,
        "unsupported-extension",
        "d-4",
    )


def test_the_same_assessment_twice_publishes_one_decision(router: Router) -> None:
    # GIVEN a prediction the route queue delivered twice
    assessment = prediction("photos/d-4/a.jpg", 0.95)

    # WHEN the router handles both
    first, second = router.unit.run(assessment), router.unit.run(assessment)

    # THEN one decision is published and the duplicate gets the first's message id
    assert len(router.topic.published) == 1
    assert first == second


def test_a_failed_publish_propagates_and_its_redelivery_publishes_once(router: Router) -> None:
    # GIVEN a topic that fails once
    assessment = prediction("photos/d-4/a.jpg", 0.95)
    router.topic.failure = ConnectionError("sns unavailable")

    # WHEN the router handles the assessment, THEN the error propagates
    with pytest.raises(ConnectionError):
        router.unit.run(assessment)

    # WHEN SQS redelivers it once the topic is back
    router.topic.failure = None
    router.unit.run(assessment)

    # THEN exactly one decision
    assert len(router.topic.published) == 1
