"""ingest built by its composition root on fakes: jobs from the photo's header, rejections with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.ingest.bootstrap import build_ingest
from services.ingest.service import HEADER_BYTES
from services.ingest.service import Ingest as IngestService
from shared.contracts import PhotoJob, PhotoRef, Rejection, RejectionReason
from shared.upload_tickets import IssuedUpload
from tests.fakes import FakePhotoStore, FakeQueue, FakeUploadTickets, photo_at
from tests.samples import BadUpload, bad_uploads, image_bytes
from tests.settings import ingest_settings

MAX_BYTES = 200_000


@dataclass
class Ingest:
    store: FakePhotoStore
    classify: FakeQueue
    route: FakeQueue
    unit: IngestService
    tickets: FakeUploadTickets

    def upload(self, key: str, data: bytes, *, etag: str = "etag-1") -> PhotoRef:
        photo = photo_at(key, etag=etag, size=len(data))
        self.store.put(photo, data)
        return photo


@pytest.fixture
def ingest() -> Ingest:
    settings = ingest_settings(max_photo_bytes=MAX_BYTES)
    store, classify, route, tickets = FakePhotoStore(), FakeQueue(), FakeQueue(), FakeUploadTickets()
    unit = build_ingest(settings, store=store, classify_queue=classify, route_queue=route, tickets=tickets)
    return Ingest(store, classify, route, unit, tickets)


def test_a_good_photo_becomes_one_classification_job(ingest: Ingest) -> None:
    # GIVEN a JPEG uploaded under a driver's prefix, with a space in its name
    photo = ingest.upload("photos/d-1/my bike.jpg", image_bytes("JPEG", (640, 480)))

    # WHEN ingest handles its notification
    outcome = ingest.unit.ingest(photo)

    # THEN one job names the driver and the photo's size, and nothing is rejected
    assert outcome == {"outcome": "queued"}
    [job] = ingest.classify.sent
    assert isinstance(job, PhotoJob)
    assert (job.photo, job.driver_id, job.content_type, job.width, job.height) == (
        photo,
        "d-1",
        "image/jpeg",
        640,
        480,
    )
    assert ingest.route.sent == []


@pytest.mark.parametrize(
    "bad",
    [b for b in bad_uploads("d-2", seed=7, too_large_bytes=MAX_BYTES) if b.stage == "ingest"],
    ids=lambda b: b.kind,
)
def test_a_bad_upload_is_rejected_with_its_reason_and_never_queued(ingest: Ingest, bad: BadUpload) -> None:
    # GIVEN an upload that must not reach the model (or one deleted before ingest reads it)
    photo = photo_at(bad.key) if bad.body is None else ingest.upload(bad.key, bad.body)

    # WHEN ingest handles it
    outcome = ingest.unit.ingest(photo)

    # THEN the router gets a rejection with the reason, and the classifier gets nothing
    assert outcome == {"outcome": "rejected", "reason": bad.reason}
    [rejection] = ingest.route.sent
    assert isinstance(rejection, Rejection)
    assert (rejection.photo, rejection.reason) == (photo, RejectionReason(bad.reason))
    assert rejection.driver_id == ("d-2" if bad.key.startswith("photos/d-2/") else "unknown")
    assert ingest.classify.sent == []


def test_a_key_outside_the_pattern_is_rejected_without_reading_the_photo(ingest: Ingest) -> None:
    # GIVEN an upload outside photos/{driver_id}/{filename}
    photo = ingest.upload("uploads/d-1/a.jpg", image_bytes("JPEG"))

    # WHEN ingest handles it
    ingest.unit.ingest(photo)

    # THEN it is rejected as a bad key before any read of S3
    assert [r.reason for r in ingest.route.sent if isinstance(r, Rejection)] == [RejectionReason.BAD_KEY]
    assert ingest.store.reads == []


def test_ingest_reads_the_header_only_unless_the_header_runs_past_it(ingest: Ingest) -> None:
    # GIVEN a photo, and a JPEG whose metadata block pushes its frame header past the first bytes read
    photo = ingest.upload("photos/d-1/a.jpg", image_bytes("JPEG", (640, 480)))
    big_exif = image_bytes("JPEG", (320, 240))
    padded = big_exif[:2] + _app_segments(HEADER_BYTES + 1000) + big_exif[2:]
    late = ingest.upload("photos/d-1/late-header.jpg", padded)

    # WHEN ingest handles both
    ingest.unit.ingest(photo)
    ingest.unit.ingest(late)

    # THEN the first photo cost one ranged read, the second a ranged read and a whole one; both queued
    assert ingest.store.ranges == [
        ("photos/d-1/a.jpg", HEADER_BYTES),
        ("photos/d-1/late-header.jpg", HEADER_BYTES),
        ("photos/d-1/late-header.jpg", None),
    ]
    assert [(j.photo.key, j.width) for j in ingest.classify.sent if isinstance(j, PhotoJob)] == [
        ("photos/d-1/a.jpg", 640),
        ("photos/d-1/late-header.jpg", 320),
    ]


def _app_segments(total: int) -> bytes:
    """JPEG APP15 segments of `total` bytes or more (each at most 65,535), as a phone's metadata is."""
    out = b""
    while len(out) < total:
        out += b"\xff\xef" + (65_000).to_bytes(2, "big") + b"\0" * 64_998
    return out


