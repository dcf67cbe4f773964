"""The review desk on fakes of its ports: the first review, corrections (and stale ones), leases (taken,
renewed, expired, held by another), the history that is only ever appended, the outbox and the board's
lane of every open review whatever its age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools import Logger, Metrics

from services.api.errors import AlreadyDecided, Claimed, Stale
from services.api.identity import Caller
from services.api.models import CorrectionRequest, ReviewRequest
from services.api.reviews import LEASE
from services.api.service import DispatchApi
from shared.contracts import Route
from tests.decisions import BIKE, MOTO, RULES, decided, record_of, unsure
from tests.dispatch_fakes import FakePhotoLinks, FakeReviewRecords, FakeUploadTickets
from tests.fakes import FakeTopic
from tests.settings import api_settings

DEPOT = RULES.default_depot
PAT = Caller("pat", frozenset({"dispatchers"}), None, DEPOT)
ROBIN = Caller("robin", frozenset({"dispatchers"}), None, DEPOT)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Desk:
    def __init__(self) -> None:
        self.records, self.topic, self.clock = FakeReviewRecords(), FakeTopic(), Clock()
        self.api = DispatchApi(
            settings=api_settings(),
            records=self.records,
            links=FakePhotoLinks(),
            topic=self.topic,
            rules=RULES,
            tickets=FakeUploadTickets(),
            logger=Logger(service="api-test"),
            metrics=Metrics(namespace="Test", service="api-test"),
            clock=self.clock,
        )
        self.desk = self.api.desk

    def waiting(self, name: str = "a", uploaded_ago: timedelta = timedelta(minutes=1)) -> str:
        uploaded = self.clock.now - uploaded_ago
        decision = decided(unsure(), key=f"photos/d-1/{name}.jpg", depot_id=DEPOT, decided_at=uploaded)
        decision = decision.model_copy(
            update={"photo": decision.photo.model_copy(update={"uploaded_at": uploaded})}
        )
        record = record_of(decision)
        self.records.put(record)
        return record.photo_id


@pytest.fixture
def desk() -> Desk:
    return Desk()


def test_a_correction_is_a_decision_of_its_own_appended_to_the_history(desk: Desk) -> None:
    # GIVEN pat's first review of a photo waiting for one
    photo_id = desk.waiting()
    first = desk.desk.review(PAT, photo_id, ReviewRequest(label=BIKE, note="looks like a bike"))
    assert (first.number, first.published, first.bay) == (1, True, "B-NEAR-01")
    # WHEN robin corrects it a minute later, naming review 1
    desk.clock.advance(timedelta(minutes=1))
    second = desk.desk.correct(
        ROBIN, photo_id, CorrectionRequest(label=MOTO, note="it has a motor", replaces=1)
    )
    # THEN the driver is routed to the motorcycle bay, by robin's decision
    assert (second.number, second.bay, second.decided_by) == (2, "M-FAR-01", "dispatcher:robin")
    # AND both decisions are published, each once and with its own deduplication id
    assert [d.bay for d in desk.topic.published] == ["B-NEAR-01", "M-FAR-01"]
    ids = [d.deduplication_id for d in desk.topic.published]
    assert ids == [f"{photo_id}-reviewed", f"{photo_id}-review-2"]
    # AND the record's decision is the latest, its history holds both, the first unchanged
    record = desk.records.get(photo_id)
    assert record is not None and record.bay == "M-FAR-01" and record.review is not None
    assert [(r.number, r.reviewer, r.label, r.note, r.replaces) for r in record.history] == [
        (1, "pat", BIKE, "looks like a bike", None),
        (2, "robin", MOTO, "it has a motor", 1),
    ]
    history = desk.desk.history(PAT, photo_id)
    assert [(e.number, e.bay, e.label_text) for e in history.reviews] == [
        (1, "B-NEAR-01", "bicycle"),
        (2, "M-FAR-01", "motorcycle"),
    ]
    assert history.model_answer == BIKE


def test_the_first_review_is_once_and_a_stale_correction_is_refused(desk: Desk) -> None:
    photo_id = desk.waiting()
    desk.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    # WHEN a second first review arrives THEN it is refused, pointing to a correction
    with pytest.raises(AlreadyDecided, match="correct it instead"):
        desk.desk.review(ROBIN, photo_id, ReviewRequest(label=MOTO))
    # GIVEN review 1 corrected by robin
    desk.desk.correct(ROBIN, photo_id, CorrectionRequest(label=MOTO, replaces=1))
    # WHEN pat, who still sees review 1, corrects it THEN it is stale, naming who made the latest
    with pytest.raises(Stale, match="robin made review 2"):
        desk.desk.correct(PAT, photo_id, CorrectionRequest(label=BIKE, replaces=1))
    # AND nothing more was published, and the history is unchanged
    assert len(desk.topic.published) == 2
    record = desk.records.get(photo_id)
    assert record is not None and [r.number for r in record.history] == [1, 2]


def test_a_review_the_model_decided_has_nothing_to_correct_and_the_shift_ends(desk: Desk) -> None:
    photo_id = desk.waiting()
    with pytest.raises(AlreadyDecided, match="no review to correct"):
        desk.desk.correct(PAT, photo_id, CorrectionRequest(label=MOTO, replaces=1))
    desk.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    # WHEN the correction comes after the shift (12 hours) THEN it is refused
    desk.clock.advance(timedelta(hours=13))
    with pytest.raises(AlreadyDecided, match="corrected for 12:00:00"):
        desk.desk.correct(PAT, photo_id, CorrectionRequest(label=MOTO, replaces=1))


def test_a_claim_holds_the_photo_for_one_dispatcher_until_released(desk: Desk) -> None:
    photo_id = desk.waiting()
    # WHEN pat opens the card
    claim = desk.desk.claim(PAT, photo_id)
    assert (claim.by, claim.until) == ("pat", START + LEASE)
    # THEN robin can neither claim nor decide it, and is told who is looking
    with pytest.raises(Claimed, match="pat is looking"):
        desk.desk.claim(ROBIN, photo_id)
    with pytest.raises(Claimed, match="pat is looking"):
        desk.desk.review(ROBIN, photo_id, ReviewRequest(label=MOTO))
    assert desk.topic.published == []
    # AND the board says so
    [item] = desk.api.board(ROBIN, None).manual_review
    assert item.claim is not None and item.claim.by == "pat"
    # WHEN pat renews it a minute later THEN it lasts two minutes from then
    desk.clock.advance(timedelta(minutes=1))
    assert desk.desk.claim(PAT, photo_id).until == desk.clock.now + LEASE
    # WHEN pat releases it THEN robin may decide it
    desk.desk.release(PAT, photo_id)
    assert desk.desk.review(ROBIN, photo_id, ReviewRequest(label=MOTO)).decided_by == "dispatcher:robin"


def test_a_lease_that_ran_out_lets_another_dispatcher_decide(desk: Desk) -> None:
    photo_id = desk.waiting()
    desk.desk.claim(PAT, photo_id)
    # WHEN pat's card closed without a release and the lease has run out
    desk.clock.advance(LEASE + timedelta(seconds=1))
    # THEN robin claims and decides it, and the decision ends the lease
    assert desk.desk.claim(ROBIN, photo_id).by == "robin"
    desk.desk.review(ROBIN, photo_id, ReviewRequest(label=BIKE))
    record = desk.records.get(photo_id)
    assert record is not None and record.claim is None and record.outcome == Route.ROUTED


def test_the_holder_decides_under_their_own_claim_and_a_correction_may_be_claimed(desk: Desk) -> None:
    photo_id = desk.waiting()
    desk.desk.claim(PAT, photo_id)
    desk.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    # WHEN robin opens the reviewed card to correct it THEN pat cannot correct it meanwhile
    desk.desk.claim(ROBIN, photo_id)
    with pytest.raises(Claimed, match="robin is looking"):
        desk.desk.correct(PAT, photo_id, CorrectionRequest(label=MOTO, replaces=1))
    assert desk.desk.correct(ROBIN, photo_id, CorrectionRequest(label=MOTO, replaces=1)).number == 2


def test_every_open_review_is_on_the_board_whatever_its_age_longest_waiting_first(desk: Desk) -> None:
    # GIVEN an open review from three days ago and one from a minute ago
    old = desk.waiting("old", uploaded_ago=timedelta(days=3))
    new = desk.waiting("new")
    # WHEN a dispatcher opens the board, or polls it with a cursor
    board = desk.api.board(PAT, None)
    polled = desk.api.board(PAT, board.cursor)
    # THEN both are in the lane, oldest first, with how long each driver has waited
    for answer in (board, polled):
        assert [i.photo_id for i in answer.manual_review] == [old, new]
        assert answer.oldest_waiting_s == timedelta(days=3).total_seconds()
    assert board.bay_names["B-NEAR-01"] == RULES.depots[DEPOT].bays[BIKE].name
    # AND the sweep measures the same wait for the alarm
    sweep = desk.desk.sweep()
    assert (sweep.open_reviews, sweep.oldest_waiting_s) == (2, timedelta(days=3).total_seconds())
