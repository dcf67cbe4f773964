"""The API's tests: in-process moto with resources shaped like the template's, and HTTP API events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from local.api_gateway.events import http_api_event
from local.eventsource import LocalLambdaContext
from services.api import handler as api_handler
from services.api.settings import get_api_settings
from shared.aws import clients
from shared.aws.capture_table import BY_DAY, BY_DEPOT_DAY, BY_DRIVER, OPEN_ITEMS, CaptureTable
from shared.aws.upload_tickets import UploadTicketTable
from shared.contracts import CaptureRecord, RoutingDecision
from shared.photo_keys import upload_id_of
from shared.wiring import BuiltOnce
from tests.decisions import record_of

REGION = "us-east-1"
DRIVER = {"cognito:username": "dana", "custom:driver_id": "d-001", "cognito:groups": ["drivers"]}
OTHER_DRIVER = {"cognito:username": "omar", "custom:driver_id": "d-002", "cognito:groups": ["drivers"]}
DISPATCHER = {"cognito:username": "pat", "cognito:groups": ["dispatchers"]}


@dataclass
class Api:
    s3: Any
    sqs: Any
    table: CaptureTable
    bucket: str
    subscriber_queue: str

    def call(
        self,
        method: str,
        path: str,
        claims: dict[str, Any] | None = None,
        body: Any = None,
        query: str = "",
    ) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        event = http_api_event(
            method=method,
            path=path,
            query_string=query,
            headers=[("content-type", "application/json"), ("host", "api.local")],
            body=raw,
            claims=claims,
        )
        result = api_handler.lambda_handler(event, LocalLambdaContext("api", 30))
        text = result.get("body") or "null"
        try:
            return result["statusCode"], json.loads(text)
        except ValueError:
            return result["statusCode"], text

    def raw(
        self, method: str, path: str, claims: dict[str, Any] | None = None, body: Any = None
    ) -> dict[str, Any]:
        """The handler's own answer (status, headers, body), as API Gateway receives it."""
        raw = json.dumps(body).encode() if body is not None else b""
        event = http_api_event(
            method=method,
            path=path,
            headers=[("content-type", "application/json"), ("host", "api.local")],
            body=raw,
            claims=claims,
        )
        result: dict[str, Any] = api_handler.lambda_handler(event, LocalLambdaContext("api", 30))  # type: ignore[arg-type]
        return result

    def published(self) -> list[RoutingDecision]:
        found: list[RoutingDecision] = []
        while batch := self.sqs.receive_message(QueueUrl=self.subscriber_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                found.append(RoutingDecision.model_validate_json(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.subscriber_queue, ReceiptHandle=message["ReceiptHandle"]
                )
        return found


def clear_caches() -> None:
    get_api_settings.cache_clear()
    BuiltOnce.reset_all()
    clients.clear()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        s3, sqs, sns, dynamodb = (
            cast(Any, boto3.client(s, region_name=REGION)) for s in ("s3", "sqs", "sns", "dynamodb")
        )
        s3.create_bucket(Bucket="photos")
        topic = sns.create_topic(Name="routing")["TopicArn"]
        queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        string = {"AttributeType": "S"}
        dynamodb.create_table(
            TableName="capture",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, **string}
                for n in ("photo_id", "driver_id", "decided_at", "decision_day", "depot_day", "open_item")
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
                for name, hash_key in (
                    (BY_DRIVER, "driver_id"),
                    (BY_DAY, "decision_day"),
                    (BY_DEPOT_DAY, "depot_day"),
                    (OPEN_ITEMS, "open_item"),
                )
            ],
        )
        dynamodb.create_table(
            TableName="uploads",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", **string}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        for name, value in {
            "UPLOADS_TABLE": "uploads",
            "PHOTO_BUCKET": "photos",
            "ROUTING_TOPIC_ARN": topic,
            "CAPTURE_TABLE": "capture",
            "USER_POOL_CLIENT_ID": "test-client",
            "MAX_PHOTO_BYTES": "1000000",
        }.items():
            monkeypatch.setenv(name, value)
        clear_caches()
        yield Api(s3, sqs, CaptureTable(dynamodb, "capture"), "photos", queue)
        clear_caches()


def capture(api: Api, decision: RoutingDecision, captured_at: datetime | None = None) -> CaptureRecord:
    """Write the decision's record as capture would, after ingest's claim of its upload's ticket (a
    no-op for a key the API issued no ticket for), and return it."""
    upload_id = upload_id_of(decision.photo.key)
    if upload_id:
        tickets = UploadTicketTable(boto3.client("dynamodb", region_name="us-east-1"), "uploads")
        tickets.claim(upload_id, decision.photo.identity)
    record = record_of(decision, captured_at)
    assert api.table.put_once(record)
    return record
