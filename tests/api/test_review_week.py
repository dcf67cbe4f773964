"""`evaluate --reviews --plot`: the dispatchers' week, counted per day and drawn."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from driver_routing.review_week import plot_week, review_days
from services.router.domain import decide_review
from shared.contracts import NOT_A_VEHICLE, CaptureRecord, Review
from tests.decisions import BIKE, MOTO, RULES, decided, no_two_wheeler, record_of, sure, unsure

TODAY = date(2026, 3, 14)


def reviewed(name: str, answer: dict[str, float], label: str, days_ago: int) -> CaptureRecord:
    at = datetime(2026, 3, 14, 9, tzinfo=UTC) - timedelta(days=days_ago)
    waiting = decided(answer, key=f"photos/d-001/{name}.jpg")
    return record_of(decide_review(waiting, Review(reviewer="pat", label=label, reviewed_at=at), RULES))


def week() -> list[CaptureRecord]:
    return [
        reviewed("a", unsure(), BIKE, 0),  # agreed today
        reviewed("b", unsure(), MOTO, 0),  # overturned today
        reviewed("c", no_two_wheeler(), NOT_A_VEHICLE, 2),  # agreed: "not a vehicle" is "none"
        reviewed("d", no_two_wheeler(), MOTO, 2),  # overturned
        reviewed("e", unsure(), BIKE, 9),  # before the week
        record_of(decided(sure(), key="photos/d-001/f.jpg")),  # routed by the model: no review
    ]


def test_the_week_counts_reviews_agreement_and_overturned_answers_per_day() -> None:
    # GIVEN reviews today, two days ago and nine days ago, and a photo nobody reviewed
    # WHEN the week ending today is counted
    days = review_days(week(), TODAY)
    # THEN there are seven days, oldest first, empty days included and the old review left out
    assert [d.day for d in days] == [TODAY - timedelta(days=n) for n in range(6, -1, -1)]
    by_day = {d.day: (d.reviewed, d.agreed, d.overturned, d.agreement) for d in days}
    assert by_day[TODAY] == (2, 1, 1, 0.5)
    assert by_day[TODAY - timedelta(days=2)] == (2, 1, 1, 0.5)
    assert by_day[TODAY - timedelta(days=1)] == (0, 0, 0, None)
    assert sum(d.reviewed for d in days) == 4


def test_the_week_is_drawn_as_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    # GIVEN the week's counts
    days = review_days(week(), TODAY)
    # WHEN it is drawn
    out = tmp_path / "week.png"
    plot_week(days, out)
    # THEN the file is a PNG of the figure's size
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (900, 450))
