"""Each captured decision is one EMF line: its outcome, the model's class and confidence, its version."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from services.capture.bootstrap import build_capture
from shared.contracts import RoutingDecision
from shared.model_metrics import (
    CLASS_DIMENSION,
    CONFIDENCE_METRIC,
    DECISION_METRIC,
    OUTCOME_DIMENSION,
    decision_metrics,
)
from shared.observability import NAMESPACE
from tests.decisions import decided, no_two_wheeler, rejected, sure, unsure
from tests.fakes import FakeCaptureTable
from tests.settings import capture_settings


def emf(decision: RoutingDecision) -> dict[str, Any]:
    return dict(decision_metrics(decision, decision.model_version).serialize_metric_set())


def series(blob: dict[str, Any]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(metric, dimensions) pairs CloudWatch makes of one EMF line."""
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    return {
        (metric["Name"], tuple(sorted((name, blob[name]) for name in dimensions)))
        for metric in directive["Metrics"]
        for dimensions in directive["Dimensions"]
    }


@pytest.mark.parametrize(
    ("decision", "outcome", "model_class", "confidence"),
    [
        (decided(sure("motorcycle"), key="photos/d-1/r.jpg"), "routed", "motorcycle", 0.999),
        (decided(unsure(), key="photos/d-1/u.jpg"), "review", "bicycle", 0.7),
        (decided(no_two_wheeler(), key="photos/d-1/n.jpg"), "none", "none", 0.93),
    ],
)
def test_an_answered_decision_counts_by_outcome_and_by_class(
    decision: RoutingDecision, outcome: str, model_class: str, confidence: float
) -> None:
    # GIVEN a decision the model answered
    # WHEN its metrics are made
    blob = emf(decision)

    # THEN one count goes to its outcome and one to the model's class, with how sure the model was of
    # its own answer (p(none) for "none"), and the model version as metadata, not a dimension
    assert blob[OUTCOME_DIMENSION] == outcome and blob[CLASS_DIMENSION] == model_class
    assert (blob[DECISION_METRIC], blob[CONFIDENCE_METRIC]) == ([1.0], [confidence])
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert series(blob) >= {
        (DECISION_METRIC, (("outcome", outcome), ("service", "capture"))),
        (DECISION_METRIC, (("class", model_class), ("service", "capture"))),
    }
    assert blob["model_version"] == "m1"
    assert all("model_version" not in dims for dims in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"])


def test_a_rejection_counts_by_outcome_only() -> None:
    # GIVEN a photo rejected before the model answered
    # WHEN its metrics are made
    blob = emf(rejected("photos/d-1/x.jpg"))

    # THEN it counts as rejected, under no class and with no confidence
    assert series(blob) == {(DECISION_METRIC, (("outcome", "rejected"), ("service", "capture")))}
    assert CONFIDENCE_METRIC not in blob


def test_capture_writes_one_metric_line_per_photo_and_none_for_a_duplicate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN capture on a fake table
    metrics = Metrics(namespace=NAMESPACE, service="capture")
    capture = build_capture(capture_settings(), table=FakeCaptureTable(), metrics=metrics)
    decision = decided(unsure(), key="photos/d-2/a.jpg")

    # WHEN the same decision arrives twice
    capture.capture(decision)
    capture.capture(decision)
    metrics.clear_metrics()

    # THEN one EMF line says so: the photo is counted once
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    decisions = [line for line in lines if DECISION_METRIC in line]
    assert [(line[OUTCOME_DIMENSION], line[CLASS_DIMENSION]) for line in decisions] == [("review", "bicycle")]
