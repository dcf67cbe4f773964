"""capture built by its composition root on a fake table: one record per photo, duplicates counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from aws_lambda_powertools import Metrics

from services.capture.bootstrap import build_capture
from services.capture.service import Capture
from shared.contracts import Route, RoutingDecision
from shared.observability import NAMESPACE
from tests.decisions import decided, sure, unsure
from tests.fakes import FakeCaptureTable
from tests.settings import capture_settings


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
    return World(table, metrics, build_capture(capture_settings(), table=table, metrics=metrics))


def decision(key: str, *, routed: bool = True) -> RoutingDecision:
    """The router's decision for a sure bicycle (bay B-NEAR-01 at the default depot), or an unsure one."""
    return decided(sure() if routed else unsure(), key=key)


def test_a_decision_becomes_one_capture_record(world: World) -> None:
    # GIVEN a decision on the capture queue
    routed = decision("photos/d-5/a.jpg")

    # WHEN capture handles it
    written = world.capture.capture(routed)

    # THEN the table holds its record and the capture is counted
    assert written is True
    [record] = world.table.records.values()
    assert (record.photo_id, record.driver_id, record.outcome, record.bay) == (
        routed.photo.photo_id,
        "d-5",
        Route.ROUTED,
        "B-NEAR-01",
    )
    assert (record.vehicle_class, record.depot_id, record.decided_by) == ("bicycle", "depot-1", "model")
    assert "DecisionCaptured" in world.metrics.metric_set


def test_a_captured_decision_times_each_stage_it_went_through(world: World) -> None:
    # GIVEN a decision whose photo was uploaded 900 ms before it was decided, with each stage's time
    routed = decision("photos/d-5/t.jpg")
    uploaded = routed.photo.uploaded_at - timedelta(seconds=2)
    timed = routed.model_copy(
        update={
            "photo": routed.photo.model_copy(update={"uploaded_at": uploaded}),
            "ingested_at": uploaded + timedelta(milliseconds=100),
            "assessed_at": uploaded + timedelta(milliseconds=700),
            "decided_at": uploaded + timedelta(milliseconds=900),
        }
    )

    # WHEN capture writes its record
    world.capture.capture(timed)

    # THEN the dashboard's per-stage latencies are emitted, in milliseconds
    metrics = world.metrics.metric_set
    assert (metrics["IngestLatency"]["Value"], metrics["ClassifyLatency"]["Value"]) == ([100.0], [600.0])
    assert metrics["RouteLatency"]["Value"] == [200.0]
    assert metrics["CaptureLatency"]["Value"][0] >= 0
    assert metrics["UploadToRecordLatency"]["Value"][0] >= 2000.0


def test_a_second_decision_for_a_photo_is_a_duplicate_and_the_first_record_stands(world: World) -> None:
    # GIVEN a photo whose decision was captured
    world.capture.capture(decision("photos/d-5/a.jpg"))
    world.metrics.clear_metrics()

    # WHEN another decision for the same photo arrives (a redelivery, or a late retry)
    written = world.capture.capture(decision("photos/d-5/a.jpg", routed=False))

    # THEN nothing is written, the duplicate is counted, the first record is kept
    assert written is False
    assert [r.outcome for r in world.table.records.values()] == [Route.ROUTED]
    assert set(world.metrics.metric_set) == {"DuplicateDecision"}


def test_a_table_error_propagates(world: World) -> None:
    # GIVEN a table that cannot be written
    class Unavailable(FakeCaptureTable):
        def put_once(self, record: object) -> bool:
            raise ConnectionError("dynamodb unavailable")

    capture = build_capture(capture_settings(), table=Unavailable(), metrics=world.metrics)

    # WHEN capture handles a decision, THEN the error reaches the batch processor
    with pytest.raises(ConnectionError):
        capture.capture(decision("photos/d-5/a.jpg"))
    assert world.metrics.metric_set == {}