def test_a_new_upload_under_the_same_key_is_a_new_photo(ingest: Ingest) -> None:
    # GIVEN a photo, then another uploaded over it (a new ETag)
    first = ingest.upload("photos/d-1/a.jpg", image_bytes("JPEG"))
    ingest.unit.ingest(first)
    second = ingest.upload("photos/d-1/a.jpg", image_bytes("PNG"), etag="etag-2")

    # WHEN ingest handles the second notification
    outcome = ingest.unit.ingest(second)

    # THEN it is judged on its own: a PNG named .jpg is rejected, the first job stands
    assert outcome == {"outcome": "rejected", "reason": "extension-mismatch"}
    assert [job.photo for job in ingest.classify.sent if isinstance(job, PhotoJob)] == [first]


def test_a_failed_send_propagates_and_the_redelivery_is_processed(ingest: Ingest) -> None:
    # GIVEN a photo and a classify queue that fails once
    photo = ingest.upload("photos/d-1/a.jpg", image_bytes("JPEG"))
    ingest.classify.failure = ConnectionError("sqs unavailable")

    # WHEN ingest handles it, THEN the error reaches the batch processor (the record goes back to SQS)
    with pytest.raises(ConnectionError):
        ingest.unit.ingest(photo)
    assert ingest.classify.sent == []

    # WHEN SQS redelivers it once the queue is back
    ingest.classify.failure = None
    outcome = ingest.unit.ingest(photo)

    # THEN the photo is queued
    assert outcome == {"outcome": "queued"}
    assert len(ingest.classify.sent) == 1


def test_the_name_the_driver_gave_travels_with_the_photo_but_not_in_its_identity(ingest: Ingest) -> None:
    # GIVEN an upload whose object metadata names the file the driver picked
    data = image_bytes("JPEG", (640, 480))
    photo = photo_at("photos/d-1/0f3a.jpg", size=len(data))
    ingest.store.put(photo, data, original_name="Fahrrad vorne.jpg")

    # WHEN ingest handles it
    ingest.unit.ingest(photo)

    # THEN the job carries the name, and the photo is still the same photo (same id)
    [job] = ingest.classify.sent
    assert isinstance(job, PhotoJob)
    assert job.photo.original_name == "Fahrrad vorne.jpg"
    assert job.photo.photo_id == photo.photo_id


def test_the_depot_the_upload_names_travels_with_the_photo_but_not_in_its_identity(ingest: Ingest) -> None:
    # GIVEN an upload whose object metadata names the driver's depot
    data = image_bytes("JPEG", (640, 480))
    photo = photo_at("photos/d-1/0f3b.jpg", size=len(data))
    ingest.store.put(photo, data, depot_id="depot-2")

    # WHEN ingest handles it
    ingest.unit.ingest(photo)

    # THEN the job carries the depot the router will route it by, and the photo keeps its id
    [job] = ingest.classify.sent
    assert isinstance(job, PhotoJob)
    assert job.photo.depot_id == "depot-2"
    assert job.photo.photo_id == photo.photo_id


