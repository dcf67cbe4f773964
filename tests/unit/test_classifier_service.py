"""classifier built by its composition root on fakes: predictions, rejections, failures, once per photo."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from services.classifier.bootstrap import build_classifier
from shared.contracts import PhotoJob, Prediction, Probabilities, Rejection, RejectionReason
from shared.idempotency import OncePerPhoto, PhotoIdempotency
from shared.imaging import PhotoRejected
from shared.settings import Settings
from tests.fakes import FakeEndpoint, FakePhotoStore, FakeQueue, InMemoryPersistence, lambda_context, photo_at
from tests.samples import image_bytes

MAX_BYTES = 200_000
SIDE = 160
MOTORCYCLE = Probabilities(bicycle=0.12, motorcycle=0.88)


@dataclass
class Classifier:
    store: FakePhotoStore
    endpoint: FakeEndpoint
    route: FakeQueue
    unit: OncePerPhoto[PhotoJob]

    def job(self, key: str, data: bytes | None) -> PhotoJob:
        """A job for the photo at `key`; None: the photo is gone by the time the classifier reads it."""
        photo = photo_at(key, size=len(data or b""))
        if data is not None:
            self.store.put(photo, data)
        return PhotoJob(photo=photo, driver_id="d-3", content_type="image/jpeg", width=64, height=48)


@pytest.fixture
def classifier() -> Classifier:
    settings = Settings().model_copy(update={"max_photo_bytes": MAX_BYTES, "endpoint_image_side": SIDE})
    store, endpoint, route = FakePhotoStore(), FakeEndpoint(), FakeQueue()
    unit = build_classifier(
        settings,
        store=store,
        endpoint=endpoint,
        route_queue=route,
        idempotency=PhotoIdempotency(settings, InMemoryPersistence()),
    )
    unit.register_lambda_context(lambda_context("classifier"))
    return Classifier(store, endpoint, route, unit)


def test_the_endpoint_answer_becomes_a_prediction_for_the_router(classifier: Classifier) -> None:
    # GIVEN a 12-megapixel-like photo and an endpoint that says motorcycle
    job = classifier.job("photos/d-3/m.jpg", image_bytes("JPEG", (1200, 900)))
    classifier.endpoint.answers = [MOTORCYCLE]

    # WHEN the classifier handles the job
    outcome = classifier.unit.run(job)

    # THEN the endpoint saw the photo resized, and the router gets the prediction
    assert outcome == {"outcome": "predicted", "vehicle_class": "motorcycle"}
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
    outcome = classifier.unit.run(job)

    # THEN the router gets the rejection and the endpoint is never called
    assert outcome == {"outcome": "rejected", "reason": reason.value}
    [rejection] = classifier.route.sent
    assert isinstance(rejection, Rejection)
    assert (rejection.photo, rejection.driver_id, rejection.reason) == (job.photo, "d-3", reason)
    assert classifier.endpoint.payloads == []


def test_an_image_the_model_refuses_is_rejected(classifier: Classifier) -> None:
    # GIVEN an endpoint whose model answers 4xx for this image
    job = classifier.job("photos/d-3/refused.jpg", image_bytes("JPEG"))
    classifier.endpoint.answers = [PhotoRejected(RejectionReason.ENDPOINT_REJECTED, "bad image")]

    # WHEN the classifier handles it
    classifier.unit.run(job)

    # THEN the router gets an endpoint-rejected rejection with the model's message
    [rejection] = classifier.route.sent
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.detail) == (RejectionReason.ENDPOINT_REJECTED, "bad image")


def test_an_endpoint_outage_fails_the_record_and_its_redelivery_is_classified(classifier: Classifier) -> None:
    # GIVEN an endpoint that times out once, then answers
    job = classifier.job("photos/d-3/t.jpg", image_bytes("JPEG"))
    classifier.endpoint.answers = [TimeoutError("read timeout"), Probabilities(bicycle=0.9, motorcycle=0.1)]

    # WHEN the classifier handles the job, THEN the error propagates and nothing is sent
    with pytest.raises(TimeoutError):
        classifier.unit.run(job)
    assert classifier.route.sent == []

    # WHEN SQS redelivers the job
    outcome = classifier.unit.run(job)

    # THEN no INPROGRESS record blocks it: one prediction
    assert outcome == {"outcome": "predicted", "vehicle_class": "bicycle"}
    assert [type(m) for m in classifier.route.sent] == [Prediction]


def test_a_duplicate_job_does_not_call_the_endpoint_again(classifier: Classifier) -> None:
    # GIVEN a job delivered twice and an endpoint with a single answer
    job = classifier.job("photos/d-3/m.jpg", image_bytes("JPEG"))
    classifier.endpoint.answers = [MOTORCYCLE]

    # WHEN the classifier handles both deliveries
    first, second = classifier.unit.run(job), classifier.unit.run(job)

    # THEN one endpoint call, one prediction, the same outcome twice
    assert first == second
    assert len(classifier.endpoint.payloads) == 1
    assert len(classifier.route.sent) == 1


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

    # WHEN the classifier handles each
    for key, data in photos.items():
        classifier.unit.run(classifier.job(key, data))

    # THEN both were classified, and the endpoint got, byte for byte, the payload `evaluate` makes: a PNG,
    # the thumbnail at its size
    assert [type(sent).__name__ for sent in classifier.route.sent] == ["Prediction", "Prediction"]
    expected = [
        endpoint_payload(data, side=SIDE, max_pixels=Settings().max_photo_pixels) for data in photos.values()
    ]
    assert classifier.endpoint.payloads == expected
    sizes = [Image.open(io.BytesIO(payload)).size for payload in classifier.endpoint.payloads]
    assert sizes == [(SIDE, SIDE), (32, 32)]
