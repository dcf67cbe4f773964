"""classifier built by its composition root on fakes: predictions, rejections, failures, one endpoint call
per batch."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import cast

import pytest
from PIL import Image

from services.classifier.bootstrap import build_classifier
from services.classifier.service import Classifier as ClassifierService
from shared.batching import Outbox
from shared.contracts import PhotoJob, PhotoRejected, Prediction, Probabilities, Rejection, RejectionReason
from tests.fakes import FakeEndpoint, FakePhotoStore, FakeQueue, photo_at
from tests.samples import BadUpload, bad_uploads, image_bytes
from tests.settings import classifier_settings

MAX_BYTES = 200_000
SIDE = 160
LABELS = ("bicycle", "motorcycle", "none")  # as the served endpoint names them
MOTORCYCLE = Probabilities.from_endpoint(LABELS, [0.12, 0.88, 0.0])


@dataclass
class Classifier:
    store: FakePhotoStore
    endpoint: FakeEndpoint
    route: FakeQueue
    outbox: Outbox
    unit: ClassifierService

    def job(self, key: str, data: bytes | None) -> PhotoJob:
        """A job for the photo at `key`; None: the photo is gone by the time the classifier reads it."""
        photo = photo_at(key, size=len(data or b""))
        if data is not None:
            self.store.put(photo, data)
        return PhotoJob(photo=photo, driver_id="d-3", content_type="image/jpeg", width=64, height=48)


@pytest.fixture
def classifier() -> Classifier:
    settings = classifier_settings(max_photo_bytes=MAX_BYTES, endpoint_image_side=SIDE)
    store, endpoint, route, outbox = FakePhotoStore(), FakeEndpoint(), FakeQueue(), Outbox()
    unit = build_classifier(settings, outbox=outbox, store=store, endpoint=endpoint, route_queue=route)
    return Classifier(store, endpoint, route, outbox, unit)


def test_the_endpoint_answer_becomes_a_prediction_for_the_router(classifier: Classifier) -> None:
    # GIVEN a 12-megapixel-like photo and an endpoint that says motorcycle
    job = classifier.job("photos/d-3/m.jpg", image_bytes("JPEG", (1200, 900)))
    classifier.endpoint.answers = [MOTORCYCLE]

    # WHEN the classifier handles the job
    classifier.unit.classify(job)

    # THEN the endpoint saw the photo resized, and the router gets the prediction
    [payload] = classifier.endpoint.payloads
    assert max(Image.open(io.BytesIO(payload)).size) == SIDE
    [prediction] = classifier.route.sent
    assert isinstance(prediction, Prediction)
    assert (prediction.photo, prediction.driver_id, prediction.vehicle_class, prediction.confidence) == (
        job.photo,
        "d-3",
        "motorcycle",
        0.88,
    )
    assert prediction.probabilities == MOTORCYCLE
    assert (prediction.endpoint_name, prediction.model_version) == (classifier.endpoint.name, "test-model")
    assert prediction.ingested_at == job.received_at


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, RejectionReason.OBJECT_MISSING),
        (image_bytes("JPEG") + b"\0" * MAX_BYTES, RejectionReason.TOO_LARGE),
        (image_bytes("JPEG", (800, 600))[:900], RejectionReason.CORRUPT_IMAGE),
        (b"no longer a photo", RejectionReason.NOT_AN_IMAGE),
    ],
    ids=["deleted", "replaced-by-a-huge-file", "truncated", "not-an-image"],
)
def test_a_photo_that_cannot_be_sent_is_rejected_without_an_endpoint_call(
    classifier: Classifier, data: bytes | None, reason: RejectionReason
) -> None:
    # GIVEN a job whose photo is no longer fit to classify
    job = classifier.job("photos/d-3/x.jpg", data)

    # WHEN the classifier handles it
    classifier.unit.classify(job)

    # THEN the router gets the rejection and the endpoint is never called
    [rejection] = classifier.route.sent
    assert isinstance(rejection, Rejection)
    assert (rejection.photo, rejection.driver_id, rejection.reason) == (job.photo, "d-3", reason)
    assert classifier.endpoint.payloads == []


def test_an_image_the_model_refuses_is_rejected(classifier: Classifier) -> None:
    # GIVEN an endpoint whose model answers 4xx for this image
    job = classifier.job("photos/d-3/refused.jpg", image_bytes("JPEG"))
    classifier.endpoint.answers = [PhotoRejected(RejectionReason.ENDPOINT_REJECTED, "bad image")]

    # WHEN the classifier handles it
    classifier.unit.classify(job)

    # THEN the router gets an endpoint-rejected rejection with the model's message
    [rejection] = classifier.route.sent
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.detail) == (RejectionReason.ENDPOINT_REJECTED, "bad image")


def test_an_endpoint_outage_fails_the_record_and_its_redelivery_is_classified(classifier: Classifier) -> None:
    # GIVEN an endpoint that times out once, then answers
    job = classifier.job("photos/d-3/t.jpg", image_bytes("JPEG"))
    classifier.endpoint.answers = [
        TimeoutError("read timeout"),
        Probabilities.from_endpoint(LABELS, [0.9, 0.1, 0.0]),
    ]

    # WHEN the classifier handles the job, THEN the error propagates and nothing is sent
    with pytest.raises(TimeoutError):
        classifier.unit.classify(job)
    assert classifier.route.sent == []

    # WHEN SQS redelivers the job
    classifier.unit.classify(job)

    # THEN one prediction
    assert [type(m) for m in classifier.route.sent] == [Prediction]


def test_the_photos_of_one_invocation_share_one_endpoint_call(classifier: Classifier) -> None:
    # GIVEN three jobs of one SQS batch, the second of which the model refuses
    jobs = [classifier.job(f"photos/d-3/{i}.jpg", image_bytes("JPEG")) for i in range(3)]
    refused = PhotoRejected(RejectionReason.ENDPOINT_REJECTED, "bad image")
    classifier.endpoint.answers = [MOTORCYCLE, refused, MOTORCYCLE]

    # WHEN the classifier handles each record, then the invocation's outbox is flushed
    for index, job in enumerate(jobs):
        with classifier.outbox.for_record(f"m{index}"):
            classifier.unit.classify(job)
    assert classifier.endpoint.calls == 0 and classifier.route.sent == []
    failed = classifier.outbox.flush(set())

    # THEN one endpoint call answered all three, each answer went to its own photo, nothing failed
    assert (classifier.endpoint.calls, failed) == (1, {})
    sent = cast(list[Prediction | Rejection], classifier.route.sent)
    assert [(type(m).__name__, m.photo.key) for m in sent] == [
        ("Prediction", "photos/d-3/0.jpg"),
        ("Rejection", "photos/d-3/1.jpg"),
        ("Prediction", "photos/d-3/2.jpg"),
    ]


def test_an_endpoint_call_that_fails_fails_every_record_in_it(classifier: Classifier) -> None:
    # GIVEN two jobs of one batch and an endpoint whose call times out
    jobs = [classifier.job(f"photos/d-3/{i}.jpg", image_bytes("JPEG")) for i in range(2)]
    classifier.endpoint.answers = [TimeoutError("read timeout")]

    # WHEN the records are handled and the outbox flushed
    for index, job in enumerate(jobs):
        with classifier.outbox.for_record(f"m{index}"):
            classifier.unit.classify(job)
    failed = classifier.outbox.flush(set())

    # THEN both records go back to SQS, and nothing reached the router
    assert set(failed) == {"m0", "m1"}
    assert classifier.route.sent == []


@pytest.mark.parametrize(
    "bad", [b for b in bad_uploads("d-3", seed=3, too_large_bytes=MAX_BYTES) if b.stage == "classifier"]
)
def test_what_ingest_could_not_see_in_the_header_is_rejected_here(
    classifier: Classifier, bad: BadUpload
) -> None:
    # GIVEN a photo whose header is whole but whose body is not (it passed ingest)
    job = classifier.job("photos/d-3/cut.jpg", bad.body)

    # WHEN the classifier decodes it
    classifier.unit.classify(job)

    # THEN it is rejected with the reason the chain promises, without an endpoint call
    [rejection] = classifier.route.sent
    assert isinstance(rejection, Rejection)
    assert rejection.reason == bad.reason
    assert classifier.endpoint.payloads == []


def test_the_endpoint_gets_the_one_payload_evaluate_sends_too(classifier: Classifier) -> None:
    # GIVEN an iPhone's HEIC photo and a 32 px thumbnail
    pytest.importorskip("pillow_heif", reason="the HEIC fixture needs pillow-heif's encoder")
    from shared.imaging import endpoint_payload
    from tests.format_samples import heic, scene

    photos = {
        "photos/d-3/iphone.heic": heic(scene((400, 300))),
        "photos/d-3/thumb.png": image_bytes("PNG", (32, 32)),
    }
    classifier.endpoint.answers = [MOTORCYCLE, MOTORCYCLE]

    # WHEN the classifier handles each, one record each
    for index, (key, data) in enumerate(photos.items()):
        with classifier.outbox.for_record(f"m{index}"):
            classifier.unit.classify(classifier.job(key, data))
        assert classifier.outbox.flush(set()) == {}

    # THEN both were classified, and the endpoint got, byte for byte, the payload `evaluate` makes: a PNG,
    # the thumbnail at its size
    assert [type(sent).__name__ for sent in classifier.route.sent] == ["Prediction", "Prediction"]
    expected = [
        endpoint_payload(data, side=SIDE, max_pixels=classifier_settings().max_photo_pixels)
        for data in photos.values()
    ]
    assert classifier.endpoint.payloads == expected
    sizes = [Image.open(io.BytesIO(payload)).size for payload in classifier.endpoint.payloads]
    assert sizes == [(SIDE, SIDE), (32, 32)]