TOKEN = "0123456789abcdef0123456789abcdef"
ISSUED = IssuedUpload(f"d-1.{TOKEN}", "d-1", f"photos/d-1/{TOKEN}.jpg", "image/jpeg", 0)


def issued_upload(ingest: Ingest, data: bytes, **changes: object) -> tuple[IssuedUpload, dict[str, object]]:
    ticket = IssuedUpload(**{**ISSUED.__dict__, "size": len(data)})
    ingest.tickets.issued[ticket.upload_id] = ticket
    stored: dict[str, object] = {"content_type": "image/jpeg", "upload_id": ticket.upload_id, **changes}
    return ticket, stored


def test_an_upload_as_issued_is_queued_and_one_that_differs_is_an_upload_mismatch(ingest: Ingest) -> None:
    # GIVEN a ticket for a JPEG of exactly its size
    jpeg = image_bytes("JPEG", (64, 48))
    ticket, stored = issued_upload(ingest, jpeg)
    photo = photo_at(ticket.key, etag="e1", size=len(jpeg))
    ingest.store.put(photo, jpeg, **stored)  # type: ignore[arg-type]
    # WHEN ingest sees the object THEN it is queued
    assert ingest.unit.ingest(photo) == {"outcome": "queued"}
    # GIVEN other tickets whose objects are larger, of another type, or carry another upload id
    for n, (data, changes) in enumerate(
        [(jpeg + b"\0" * 10, {}), (jpeg, {"content_type": "image/png"}), (jpeg, {"upload_id": "d-1.x"})]
    ):
        token = f"{n:032x}"
        other = IssuedUpload(f"d-1.{token}", "d-1", f"photos/d-1/{token}.jpg", "image/jpeg", len(jpeg))
        ingest.tickets.issued[other.upload_id] = other
        odd = photo_at(other.key, etag=f"odd-{n}", size=len(data))
        upload_id = changes.get("upload_id", other.upload_id)
        ingest.store.put(
            odd, data, content_type=changes.get("content_type", "image/jpeg"), upload_id=upload_id
        )
        # WHEN ingest sees each THEN each is rejected as upload-mismatch, naming what differs
        assert ingest.unit.ingest(odd) == {"outcome": "rejected", "reason": "upload-mismatch"}
    details = [r.detail for r in ingest.route.sent if isinstance(r, Rejection)]
    assert [d.split(" is ")[0] for d in details] == ["size", "content type", "upload id"]


def test_a_second_object_under_a_used_upload_id_is_dropped_and_a_redelivery_is_not(ingest: Ingest) -> None:
    # GIVEN an issued upload whose first object was queued
    jpeg = image_bytes("JPEG", (64, 48))
    ticket, stored = issued_upload(ingest, jpeg)
    first = photo_at(ticket.key, etag="first", size=len(jpeg))
    ingest.store.put(first, jpeg, **stored)  # type: ignore[arg-type]
    assert ingest.unit.ingest(first) == {"outcome": "queued"}
    # WHEN the same form is posted again (a new object, a new ETag, the same key)
    second = photo_at(ticket.key, etag="second", size=len(jpeg))
    ingest.store.put(second, jpeg, **stored)  # type: ignore[arg-type]
    outcome = ingest.unit.ingest(second)
    # THEN it is dropped as upload-reused: no job, no rejection, so no second decision for the ticket
    assert outcome == {"outcome": "dropped", "reason": "upload-reused"}
    assert len(ingest.classify.sent) == 1 and ingest.route.sent == []
    # AND a redelivery of the first object's notification still passes the claim
    assert ingest.tickets.claim(ticket.upload_id, first.identity) == ticket


def test_a_photo_without_a_ticket_is_ingested_as_before(ingest: Ingest) -> None:
    # GIVEN a key of the upload API's form that the API never issued (the depot's own upload)
    photo = ingest.upload(f"photos/d-1/{TOKEN}.jpg", image_bytes("JPEG", (64, 48)))
    # WHEN ingest sees it THEN it is queued: only issued uploads are held to their ticket
    assert ingest.unit.ingest(photo) == {"outcome": "queued"}
