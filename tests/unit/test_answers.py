"""Every surface says a decision the same way: the class, "no two-wheeler" or "unsure", with the number
the rule compared and its threshold, so a reader can check the route from the line alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.router.domain import decide_review
from shared.answers import answer_line, percent
from shared.contracts import Review
from tests.decisions import BIKE, MOTO, RULES, decided, no_two_wheeler, rejected, sure, unsure

THRESHOLD = RULES.classes[BIKE].min_confidence


def numbers(line: str) -> list[float]:
    return [float(n) / 100 for n in re.findall(r"(\d+\.\d+)%", line)]


def test_a_routed_photo_says_its_class_how_sure_and_the_bar_it_cleared() -> None:
    # GIVEN a bicycle the model is sure of
    decision = decided(sure(BIKE, 0.9973))
    # WHEN it is said
    line = answer_line(decision)
    # THEN the line names the class, the compared number, the threshold and the bay
    assert line == f"bicycle, 99.73% sure (needs {percent(THRESHOLD)}) → bay B-NEAR-01, 3 km"
    compared, needs = numbers(line)
    assert compared >= needs


def test_a_photo_with_no_two_wheeler_never_reads_as_a_sure_vehicle() -> None:
    # GIVEN a cat: the vehicle classes' shares say "motorcycle 71%", p(none) is 0.93
    decision = decided(no_two_wheeler())
    line = answer_line(decision)
    # THEN it reads "no two-wheeler", with p(none) and the screen's threshold, and no vehicle class at all
    assert line == "no two-wheeler seen (93.00%, from 50.00%) → a dispatcher looks"
    assert BIKE not in line and MOTO not in line


def test_an_unsure_photo_shows_both_shares_and_the_bar_they_missed() -> None:
    line = answer_line(decided(unsure()))
    assert (
        line
        == f"unsure: bicycle 70.00% / motorcycle 30.00% (needs {percent(THRESHOLD)}) → a dispatcher looks"
    )
    assert max(numbers(line)[:2]) < numbers(line)[2]


def test_a_share_just_under_the_threshold_never_prints_as_reaching_it() -> None:
    # GIVEN a confidence a hair under the threshold
    just_under = THRESHOLD - 1e-6
    decision = decided({BIKE: just_under, MOTO: 1 - just_under})
    # THEN the line says it went to a person, and its printed number is below the printed threshold
    line = answer_line(decision)
    assert line.endswith("a dispatcher looks")
    shares = numbers(line)
    assert shares[0] < shares[-1]


@pytest.mark.parametrize("p", [0.9849, 0.98490001, 0.99, 0.999999])
def test_every_routed_line_prints_a_number_at_or_above_its_threshold(p: float) -> None:
    line = answer_line(decided(sure(MOTO, p)))
    compared, needs = numbers(line)
    assert "→ bay M-FAR-01" in line and compared >= needs


def test_a_review_says_who_decided_what_and_what_the_model_had_said() -> None:
    # GIVEN an unsure photo a dispatcher called a motorcycle
    review = Review(reviewer="pat", label=MOTO, reviewed_at=datetime.now(UTC))
    line = answer_line(decide_review(decided(unsure()), review, RULES))
    # THEN the line starts with the dispatcher's call and keeps the model's view after it
    assert line.startswith(
        "pat (dispatcher): motorcycle → bay M-FAR-01, 12 km (the model: unsure: bicycle 70.00%"
    )


def test_a_rejection_says_its_reason() -> None:
    assert answer_line(rejected()) == "rejected: corrupt-image"
