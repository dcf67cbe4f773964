"""An upload the phone names itself: a retry gets the same key, never a second photo, and a driver's day
lists only their own uploads (the API's use cases on fakes of their ports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools import Logger, Metrics

from services.api.errors import AlreadyReceived
from services.api.identity import Caller
from services.api.models import UploadRequest
from services.api.service import DispatchApi
from services.api.uploads import UploadId
from shared.contracts import CaptureRecord
from tests.decisions import RULES, decided, record_of, sure
from tests.dispatch_fakes import FakePhotoLinks, FakeReviewRecords, FakeUploadTickets
from tests.fakes import FakeTopic
from tests.settings import api_settings

DANA = Caller("dana", frozenset({"drivers"}), "d-1", None)
OMAR = Caller("omar", frozenset({"drivers"}), "d-2", None)
TOKEN = "0123456789abcdef0123456789abcdef"
PHOTO = UploadRequest(content_type="image/jpeg", size=1000, upload_token=TOKEN)

Parts = tuple[DispatchApi, FakeReviewRecords, FakePhotoLinks]


NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def parts() -> Parts:
    records, links = FakeReviewRecords(), FakePhotoLinks()
    api = DispatchApi(
        settings=api_settings(),
        tickets=FakeUploadTickets(),
        records=records,
        links=links,
        topic=FakeTopic(),
        rules=RULES,
        logger=Logger(service="api-test"),
        metrics=Metrics(namespace="Test", service="api-test"),
        clock=lambda: NOON,
    )
    return api, records, links


def test_a_retry_before_the_photo_arrived_gets_a_form_for_the_same_key(parts: Parts) -> None:
    api, _, links = parts
    # GIVEN a form for the phone's token, whose upload broke off before S3 had the photo
    first = api.start_upload(DANA, PHOTO)
    # WHEN the phone asks again with the same token
    second = api.start_upload(DANA, PHOTO)
    # THEN it is the same upload and the same key, under the driver's own prefix
    assert (first.upload_id, first.key) == (second.upload_id, second.key)
    assert first.upload_id == f"d-1.{TOKEN}" and first.key == f"photos/d-1/{TOKEN}.jpg"
    assert [form.key for form in links.forms] == [first.key, first.key]


def test_a_retry_after_the_photo_arrived_gets_no_second_form(parts: Parts) -> None:
    api, _, links = parts
    ticket = api.start_upload(DANA, PHOTO)
    # GIVEN S3 has the photo, but its answer never reached the phone
    links.uploaded.add(ticket.key)
    # WHEN the phone asks again with the same token
    # THEN it is told the photo has arrived (409), and no second form (no second photo) is made
    with pytest.raises(AlreadyReceived, match=ticket.upload_id):
        api.start_upload(DANA, PHOTO)
    assert len(links.forms) == 1
    # AND its status reads as any upload's
    assert api.upload_status(DANA, ticket.upload_id).status == "pending"


def test_the_same_token_from_another_driver_is_another_upload(parts: Parts) -> None:
    api, _, links = parts
    links.uploaded.add(api.start_upload(DANA, PHOTO).key)
    # WHEN another driver's phone happens to send the same token
    theirs = api.start_upload(OMAR, PHOTO)
    # THEN it is their own upload, under their own prefix
    assert theirs.key == f"photos/d-2/{TOKEN}.jpg"


def test_an_upload_without_a_token_gets_a_new_one_each_time(parts: Parts) -> None:
    api, _, _ = parts
    plain = UploadRequest(content_type="image/jpeg", size=1000)
    assert api.start_upload(DANA, plain).upload_id != api.start_upload(DANA, plain).upload_id


def test_a_token_that_is_not_32_hex_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="upload_token"):
        UploadRequest(content_type="image/jpeg", size=1000, upload_token="../../other-driver")


def test_a_drivers_day_lists_their_own_decided_uploads_of_today_newest_first(parts: Parts) -> None:
    api, records, _ = parts
    now = NOON

    def record(driver: str, n: int, ago: timedelta) -> CaptureRecord:
        return record_of(decided(sure(), key=f"photos/{driver}/{n:032x}.jpg", decided_at=now - ago))

    mine = [record("d-1", 1, timedelta(minutes=1)), record("d-1", 2, timedelta(minutes=2))]
    theirs = record("d-2", 3, timedelta(minutes=1))
    yesterday = record("d-1", 4, timedelta(days=1, hours=1))
    for each in [*mine, theirs, yesterday]:
        records.put(each)
    # WHEN Dana reads her day
    day = api.todays_uploads(DANA).uploads
    # THEN she sees her two uploads of today, newest first, each with its answer, and nothing of Omar's
    assert [s.upload_id for s in day] == [str(UploadId.of_key(r.photo_key)) for r in mine]
    assert all(s.status == "routed" and s.answer for s in day)


class IndexlessRecords(FakeReviewRecords):
    """The capture table, where a read of the driver's index fails the test: what must be read by key."""

    def find_by_key_prefix(self, driver_id: str, key_prefix: str) -> CaptureRecord | None:
        raise AssertionError("the driver's index was read")


class NoListing(FakePhotoLinks):
    def exists(self, key_prefix: str) -> bool:
        raise AssertionError("the bucket was listed")


def test_a_claimed_upload_is_read_by_its_photo_id_pending_then_decided() -> None:
    # GIVEN an upload whose ticket ingest has claimed for its photo, not yet decided
    records, tickets = IndexlessRecords(), FakeUploadTickets()
    api = DispatchApi(
        settings=api_settings(),
        tickets=tickets,
        records=records,
        links=NoListing(),
        topic=FakeTopic(),
        rules=RULES,
        logger=Logger(service="api-test"),
        metrics=Metrics(namespace="Test", service="api-test"),
        clock=lambda: NOON,
    )
    ticket = api.start_upload(DANA, UploadRequest(content_type="image/jpeg", size=1000))
    decision = decided(sure(), key=ticket.key)
    tickets.used_by[ticket.upload_id] = decision.photo.identity
    # WHEN the phone reads its status, before and after the record is written
    # THEN it is pending, then routed: each read by key, without the driver's index or a bucket listing
    assert api.upload_status(DANA, ticket.upload_id).status == "pending"
    records.put(record_of(decision))
    assert api.upload_status(DANA, ticket.upload_id).bay == "B-NEAR-01"


def test_a_drivers_day_reads_the_index_from_midnight_only(parts: Parts) -> None:
    api, records, _ = parts
    asked: list[datetime | None] = []
    read = records.for_driver

    def spy(
        driver_id: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[CaptureRecord]:
        asked.append(since)
        return read(driver_id, limit=limit, since=since)

    records.for_driver = spy  # type: ignore[method-assign]
    # WHEN Dana reads her day at noon
    api.todays_uploads(DANA)
    # THEN the index is read from midnight UTC: yesterday's records are not read at all
    assert asked == [datetime(2026, 12, 3, tzinfo=UTC)]
