"""The four Lambda handlers on in-process moto, against the resources infra/template.yaml deploys.

What needs real AWS behaviour lives here: S3's own notifications, the idempotency table, SQS batches
with partial failures, the SNS → SQS raw subscription, the capture table's indexes. The services'
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
from botocore.stub import Stubber
from moto import mock_aws

from driver_routing.stack_outputs import StackResources
from local.deploy import deploy_stack
from local.eventsource import lambda_sqs_event
from services.capture import handler as capture_handler
from services.classifier import handler as classifier_handler
from services.classifier.bootstrap import build_classifier
from services.ingest import handler as ingest_handler
from services.router import handler as router_handler
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client, endpoint_client
from shared.aws.endpoint import VehicleEndpoint
from shared.contracts import PhotoJob, PhotoRef, Prediction, Probabilities, Rejection, RoutingDecision
from shared.settings import Settings
from tests.fakes import lambda_context
from tests.samples import image_bytes

REGION = "us-east-1"
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
    for name, value in {**stack.environment(), "ENDPOINT_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    aws = Aws(stack)
    for queue in stack.queues:  # PurgeQueue is allowed once a minute: receive and delete instead
        aws.drain(queue)
    return aws


# --- ingest ----------------------------------------------------------------------------------------


def test_ingest_queues_one_job_per_photo_however_often_s3_notifies(aws: Aws) -> None:
    # GIVEN a photo uploaded and S3's notification of it, delivered twice in a batch and once more later
    notification = aws.upload("photos/d-1/my bike.jpg", image_bytes("JPEG", (640, 480)))

    # WHEN ingest handles every delivery
    first = aws.invoke(ingest_handler.lambda_handler, "ingest", [notification, notification])
    again = aws.invoke(ingest_handler.lambda_handler, "ingest", [notification])

    # THEN the idempotency table let one job through, and nothing was rejected
    assert first == again == {"batchItemFailures": []}
    [job] = [PhotoJob.model_validate_json(body) for body in aws.drain("classify")]
    assert (job.driver_id, job.photo.key, job.width) == ("d-1", "photos/d-1/my bike.jpg", 640)
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

    # THEN only the malformed message goes back to SQS; the bad photos are rejected with their reasons
    assert result == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    assert len(aws.drain("classify")) == 1
    rejections = [Rejection.model_validate_json(body) for body in aws.drain("route")]
    assert {r.photo.key: r.reason for r in rejections} == {
        "photos/d-2/broken.jpg": "corrupt-image",
        "photos/d-2/gone.jpg": "object-missing",
    }


# --- classifier ------------------------------------------------------------------------------------


def stubbed_endpoint() -> Stubber:
    """The production endpoint adapter on a stubbed sagemaker-runtime client, wired into the handler
    through the composition root."""
    settings = Settings()
    runtime = endpoint_client(settings.aws_region, settings.endpoint_attempts, settings.endpoint_timeout_s)
    stubber = Stubber(runtime)
    stubber.activate()
    endpoint = VehicleEndpoint(runtime, settings.endpoint_name)
    classifier_handler.classifier.use(
        build_classifier(settings, endpoint=endpoint, logger=classifier_handler.logger)
    )
    return stubber


def answer(scores: bytes, **extra: str) -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(scores), len(scores)), **extra}


def job_body(aws: Aws, key: str, data: bytes) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    return PhotoJob(
        photo=aws.photo_ref(key), driver_id="d-3", content_type="image/jpeg", width=64, height=48
    ).model_dump_json()


def test_classifier_turns_the_endpoint_answer_into_one_prediction(aws: Aws) -> None:
    # GIVEN an endpoint that answers once, and a job delivered twice
    stubber = stubbed_endpoint()
    stubber.add_response(
        "invoke_endpoint",
        answer(b"[0.12, 0.88]", ContentType="application/json", CustomAttributes="model_version=abc123"),
    )
    body = job_body(aws, "photos/d-3/m.jpg", image_bytes("JPEG", (1200, 900)))

    # WHEN the classifier handles the batch
    result = aws.invoke(classifier_handler.lambda_handler, "classify", [body, body])

    # THEN one endpoint call and one prediction
    assert result == {"batchItemFailures": []}
    [prediction] = [Prediction.model_validate_json(b) for b in aws.drain("route")]
    assert (prediction.vehicle_class, prediction.confidence, prediction.model_version) == (
        "motorcycle",
        0.88,
        "abc123",
    )
    stubber.assert_no_pending_responses()


def test_classifier_rejects_what_the_model_refuses_and_retries_a_throttled_call(aws: Aws) -> None:
    # GIVEN a model that refuses the first image (ModelError, 400) and a throttled second call
    stubber = stubbed_endpoint()
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
    stubber.add_response("invoke_endpoint", answer(b"[0.9, 0.1]"))
    result = aws.invoke(classifier_handler.lambda_handler, "classify", [throttled])

    # THEN it left no INPROGRESS record behind: it is classified
    assert result == {"batchItemFailures": []}
    [prediction] = [Prediction.model_validate_json(b) for b in aws.drain("route")]
    assert prediction.vehicle_class == "bicycle"


# --- router and capture ----------------------------------------------------------------------------


def prediction_body(aws: Aws, key: str, p_bicycle: float) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"x")
    probabilities = Probabilities(bicycle=p_bicycle, motorcycle=1 - p_bicycle)
    vehicle_class, confidence = probabilities.top
    return Prediction(
        photo=aws.photo_ref(key),
        driver_id="d-4",
        probabilities=probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
    ).model_dump_json()


def test_router_publishes_one_decision_per_photo_and_capture_stores_one_record(aws: Aws) -> None:
    # GIVEN three predictions, one of them delivered twice in the batch and all three again later
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
    assert {d.photo.key: d.route for d in decisions} == {
        "photos/d-4/a.jpg": "short-radius",
        "photos/d-4/b.jpg": "long-radius",
        "photos/d-4/c.jpg": "manual-review",
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


def test_capture_reports_a_malformed_decision_as_a_failure(aws: Aws) -> None:
    # GIVEN a message on the capture queue that is not a whole decision
    # WHEN capture handles it
    result = aws.invoke(capture_handler.lambda_handler, "capture", ['{"route": "short-radius"}'])

    # THEN it goes back to SQS (and on to the DLQ after the redrive policy's receives)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
