"""`evaluate --reviews`: the model judged by dispatchers' reviews, from capture records."""

from __future__ import annotations

from datetime import UTC, datetime

from driver_routing.live_accuracy import format_live_accuracy, live_accuracy
from services.api.reviews import reviewed_record
from services.router.rules import load_rules
from shared.contracts import CaptureRecord, Review, ReviewLabel, Route, VehicleClass
from tests.api.conftest import decision_for


def record(name: str, route: Route, model: VehicleClass | None = None) -> CaptureRecord:
    reason = "corrupt-image" if route == Route.REJECTED else None
    decided = CaptureRecord.from_decision(
        decision_for(f"photos/d-001/{name}.jpg", route=route, reason=reason)
    )
    return decided.model_copy(update={"vehicle_class": model}) if model else decided


def reviewed(name: str, model: VehicleClass, label: ReviewLabel) -> CaptureRecord:
    waiting = record(name, Route.MANUAL_REVIEW, model)
    now = datetime.now(UTC)
    return reviewed_record(waiting, Review(reviewer="pat", label=label), load_rules(), now)


def test_accuracy_on_reviewed_photos_and_who_routed_the_drivers() -> None:
    # GIVEN 3 drivers routed by the model, 3 reviewed photos (the model right once, wrong once, and a
    # photo of no vehicle), and one still waiting
    records = [
        record("a", Route.SHORT_RADIUS),
        record("b", Route.SHORT_RADIUS),
        record("c", Route.LONG_RADIUS),
        reviewed("d", VehicleClass.BICYCLE, ReviewLabel.BICYCLE),
        reviewed("e", VehicleClass.BICYCLE, ReviewLabel.MOTORCYCLE),
        reviewed("f", VehicleClass.MOTORCYCLE, ReviewLabel.NOT_A_VEHICLE),
        record("g", Route.MANUAL_REVIEW, VehicleClass.MOTORCYCLE),
        record("h", Route.REJECTED),
    ]
    # WHEN the live accuracy is computed
    summary = live_accuracy(records)
    # THEN the model agreed on 1 of 3 reviews, and routed 3 of the 5 routed drivers
    assert (summary["reviewed"], summary["model_correct"], summary["model_accuracy_on_reviewed"]) == (
        3,
        1,
        0.3333,
    )
    assert (summary["routed"], summary["routed_by_model"], summary["routed_by_dispatcher"]) == (5, 3, 2)
    assert (summary["share_routed_by_model"], summary["share_routed_by_dispatcher"]) == (0.6, 0.4)
    assert summary["waiting_for_review"] == 1
    assert summary["confusion"] == {
        "bicycle -> bicycle": 1,
        "bicycle -> motorcycle": 1,
        "motorcycle -> not-a-vehicle": 1,
    }
    assert "33.3%" in format_live_accuracy(summary)


def test_no_reviews_yet_is_said_plainly() -> None:
    summary = live_accuracy([record("a", Route.SHORT_RADIUS)])
    assert summary["model_accuracy_on_reviewed"] is None
    assert summary["share_routed_by_model"] == 1.0
    assert "reviewed photos: 0" in format_live_accuracy(summary)
