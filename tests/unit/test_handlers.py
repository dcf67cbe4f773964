"""The four Lambda handlers on in-process moto, against the resources infra/template.yaml deploys.

What needs real AWS behaviour lives here: S3's own notifications and ranged reads, SQS batches with
partial failures, batch sends, the FIFO topic → FIFO queue raw subscription and its deduplication, the
capture table's indexes. The services'
every path is covered on fakes in test_<fn>_service.py.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto import mock_aws
from pydantic import TypeAdapter

from driver_routing.stack_outputs import StackResources
from local.deploy import deploy_stack
from local.eventsource import lambda_sqs_event
from services.capture import handler as capture_handler
from services.classifier import handler as classifier_handler
from services.classifier.bootstrap import build_classifier
from services.classifier.settings import ClassifierSettings
from services.ingest import handler as ingest_handler
from services.router import handler as router_handler
from services.router.domain import decide, decide_review
from services.router.rules import load_rules
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client, endpoint_client
from shared.aws.endpoint import VehicleEndpoint
from shared.aws.messaging import DecisionTopic
from shared.contracts import (
    Assessment,
    CaptureRecord,
    PhotoJob,
    PhotoRef,
    Prediction,
    Rejection,
    Review,
    Route,
    RoutingDecision,
)
from tests.decisions import BIKE, MOTO, RULES, decided, prediction, unsure
from tests.fakes import lambda_context
from tests.samples import image_bytes

REGION = "us-east-1"
ASSESSMENT: TypeAdapter[Prediction | Rejection] = TypeAdapter(Assessment)
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def stack() -> Iterator[StackResources]:
    """The template deployed once for the module (1.5-4.5 s); each test starts on empty queues."""
    with mock_aws():
        started = time.perf_counter()
        resources = deploy_stack(None, stack_name="unit", region=REGION)
        log.info("template deployed into in-process moto in %.2f s", time.perf_counter() - started)
        yield resources


@dataclass
class Aws:
    stack: StackResources

    @property
    def s3(self) -> Any:
        return client("s3", REGION)

    @property
    def sqs(self) -> Any:
        return client("sqs", REGION)

    @property
    def bucket(self) -> str:
        return self.stack.bucket

    def url(self, queue: str) -> str:
        return self.stack.queues[queue].url

    def drain(self, queue: str) -> list[str]:
        """The bodies of every message on the queue, which is left empty."""
        bodies: list[str] = []
        url = self.url(queue)
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in batch]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return bodies

    def upload(self, key: str, data: bytes) -> str:
        """Put the photo and return the notification S3 sent the ingest queue for it."""
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        [notification] = self.drain("ingest")
        return notification

    def photo_ref(self, key: str) -> PhotoRef:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return PhotoRef(
            bucket=self.bucket,
            key=key,
            etag=head["ETag"].strip('"'),
            version_id=head.get("VersionId"),
            size=head["ContentLength"],
            uploaded_at=datetime.now(UTC),
        )

    def invoke(self, handler: Any, queue: str, bodies: list[str]) -> dict[str, Any]:
        messages = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body} for i, body in enumerate(bodies)
        ]
        event = lambda_sqs_event(messages, self.stack.queues[queue].arn, REGION)
        result: dict[str, Any] = handler(event, lambda_context(queue))
        return result


@pytest.fixture
def aws(stack: StackResources, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """GIVEN the deployed stack, its names in the environment as the template sets them on Lambda."""
    names = {**stack.environment(), "SAGEMAKER_ENDPOINT_NAME": "vehicle-classifier", "ENDPOINT_ATTEMPTS": "1"}
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    aws = Aws(stack)
    for queue in stack.queues:  # PurgeQueue is allowed once a minute: receive and delete instead
        aws.drain(queue)
    return aws


# --- ingest ----------------------------------------------------------------------------------------


def test_ingest_queues_a_job_per_notification_from_the_photo_header(aws: Aws) -> None:
    # GIVEN two photos uploaded, S3's notification of the first delivered twice in the batch
    first = aws.upload("photos/d-1/my bike.jpg", image_bytes("JPEG", (640, 480)))
    second = aws.upload("photos/d-1/other.png", image_bytes("PNG", (300, 200)))

    # WHEN ingest handles the batch
    result = aws.invoke(ingest_handler.lambda_handler, "ingest", [first, first, second])

    # THEN every delivery queued its job (the router's deduplicated publish keeps one decision per
    # photo), with the size read from the photo's header, and nothing was rejected
    assert result == {"batchItemFailures": []}
    jobs = [PhotoJob.model_validate_json(body) for body in aws.drain("classify")]
    assert sorted((j.photo.key, j.width, j.height) for j in jobs) == [
        ("photos/d-1/my bike.jpg", 640, 480),
        ("photos/d-1/my bike.jpg", 640, 480),
        ("photos/d-1/other.png", 300, 200),
    ]
    assert aws.drain("route") == []


def test_ingest_rejects_a_bad_photo_without_failing_its_neighbours(aws: Aws) -> None:
    # GIVEN a good photo, a truncated one, one deleted before ingest reads it, a malformed message and
    # the s3:TestEvent S3 sends when notifications are configured
    good = aws.upload("photos/d-2/good.png", image_bytes("PNG"))
    broken = aws.upload("photos/d-2/broken.jpg", image_bytes("JPEG", (800, 600))[:900])
    gone = aws.upload("photos/d-2/gone.jpg", image_bytes("JPEG"))
    aws.s3.delete_object(Bucket=aws.bucket, Key="photos/d-2/gone.jpg")
    batch = [good, broken, gone, "this is not an S3 event", json.dumps({"Event": "s3:TestEvent"})]

    # WHEN ingest handles them in one batch
    result = aws.invoke(ingest_handler.lambda_handler, "ingest", batch)

    # THEN only the malformed message goes back to SQS; the deleted photo is rejected with its reason,
    # and the truncated one, whose header is whole, goes on to the classifier (which decodes it all)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    jobs = [PhotoJob.model_validate_json(body) for body in aws.drain("classify")]
    assert sorted(j.photo.key for j in jobs) == ["photos/d-2/broken.jpg", "photos/d-2/good.png"]
    rejections = [Rejection.model_validate_json(body) for body in aws.drain("route")]
    assert {r.photo.key: r.reason for r in rejections} == {"photos/d-2/gone.jpg": "object-missing"}


# --- classifier ------------------------------------------------------------------------------------


def stubbed_endpoint(batch_limit: int) -> Stubber:
    """The production endpoint adapter on a stubbed sagemaker-runtime client, wired into the handler
    through the composition root."""
    settings = ClassifierSettings()
    runtime = endpoint_client(settings.aws_region, settings.endpoint_attempts, settings.endpoint_timeout_s)
    stubber = Stubber(runtime)
    stubber.activate()
    endpoint = VehicleEndpoint(runtime, settings.endpoint_name, batch_limit=batch_limit)
    classifier_handler.classifier.use(
        build_classifier(
            settings, outbox=classifier_handler.outbox, endpoint=endpoint, logger=classifier_handler.logger
        )
    )
    return stubber


# What the served model says of every answer: its version and the class of each probability.
FACTS = "model_version=abc123,classes=bicycle|motorcycle|none"


def answer(scores: bytes, **extra: str) -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(scores), len(scores)), "CustomAttributes": FACTS, **extra}


def job_body(aws: Aws, key: str, data: bytes) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    return PhotoJob(
        photo=aws.photo_ref(key), driver_id="d-3", content_type="image/jpeg", width=64, height=48
    ).model_dump_json()


def test_classifier_asks_the_endpoint_once_for_the_whole_batch(aws: Aws) -> None:
    # GIVEN an endpoint that answers two images in one jsonlines call, a corrupt photo, and three jobs
    stubber = stubbed_endpoint(batch_limit=10)
    stubber.add_response(
        "invoke_endpoint",
        answer(b"[0.12, 0.88, 0.0]\n[0.9, 0.05, 0.05]\n", ContentType="application/jsonlines"),
        {
            "EndpointName": ClassifierSettings().endpoint_name,
            "ContentType": "application/jsonlines",
            "Accept": "application/jsonlines",
            "Body": ANY,
        },
    )
    bodies = [
        job_body(aws, "photos/d-3/m.jpg", image_bytes("JPEG", (1200, 900))),
        job_body(aws, "photos/d-3/broken.jpg", image_bytes("JPEG", (800, 600))[:900]),
        job_body(aws, "photos/d-3/b.jpg", image_bytes("JPEG", (640, 480))),
    ]

    # WHEN the classifier handles the batch
    result = aws.invoke(classifier_handler.lambda_handler, "classify", bodies)

    # THEN one endpoint call, a prediction per answer in order, and the corrupt photo rejected
    assert result == {"batchItemFailures": []}
    stubber.assert_no_pending_responses()
    sent = [ASSESSMENT.validate_json(b) for b in aws.drain("route")]
    predictions = {a.photo.key: a for a in sent if isinstance(a, Prediction)}
    assert {key: (a.vehicle_class, a.model_version) for key, a in predictions.items()} == {
        "photos/d-3/m.jpg": ("motorcycle", "abc123"),
        "photos/d-3/b.jpg": ("bicycle", "abc123"),
    }
    # each probability is read under the class the endpoint named for it
    assert predictions["photos/d-3/b.jpg"].probabilities.root == {BIKE: 0.9, MOTO: 0.05, "none": 0.05}
    [rejection] = [a for a in sent if isinstance(a, Rejection)]
    assert (rejection.photo.key, rejection.reason) == ("photos/d-3/broken.jpg", "corrupt-image")


def test_classifier_rejects_what_the_model_refuses_and_retries_a_throttled_call(aws: Aws) -> None:
    # GIVEN a model that refuses the first image (ModelError, 400) and a throttled second call
    stubber = stubbed_endpoint(batch_limit=1)
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400)",
        424,
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad image"},
    )
    stubber.add_client_error("invoke_endpoint", "ThrottlingException", "Rate exceeded", 400)
    refused = job_body(aws, "photos/d-3/refused.jpg", image_bytes("JPEG"))
    throttled = job_body(aws, "photos/d-3/throttled.jpg", image_bytes("JPEG"))

    # WHEN the classifier handles both in one batch
    result = aws.invoke(classifier_handler.lambda_handler, "classify", [refused, throttled])

    # THEN the refused photo is rejected and only the throttled one goes back to SQS
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    [rejection] = [Rejection.model_validate_json(b) for b in aws.drain("route")]
    assert rejection.reason == "endpoint-rejected"

    # WHEN SQS redelivers the throttled job
    stubber.add_response("invoke_endpoint", answer(b"[0.9, 0.1, 0.0]"))
    result = aws.invoke(classifier_handler.lambda_handler, "classify", [throttled])

    # THEN it is classified
    assert result == {"batchItemFailures": []}
    [prediction] = [Prediction.model_validate_json(b) for b in aws.drain("route")]
    assert prediction.vehicle_class == "bicycle"


def test_classifier_sends_back_an_answer_that_does_not_name_its_classes(aws: Aws) -> None:
    # GIVEN an endpoint whose answer does not say which class each probability is
    stubber = stubbed_endpoint(batch_limit=1)
    stubber.add_response("invoke_endpoint", answer(b"[0.9, 0.1]", CustomAttributes="model_version=abc123"))
    job = job_body(aws, "photos/d-3/unnamed.jpg", image_bytes("JPEG"))

    # WHEN the classifier handles the job
    result = aws.invoke(classifier_handler.lambda_handler, "classify", [job])

    # THEN nothing is guessed: the job goes back to SQS (and to the DLQ if the model never says)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert aws.drain("route") == []


# --- router and capture ----------------------------------------------------------------------------


def prediction_body(aws: Aws, key: str, p_bicycle: float) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"x")
    predicted = prediction({BIKE: p_bicycle, MOTO: 1 - p_bicycle, "none": 0.0}, key=key)
    return predicted.model_copy(update={"photo": aws.photo_ref(key)}).model_dump_json()


def test_router_publishes_one_decision_per_photo_and_capture_stores_one_record(aws: Aws) -> None:
    # GIVEN three predictions, one of them delivered twice in the batch and all three again later,
    # before the first copies were consumed (the FIFO subscription deduplicates on the photo)
    bodies = [
        prediction_body(aws, "photos/d-4/a.jpg", 0.995),
        prediction_body(aws, "photos/d-4/b.jpg", 0.005),
        prediction_body(aws, "photos/d-4/c.jpg", 0.6),
    ]

    # WHEN the router handles every delivery
    first = aws.invoke(router_handler.lambda_handler, "route", [*bodies, bodies[0]])
    again = aws.invoke(router_handler.lambda_handler, "route", bodies)

    # THEN the topic's raw subscription put one decision per photo on the capture queue
    assert first == again == {"batchItemFailures": []}
    delivered = aws.drain("capture")
    decisions = [RoutingDecision.model_validate_json(body) for body in delivered]
    assert {d.photo.key: (d.outcome, d.route) for d in decisions} == {
        "photos/d-4/a.jpg": (Route.ROUTED, "short-radius"),
        "photos/d-4/b.jpg": (Route.ROUTED, "long-radius"),
        "photos/d-4/c.jpg": (Route.MANUAL_REVIEW, "manual-review"),
    }
    assert len(decisions) == 3

    # WHEN capture gets every decision twice
    result = aws.invoke(capture_handler.lambda_handler, "capture", delivered * 2)

    # THEN one record each, readable through both of the table's indexes
    assert result == {"batchItemFailures": []}
    table = CaptureTable(client("dynamodb", REGION), aws.stack.capture_table)
    newest_first = table.for_driver("d-4")
    assert len(newest_first) == 3
    assert [r.decided_at for r in newest_first] == sorted((r.decided_at for r in newest_first), reverse=True)
    now = datetime.now(UTC)
    assert len(table.in_window(now - timedelta(minutes=5), now + timedelta(minutes=1))) == 3
    assert table.in_window(now - timedelta(days=3), now - timedelta(days=2)) == []
    # AND through the depot board's index, by the depot each was decided at
    assert (
        len(table.in_window(now - timedelta(minutes=5), now + timedelta(minutes=1), depot_id="depot-1")) == 3
    )
    assert table.in_window(now - timedelta(minutes=5), now + timedelta(minutes=1), depot_id="depot-2") == []


def test_the_capture_queue_gets_the_models_decisions_and_not_a_dispatchers(aws: Aws) -> None:
    # GIVEN a decision of the model's and a dispatcher's review of another photo
    models = decided(unsure(), key="photos/d-6/a.jpg")
    waiting = decided(unsure(), key="photos/d-6/b.jpg")
    reviewed = decide_review(waiting, Review(reviewer="pat", label=BIKE), RULES)

    # WHEN both are published on the routing topic
    topic = DecisionTopic(client("sns", REGION), aws.stack.topic_arn)
    topic.publish(models)
    topic.publish(reviewed)

    # THEN only the model's reaches capture: the API records a review itself (the filter policy)
    delivered = [RoutingDecision.model_validate_json(body) for body in aws.drain("capture")]
    assert [(d.photo.key, d.decided_by) for d in delivered] == [("photos/d-6/a.jpg", "model")]


def test_capture_reports_a_malformed_decision_as_a_failure(aws: Aws) -> None:
    # GIVEN a message on the capture queue that is not a whole decision
    # WHEN capture handles it
    result = aws.invoke(capture_handler.lambda_handler, "capture", ['{"outcome": "routed"}'])

    # THEN it goes back to SQS (and on to the DLQ after the redrive policy's receives)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_router_does_not_publish_again_a_late_photo_that_has_its_record(aws: Aws) -> None:
    # GIVEN a photo uploaded ten minutes ago (past the topic's deduplication window) whose decision was
    # published and captured, and another late photo that has no record yet
    captured = json.loads(prediction_body(aws, "photos/d-5/done.jpg", 0.995))
    pending = json.loads(prediction_body(aws, "photos/d-5/pending.jpg", 0.995))
    for body in (captured, pending):
        body["photo"]["uploaded_at"] = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    done = Prediction.model_validate(captured)
    table = CaptureTable(client("dynamodb", REGION), aws.stack.capture_table)
    table.put_once(CaptureRecord.from_decision(decide(done, load_rules())))

    # WHEN a redrive brings both back to the router
    result = aws.invoke(router_handler.lambda_handler, "route", [json.dumps(captured), json.dumps(pending)])

    # THEN only the photo without a record is published
    assert result == {"batchItemFailures": []}
    assert [RoutingDecision.model_validate_json(b).photo.key for b in aws.drain("capture")] == [
        "photos/d-5/pending.jpg"
    ]
