"""The API's use cases on fakes of their ports: each refusal is the domain's, and a review is decided by
the router's rules, recorded once and published once."""

from __future__ import annotations

import pytest
from aws_lambda_powertools import Logger, Metrics

from services.api.errors import AlreadyDecided, Invalid, NotAllowed, NotFound, NotYours
from services.api.identity import Caller
from services.api.models import ReviewRequest, UploadRequest
from services.api.service import DispatchApi
from shared.contracts import NOT_A_VEHICLE, Route
from tests.decisions import BIKE, MOTO, RULES, decided, record_of, sure, unsure
from tests.dispatch_fakes import FakePhotoLinks, FakeReviewRecords, FakeUploadTickets
from tests.fakes import FakeTopic
from tests.settings import api_settings

FIRST, SECOND = list(RULES.depots)[:2]
PAT = Caller("pat", frozenset({"dispatchers"}), None, FIRST)
SAM = Caller("sam", frozenset({"dispatchers"}), None, SECOND)
DANA = Caller("dana", frozenset({"drivers"}), "d-1", SECOND)


Parts = tuple[DispatchApi, FakeReviewRecords, FakePhotoLinks, FakeTopic]


@pytest.fixture
def parts() -> Parts:
    records, links, topic = FakeReviewRecords(), FakePhotoLinks(), FakeTopic()
    api = DispatchApi(
        settings=api_settings(),
        records=records,
        links=links,
        topic=topic,
        rules=RULES,
        tickets=FakeUploadTickets(),
        logger=Logger(service="api-test"),
        metrics=Metrics(namespace="Test", service="api-test"),
    )
    return api, records, links, topic


def waiting(records: FakeReviewRecords, depot_id: str = FIRST, driver: str = "d-1") -> str:
    record = record_of(decided(unsure(), key=f"photos/{driver}/a.jpg", depot_id=depot_id))
    records.put(record)
    return record.photo_id


def test_a_review_routes_by_the_rules_records_once_and_publishes_once(parts: Parts) -> None:
    api, records, _, topic = parts
    photo_id = waiting(records)
    # WHEN pat calls it a motorcycle
    result = api.desk.review(PAT, photo_id, ReviewRequest(label=MOTO))
    # THEN the driver gets the depot's motorcycle bay, one decision is published and the record says so
    bay = RULES.depots[FIRST].bays[MOTO]
    assert (result.outcome, result.bay, result.radius_km) == (Route.ROUTED, bay.bay, bay.radius_km)
    [decision] = topic.published
    assert (decision.decided_by, decision.vehicle_class, decision.model_answer) == (
        "dispatcher:pat",
        MOTO,
        BIKE,
    )
    record = records.get(photo_id)
    assert record is not None and record.review is not None and record.bay == bay.bay
    # AND a second review is refused, publishing nothing
    with pytest.raises(AlreadyDecided):
        api.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    assert len(topic.published) == 1


def test_not_a_vehicle_rejects_the_photo(parts: Parts) -> None:
    api, records, _, topic = parts
    result = api.desk.review(PAT, waiting(records), ReviewRequest(label=NOT_A_VEHICLE))
    assert (result.outcome, result.bay) == (Route.REJECTED, None)
    assert topic.published[0].reason == "not-a-vehicle"


def test_a_routed_photo_is_not_reviewed(parts: Parts) -> None:
    api, records, _, _ = parts
    record = record_of(decided(sure(BIKE), depot_id=FIRST))
    records.put(record)
    with pytest.raises(AlreadyDecided):
        api.desk.review(PAT, record.photo_id, ReviewRequest(label=MOTO))


def test_a_label_the_rules_do_not_know_is_invalid(parts: Parts) -> None:
    api, records, _, topic = parts
    with pytest.raises(Invalid, match="bicycle, motorcycle, not-a-vehicle"):
        api.desk.review(PAT, waiting(records), ReviewRequest(label="tricycle"))
    assert topic.published == []


def test_a_failed_publish_keeps_the_review_for_the_sweep_to_publish(parts: Parts) -> None:
    api, records, _, topic = parts
    photo_id = waiting(records)
    # GIVEN a topic that refuses
    topic.failure = RuntimeError("SNS is down")
    # WHEN pat reviews THEN the review is recorded, and said to be published later
    result = api.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    assert result.published is False and topic.published == []
    record = records.get(photo_id)
    assert record is not None and record.review is not None and records.unpublished == {photo_id: 1}
    # AND once the topic answers, the sweep publishes it once and empties the outbox
    topic.failure = None
    assert api.desk.sweep().published == 1
    assert api.desk.sweep().published == 0
    assert [d.photo.photo_id for d in topic.published] == [photo_id]
    assert records.unpublished == {}


def test_another_depots_photo_is_not_yours_and_an_unknown_one_not_found(parts: Parts) -> None:
    api, records, _, _ = parts
    photo_id = waiting(records, SECOND)
    with pytest.raises(NotYours):
        api.photo_link(PAT, photo_id)
    with pytest.raises(NotYours):
        api.desk.review(PAT, photo_id, ReviewRequest(label=BIKE))
    assert api.photo_link(SAM, photo_id).photo_id == photo_id
    with pytest.raises(NotFound):
        api.photo_link(PAT, "0" * 32)


def test_a_driver_may_not_use_the_board_and_a_dispatcher_may_not_upload(parts: Parts) -> None:
    api, _, _, _ = parts
    with pytest.raises(NotAllowed):
        api.board(DANA, None)
    with pytest.raises(NotAllowed):
        api.start_upload(PAT, UploadRequest(content_type="image/jpeg", size=10))


def test_an_upload_form_pins_the_drivers_depot(parts: Parts) -> None:
    api, _, links, _ = parts
    ticket = api.start_upload(DANA, UploadRequest(content_type="image/jpeg", size=10))
    [issued] = links.forms
    assert (issued.key, issued.content_type, issued.size, issued.depot_id) == (
        ticket.key,
        "image/jpeg",
        10,
        SECOND,
    )


def test_a_board_is_its_depots_only(parts: Parts) -> None:
    api, records, _, _ = parts
    waiting(records, FIRST, "d-1")
    waiting(records, SECOND, "d-2")
    board = api.board(PAT, None)
    assert board.depot_id == FIRST
    assert [item.driver_id for item in board.manual_review] == ["d-1"]
    assert "unsure" in board.manual_review[0].answer
