"""`evaluate --reviews`: the model judged by dispatchers' reviews, from capture records."""

from __future__ import annotations

from driver_routing.live_accuracy import format_live_accuracy, live_accuracy
from services.router.domain import decide_review
from shared.contracts import NONE, NOT_A_VEHICLE, CaptureRecord, Review
from tests.decisions import BIKE, MOTO, RULES, decided, no_two_wheeler, record_of, rejected, sure, unsure


def record(name: str, answer: dict[str, float]) -> CaptureRecord:
    return record_of(decided(answer, key=f"photos/d-001/{name}.jpg"))


def reviewed(name: str, answer: dict[str, float], label: str) -> CaptureRecord:
    """The record of a photo the model sent to a person, after a dispatcher said it shows `label`."""
    waiting = decided(answer, key=f"photos/d-001/{name}.jpg")
    return record_of(decide_review(waiting, Review(reviewer="pat", label=label), RULES))


def test_accuracy_on_reviewed_photos_and_who_routed_the_drivers() -> None:
    # GIVEN 3 drivers routed by the model, 4 reviewed photos (the model right twice - once that there
    # was no two-wheeler - and wrong twice), one still waiting and one rejected
    records = [
        record("a", sure(BIKE)),
        record("b", sure(BIKE)),
        record("c", sure(MOTO)),
        reviewed("d", unsure(), BIKE),
        reviewed("e", unsure(), MOTO),
        reviewed("f", no_two_wheeler(), NOT_A_VEHICLE),
        reviewed("g", no_two_wheeler(), MOTO),
        record("h", unsure()),
        record_of(rejected("photos/d-001/i.jpg")),
    ]
    # WHEN the live accuracy is computed
    summary = live_accuracy(records)
    # THEN the model agreed on 2 of 4 reviews ("not a vehicle" is its "none"), and routed 3 of 6 drivers
    assert (summary["reviewed"], summary["agreed"], summary["agreement"]) == (4, 2, 0.5)
    assert (summary["routed"], summary["routed_by_model"], summary["routed_by_dispatcher"]) == (6, 3, 3)
    assert (summary["share_routed_by_model"], summary["share_routed_by_dispatcher"]) == (0.5, 0.5)
    assert summary["waiting_for_review"] == 1
    # AND the confusion matrix has every cell, over the classes seen
    assert summary["classes"] == [BIKE, MOTO, NONE]
    assert summary["confusion"] == {
        BIKE: {BIKE: 1, MOTO: 1, NONE: 0},
        MOTO: {BIKE: 0, MOTO: 0, NONE: 0},
        NONE: {BIKE: 0, MOTO: 1, NONE: 1},
    }
    assert summary["overturned"] == {"bicycle -> motorcycle": 1, "none -> motorcycle": 1}
    text = format_live_accuracy(summary)
    assert "agreed on 2 (50.0%)" in text
    assert "overturned: the model said no two-wheeler, the dispatcher motorcycle: 1" in text


def test_no_reviews_yet_is_said_plainly() -> None:
    summary = live_accuracy([record("a", sure())])
    assert (summary["agreement"], summary["confusion"]) == (None, {})
    assert summary["share_routed_by_model"] == 1.0
    assert "reviewed photos: 0" in format_live_accuracy(summary)
