"""The four Lambda handlers against moto (in-process): idempotency, rejections and partial failures.

GIVEN resources like the template's, WHEN a handler gets a Lambda SQS event, THEN the next queue, topic
or table holds exactly what it should.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from local.eventsource import LocalLambdaContext, lambda_sqs_event
from services.capture import handler as capture_handler
from services.classifier import handler as classifier_handler
from services.ingest import handler as ingest_handler
from services.router import handler as router_handler
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client, endpoint_client
from shared.contracts import PhotoJob, PhotoRef, Prediction, Probabilities, Rejection, RoutingDecision
from shared.settings import get_settings
from tests.samples import image_bytes

REGION = "us-east-1"


@dataclass
class Resources:
    s3: Any
    sqs: Any
    dynamodb: Any
    bucket: str
    classify: str
    route: str
    capture: str
    topic: str

    def drain(self, url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages += batch
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return messages


def clear_caches() -> None:
    for cached in (
        get_settings,
        client,
        endpoint_client,
        ingest_handler.app,
        classifier_handler.app,
        router_handler.app,
        capture_handler.app,
    ):
        cached.cache_clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    with mock_aws():
        s3, sqs, sns, dynamodb = (
            boto3.client(s, region_name=REGION) for s in ("s3", "sqs", "sns", "dynamodb")
        )
        s3.create_bucket(Bucket="photos")
        urls = {
            name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("classify", "route", "capture")
        }
        topic = sns.create_topic(Name="routing")["TopicArn"]
        capture_arn = sqs.get_queue_attributes(QueueUrl=urls["capture"], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=capture_arn, Attributes={"RawMessageDelivery": "true"}
        )
        string = {"AttributeType": "S"}
        dynamodb.create_table(
            TableName="capture",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, **string}
                for n in ("photo_id", "driver_id", "decided_at", "decision_day")
            ],
            KeySchema=[{"AttributeName": "photo_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": name,
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": hash_key, "KeyType": "HASH"},
                        {"AttributeName": "decided_at", "KeyType": "RANGE"},
                    ],
                }
                for name, hash_key in (("by-driver", "driver_id"), ("by-day", "decision_day"))
            ],
        )
        dynamodb.create_table(
            TableName="idempotency",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", **string}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        for name, value in {
            "PHOTO_BUCKET": "photos",
            "CLASSIFY_QUEUE_URL": urls["classify"],
            "ROUTE_QUEUE_URL": urls["route"],
            "ROUTING_TOPIC_ARN": topic,
            "CAPTURE_TABLE": "capture",
            "IDEMPOTENCY_TABLE": "idempotency",
            "ENDPOINT_ATTEMPTS": "1",
        }.items():
            monkeypatch.setenv(name, value)
        clear_caches()
        yield Resources(s3, sqs, dynamodb, "photos", urls["classify"], urls["route"], urls["capture"], topic)
        clear_caches()


def invoke(handler: Any, bodies: list[str]) -> dict[str, Any]:
    messages = [
        {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body} for i, body in enumerate(bodies)
    ]
    result: dict[str, Any] = handler(
        lambda_sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q", REGION),
        LocalLambdaContext("test", 30),
    )
    return result


def notification(aws: Resources, key: str) -> str:
    head = aws.s3.head_object(Bucket=aws.bucket, Key=key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-25T09:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": aws.bucket},
            "object": {
                "key": key.replace("/", "%2F").replace(" ", "+"),
                "size": head["ContentLength"],
                "eTag": head["ETag"].strip('"'),
            },
        },
    }
    return json.dumps({"Records": [record]})


def photo_ref(aws: Resources, key: str) -> PhotoRef:
    head = aws.s3.head_object(Bucket=aws.bucket, Key=key)
    return PhotoRef(
        bucket=aws.bucket,
        key=key,
        etag=head["ETag"].strip('"'),
        size=head["ContentLength"],
        uploaded_at=datetime.now(UTC),
    )


# --- ingest ----------------------------------------------------------------------------------------


def test_ingest_queues_one_job_per_photo_however_often_s3_notifies(aws: Resources) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="photos/d-1/my bike.jpg", Body=image_bytes("JPEG", (640, 480)))
    body = notification(aws, "photos/d-1/my bike.jpg")
    assert invoke(ingest_handler.lambda_handler, [body, body]) == {"batchItemFailures": []}
    assert invoke(ingest_handler.lambda_handler, [body]) == {"batchItemFailures": []}
    jobs = [PhotoJob.model_validate_json(m["Body"]) for m in aws.drain(aws.classify)]
    assert len(jobs) == 1
    assert (jobs[0].driver_id, jobs[0].photo.key, jobs[0].width) == ("d-1", "photos/d-1/my bike.jpg", 640)
    assert aws.drain(aws.route) == []


def test_ingest_rejects_a_bad_photo_without_failing_its_neighbours(aws: Resources) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="photos/d-2/good.png", Body=image_bytes("PNG"))
    aws.s3.put_object(
        Bucket=aws.bucket, Key="photos/d-2/broken.jpg", Body=image_bytes("JPEG", (800, 600))[:900]
    )
    aws.s3.put_object(Bucket=aws.bucket, Key="photos/d-2/gone.jpg", Body=image_bytes("JPEG"))
    bodies = [
        notification(aws, k) for k in ("photos/d-2/good.png", "photos/d-2/broken.jpg", "photos/d-2/gone.jpg")
    ]
    aws.s3.delete_object(Bucket=aws.bucket, Key="photos/d-2/gone.jpg")
    result = invoke(
        ingest_handler.lambda_handler,
        [*bodies, "this is not an S3 event", json.dumps({"Event": "s3:TestEvent"})],
    )
    assert result == {
        "batchItemFailures": [{"itemIdentifier": "m3"}]
    }  # only the malformed one goes back to SQS
    assert len(aws.drain(aws.classify)) == 1
    rejections = {
        Rejection.model_validate_json(m["Body"]).photo.key: Rejection.model_validate_json(m["Body"]).reason
        for m in aws.drain(aws.route)
    }
    assert rejections == {"photos/d-2/broken.jpg": "corrupt-image", "photos/d-2/gone.jpg": "object-missing"}


# --- classifier ------------------------------------------------------------------------------------


def stubbed_endpoint(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    stubber = Stubber(runtime)
    monkeypatch.setattr(classifier_handler, "endpoint_client", lambda *args: runtime)
    stubber.activate()
    return stubber


def job_body(aws: Resources, key: str, data: bytes) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    return PhotoJob(
        photo=photo_ref(aws, key), driver_id="d-3", content_type="image/jpeg", width=64, height=48
    ).model_dump_json()


def test_classifier_turns_the_endpoint_answer_into_a_prediction(
    aws: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber = stubbed_endpoint(monkeypatch)
    answer = b"[0.12, 0.88]"
    stubber.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(answer), len(answer)),
            "ContentType": "application/json",
            "CustomAttributes": "model_version=abc123,graph=photo",
        },
    )
    body = job_body(aws, "photos/d-3/m.jpg", image_bytes("JPEG", (1200, 900)))
    assert invoke(classifier_handler.lambda_handler, [body, body]) == {"batchItemFailures": []}
    predictions = [Prediction.model_validate_json(m["Body"]) for m in aws.drain(aws.route)]
    assert len(predictions) == 1  # the duplicate job did not call the endpoint again
    assert (predictions[0].vehicle_class, predictions[0].confidence, predictions[0].model_version) == (
        "motorcycle",
        0.88,
        "abc123",
    )
    stubber.assert_no_pending_responses()


def test_classifier_rejects_what_the_model_refuses_and_retries_a_throttled_call(
    aws: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber = stubbed_endpoint(monkeypatch)
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400)",
        424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad image"},
    )
    stubber.add_client_error("invoke_endpoint", "ThrottlingException", "Rate exceeded", 400)
    refused = job_body(aws, "photos/d-3/refused.jpg", image_bytes("JPEG"))
    throttled = job_body(aws, "photos/d-3/throttled.jpg", image_bytes("JPEG"))
    assert invoke(classifier_handler.lambda_handler, [refused, throttled]) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    [message] = aws.drain(aws.route)
    assert Rejection.model_validate_json(message["Body"]).reason == "endpoint-rejected"
    # The throttled photo left no INPROGRESS record behind: its redelivery is processed.
    answer = b"[0.9, 0.1]"
    stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(answer), len(answer))})
    assert invoke(classifier_handler.lambda_handler, [throttled]) == {"batchItemFailures": []}
    assert Prediction.model_validate_json(aws.drain(aws.route)[0]["Body"]).vehicle_class == "bicycle"


# --- router and capture ----------------------------------------------------------------------------


def prediction_body(aws: Resources, key: str, p_bicycle: float) -> str:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"x")
    probabilities = Probabilities(bicycle=p_bicycle, motorcycle=1 - p_bicycle)
    vehicle_class, confidence = probabilities.top
    return Prediction(
        photo=photo_ref(aws, key),
        driver_id="d-4",
        probabilities=probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
    ).model_dump_json()


def test_router_publishes_one_decision_per_photo_and_capture_stores_one_record(aws: Resources) -> None:
    bodies = [
        prediction_body(aws, "photos/d-4/a.jpg", 0.995),
        prediction_body(aws, "photos/d-4/b.jpg", 0.005),
        prediction_body(aws, "photos/d-4/c.jpg", 0.6),
    ]
    assert invoke(router_handler.lambda_handler, [*bodies, bodies[0]]) == {"batchItemFailures": []}
    assert invoke(router_handler.lambda_handler, bodies) == {"batchItemFailures": []}
    delivered = aws.drain(aws.capture)
    decisions = {
        RoutingDecision.model_validate_json(m["Body"]).photo.key: RoutingDecision.model_validate_json(
            m["Body"]
        ).route
        for m in delivered
    }
    assert len(delivered) == 3
    assert decisions == {
        "photos/d-4/a.jpg": "short-radius",
        "photos/d-4/b.jpg": "long-radius",
        "photos/d-4/c.jpg": "manual-review",
    }
    # Capture: every decision twice, one record each.
    assert invoke(capture_handler.lambda_handler, [m["Body"] for m in delivered] * 2) == {
        "batchItemFailures": []
    }
    table = CaptureTable(aws.dynamodb, "capture")
    assert table.count() == 3
    newest_first = table.for_driver("d-4")
    assert [r.decided_at for r in newest_first] == sorted((r.decided_at for r in newest_first), reverse=True)
    now = datetime.now(UTC)
    assert len(table.in_window(now - timedelta(minutes=5), now + timedelta(minutes=1))) == 3
    assert table.in_window(now - timedelta(days=3), now - timedelta(days=2)) == []


def test_capture_reports_a_malformed_decision_as_a_failure(aws: Resources) -> None:
    assert invoke(capture_handler.lambda_handler, ['{"route": "short-radius"}']) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
