"""The local moto launcher: its SQS speed-ups give moto's answers, FIFO topics deduplicate as on AWS,
and requests are counted by caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sns import models as models_sns
from moto.sqs import models

from local.moto_sqs import speed_up_sqs
from local.motoserver import (
    COUNTS_PATH,
    RequestCounter,
    count_requests,
    deduplicate_fifo_topics,
)

PATCHED = (
    "messages",
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
    "delete_message",
)
PATCHED_BACKEND = ("send_message", "is_message_valid_based_on_retention_period")


@pytest.fixture
def sqs() -> Iterator[Any]:
    originals = {name: vars(models.Queue)[name] for name in PATCHED}
    backend_originals = {name: vars(models.SQSBackend)[name] for name in PATCHED_BACKEND}
    speed_up_sqs()
    assert vars(models.Queue)["delete_message"].__module__ == "local.moto_sqs"  # applied
    assert models.SQSBackend.send_message.__module__ == "local.moto_sqs"
    try:
        with mock_aws():
            yield boto3.client("sqs", region_name="us-east-1")
    finally:
        for name, value in originals.items():
            setattr(models.Queue, name, value)
        for name, value in backend_originals.items():
            setattr(models.SQSBackend, name, value)


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def test_counts_receive_and_batch_delete_behave_as_moto(sqs: Any) -> None:
    # GIVEN 25 messages, 3 of them delayed
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for i in range(22):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"d{i}", DelaySeconds=60)
    assert counts(sqs, url) == (22, 0, 3)

    # WHEN 10 are received and deleted in one batch, 10 more received and left in flight
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(first)],
    )
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    # THEN
    assert len(deleted["Successful"]) == 10 and not deleted.get("Failed")
    assert {m["Body"] for m in first}.isdisjoint(m["Body"] for m in second)
    assert counts(sqs, url) == (2, 10, 3)
    # deleting again is fine; an unknown handle is an error, as in moto
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    failed = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": "not-a-handle"}])
    assert failed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, url) == (2, 10, 3)


def test_sends_deduplicate_by_content_and_receives_honour_the_retention_period(sqs: Any) -> None:
    # GIVEN a FIFO queue deduplicating by content, and a queue keeping messages for a minute
    fifo = sqs.create_queue(
        QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    short = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]

    # WHEN one body is sent twice to the FIFO queue, and one message of the other queue is 61 s old
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=short, MessageBody="old")
    queue: Any = models.sqs_backends["123456789012"]["us-east-1"].queues["short"]
    queue._messages[0].sent_timestamp -= 61_000
    sqs.send_message(QueueUrl=short, MessageBody="new")

    # THEN the FIFO queue holds one, the counts are the queue's, and the old message is not handed out
    assert counts(sqs, fifo) == (1, 0, 0)
    assert counts(sqs, short) == (2, 0, 0)
    first = sqs.receive_message(QueueUrl=short, MaxNumberOfMessages=10).get("Messages", [])
    assert first == []  # moto stops at the first message past its retention, as it always has
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=short).get("Messages", [])] == ["new"]


def test_a_fifo_topic_drops_a_second_publish_with_the_same_deduplication_id() -> None:
    # GIVEN moto's SNS with the five-minute topic deduplication AWS has, and a FIFO queue subscribed
    original = models_sns.Topic.publish
    deduplicate_fifo_topics()
    try:
        with mock_aws():
            sns, sqs = (
                boto3.client("sns", region_name="us-east-1"),
                boto3.client("sqs", region_name="us-east-1"),
            )
            topic = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
            url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
            )
            first = sns.publish(TopicArn=topic, Message="a", MessageGroupId="d", MessageDeduplicationId="p1")
            [message] = sqs.receive_message(QueueUrl=url)["Messages"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

            # WHEN the same decision is published again after the subscriber consumed the first
            again = sns.publish(TopicArn=topic, Message="a", MessageGroupId="d", MessageDeduplicationId="p1")
            other = sns.publish(TopicArn=topic, Message="b", MessageGroupId="d", MessageDeduplicationId="p2")

            # THEN the duplicate gets the first message id and never reaches the queue; a new id does
            assert again["MessageId"] == first["MessageId"] != other["MessageId"]
            assert [
                m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            ] == ["b"]
    finally:
        models_sns.Topic.publish = original  # type: ignore[method-assign]


def test_requests_are_counted_by_caller_service_and_operation() -> None:
    # GIVEN the counting dispatcher in front of a moto app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    original = DomainDispatcherApplication.__call__
    count_requests(RequestCounter())
    try:
        client = Client(DomainDispatcherApplication(create_backend_app))
        sigv4 = "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host"
        headers = {
            "Authorization": sigv4,
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "User-Agent": "Boto3/1 app/chain",
        }

        # WHEN the chain lists queues twice and someone else once
        for _ in range(2):
            client.post("/", headers={**headers, "Content-Type": "application/x-amz-json-1.0"}, data="{}")
        client.post(
            "/",
            headers={**headers, "User-Agent": "aws-cli/2", "Content-Type": "application/x-amz-json-1.0"},
            data="{}",
        )
        counts = json.loads(client.get(COUNTS_PATH).data)

        # THEN the counts keep them apart
        assert {(c["caller"], c["operation"]): c["count"] for c in counts if c["service"] == "sqs"} == {
            ("chain", "ListQueues"): 2,
            ("other", "ListQueues"): 1,
        }
    finally:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]
