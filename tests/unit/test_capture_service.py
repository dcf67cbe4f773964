"""capture built by its composition root on a fake table: one record per photo, duplicates counted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aws_lambda_powertools import Metrics

from services.capture.bootstrap import build_capture
from services.capture.service import Capture
from shared.contracts import Route, RoutingDecision, VehicleClass
from shared.observability import NAMESPACE
from shared.settings import Settings
from tests.fakes import FakeCaptureTable, photo_at


@dataclass
class World:
    table: FakeCaptureTable
    metrics: Metrics
    capture: Capture


@pytest.fixture
def world() -> World:
    table = FakeCaptureTable()
    metrics = Metrics(namespace=NAMESPACE, service="capture")
    metrics.clear_metrics()  # Powertools keeps one metric set per process
    return World(table, metrics, build_capture(Settings(), table=table, metrics=metrics))


def decision(key: str, route: Route = Route.SHORT_RADIUS) -> RoutingDecision:
    routed = route in (Route.SHORT_RADIUS, Route.LONG_RADIUS)
    return RoutingDecision(
        photo=photo_at(key),
        driver_id="d-5",
        route=route,
        bay="B-1" if routed else None,
        radius_km=2.0 if routed else None,
        vehicle_class=VehicleClass.BICYCLE if routed else None,
        reason=None if routed else "low-confidence",
        rules_version="test-rules",
    )


def test_a_decision_becomes_one_capture_record(world: World) -> None:
    # GIVEN a decision on the capture queue
    routed = decision("photos/d-5/a.jpg")

    # WHEN capture handles it
    written = world.capture.capture(routed)

    # THEN the table holds its record and the capture is counted
    assert written is True
    [record] = world.table.records.values()
    assert (record.photo_id, record.driver_id, record.route, record.bay) == (
        routed.photo.photo_id,
        "d-5",
        Route.SHORT_RADIUS,
        "B-1",
    )
    assert "DecisionCaptured" in world.metrics.metric_set


def test_a_second_decision_for_a_photo_is_a_duplicate_and_the_first_record_stands(world: World) -> None:
    # GIVEN a photo whose decision was captured
    world.capture.capture(decision("photos/d-5/a.jpg"))
    world.metrics.clear_metrics()

    # WHEN another decision for the same photo arrives (a redelivery, or a late retry)
    written = world.capture.capture(decision("photos/d-5/a.jpg", Route.MANUAL_REVIEW))

    # THEN nothing is written, the duplicate is counted, the first record is kept
    assert written is False
    assert [r.route for r in world.table.records.values()] == [Route.SHORT_RADIUS]
    assert set(world.metrics.metric_set) == {"DuplicateDecision"}


def test_a_table_error_propagates(world: World) -> None:
    # GIVEN a table that cannot be written
    class Unavailable(FakeCaptureTable):
        def put_once(self, record: object) -> bool:
            raise ConnectionError("dynamodb unavailable")

    capture = build_capture(Settings(), table=Unavailable(), metrics=world.metrics)

    # WHEN capture handles a decision, THEN the error reaches the batch processor
    with pytest.raises(ConnectionError):
        capture.capture(decision("photos/d-5/a.jpg"))
    assert world.metrics.metric_set == {}
