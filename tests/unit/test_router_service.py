"""router built by its composition root on fakes: the decision per assessment, and no second publish of a
late photo that already has its record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.router.bootstrap import build_router
from services.router.rules import Bay, ClassRule, Depot, NeitherRule, RoutingRules
from services.router.service import Router as RouterService
from shared.contracts import CaptureRecord, PhotoRef, Prediction, Rejection, RejectionReason, Route
from tests.decisions import BIKE, MOTO
from tests.decisions import prediction as predicted
from tests.fakes import FakeCaptureTable, FakeTopic, photo_at
from tests.settings import router_settings

RULES = RoutingRules(
    version="test-rules",
    manual_review_reason="unsure",
    classes={
        BIKE: ClassRule(route="short-radius", min_confidence=0.9),
        MOTO: ClassRule(route="long-radius", min_confidence=0.8),
    },
    neither=NeitherRule(min_probability=0.5),
    default_depot="depot-a",
    depots={
        "depot-a": Depot(
            name="Test depot",
            bays={
                BIKE: Bay(bay="B-1", name="Bicycle bay", radius_km=2.0),
                MOTO: Bay(bay="M-1", name="Motorcycle bay", radius_km=9.0),
            },
        )
    },
)


@dataclass
class Router:
    topic: FakeTopic
    records: FakeCaptureTable
    unit: RouterService


@pytest.fixture
def router() -> Router:
    topic, records = FakeTopic(), FakeCaptureTable()
    unit = build_router(router_settings(), topic=topic, records=records, rules=RULES)
    return Router(topic, records, unit)


def prediction(key: str, p_bicycle: float, *, photo: PhotoRef | None = None) -> Prediction:
    """The classifier's prediction for a two-class answer with this p(bicycle)."""
    assessment = predicted({BIKE: p_bicycle, MOTO: 1 - p_bicycle}, key=key)
    return assessment.model_copy(update={"photo": photo}) if photo else assessment


@pytest.mark.parametrize(
    ("p_bicycle", "route", "bay", "radius_km"),
    [(0.95, "short-radius", "B-1", 2.0), (0.15, "long-radius", "M-1", 9.0)],
    ids=["sure-bicycle", "sure-motorcycle"],
)
def test_a_confident_prediction_is_routed_to_its_class_bay(
    router: Router, p_bicycle: float, route: str, bay: str, radius_km: float
) -> None:
    # GIVEN a prediction above its class's threshold
    assessment = prediction("photos/d-4/a.jpg", p_bicycle)

    # WHEN the router handles it
    outcome = router.unit.route(assessment)

    # THEN one decision with the class's bay and radius, under the rules' version, is published
    [decision] = router.topic.published
    assert (decision.photo, decision.outcome, decision.route, decision.bay, decision.radius_km) == (
        assessment.photo,
        Route.ROUTED,
        route,
        bay,
        radius_km,
    )
    assert (decision.rules_version, decision.depot_id) == ("test-rules", "depot-a")
    assert outcome == {"outcome": "routed", "published": True}


def test_an_unsure_prediction_goes_to_manual_review(router: Router) -> None:
    # GIVEN a bicycle prediction below the bicycle threshold (but above the motorcycle one)
    assessment = prediction("photos/d-4/c.jpg", 0.85)

    # WHEN the router handles it
    outcome = router.unit.route(assessment)

    # THEN a person looks at it: no bay
    [decision] = router.topic.published
    assert (decision.outcome, decision.reason, decision.bay) == (Route.MANUAL_REVIEW, "unsure", None)
    assert outcome == {"outcome": "manual-review", "published": True}


def test_a_rejection_is_published_as_a_rejected_decision_with_its_reason(router: Router) -> None:
    # GIVEN a photo ingest rejected
    rejection = Rejection(
        photo=photo_at("photos/d-4/r.gif"), driver_id="d-4", reason=RejectionReason.UNSUPPORTED_EXTENSION
    )

    # WHEN the router handles it
    router.unit.route(rejection)

    # THEN the driver is told why, through the same topic
    [decision] = router.topic.published
    assert (decision.outcome, decision.reason, decision.driver_id) == (
        Route.REJECTED,
        "unsupported-extension",
        "d-4",
    )


def test_a_fresh_photo_is_published_without_asking_the_capture_table(router: Router) -> None:
    # GIVEN a prediction for a photo uploaded just now (the topic's deduplication window covers it)
    assessment = prediction("photos/d-4/a.jpg", 0.95)

    # WHEN the router handles it twice
    router.unit.route(assessment)
    router.unit.route(assessment)

    # THEN both publishes go to the topic (which drops the second) and the table is never read
    assert [d.photo for d in router.topic.published] == [assessment.photo, assessment.photo]
    assert all(d.deduplication_id == assessment.photo.photo_id for d in router.topic.published)
    assert router.records.lookups == []


def test_a_late_photo_with_a_record_is_not_published_again(router: Router) -> None:
    # GIVEN a photo uploaded ten minutes ago, past the topic's deduplication window, whose decision is
    # already in the capture table, and a late photo without a record
    old = datetime.now(UTC) - timedelta(minutes=10)
    done = prediction(
        "photos/d-4/x.jpg",
        0.95,
        photo=photo_at("photos/d-4/done.jpg").model_copy(update={"uploaded_at": old}),
    )
    waiting = prediction(
        "photos/d-4/x.jpg", 0.95, photo=photo_at("photos/d-4/new.jpg").model_copy(update={"uploaded_at": old})
    )
    router.unit.route(done)
    router.records.put_once(CaptureRecord.from_decision(router.topic.published.pop()))

    # WHEN a redrive brings both back
    outcomes = [router.unit.route(done), router.unit.route(waiting)]

    # THEN only the one without a record is published; both were looked up
    assert [o["published"] for o in outcomes] == [False, True]
    assert [d.photo.key for d in router.topic.published] == ["photos/d-4/new.jpg"]
    assert router.records.lookups[-2:] == [done.photo.photo_id, waiting.photo.photo_id]


def test_a_failed_publish_propagates_and_its_redelivery_publishes_once(router: Router) -> None:
    # GIVEN a topic that fails once
    assessment = prediction("photos/d-4/a.jpg", 0.95)
    router.topic.failure = ConnectionError("sns unavailable")

    # WHEN the router handles the assessment, THEN the error propagates
    with pytest.raises(ConnectionError):
        router.unit.route(assessment)

    # WHEN SQS redelivers it once the topic is back
    router.topic.failure = None
    router.unit.route(assessment)

    # THEN the redelivery is published
    assert len(router.topic.published) == 1
