"""The local moto launcher's SQS speed-ups give the same answers as moto's own code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs import models

from local.motoserver import speed_up_sqs

PATCHED = ("messages", "approximate_number_of_messages_delayed", "approximate_number_of_messages_not_visible")


@pytest.fixture
def sqs() -> Iterator[Any]:
    originals = {name: vars(models.Queue)[name] for name in (*PATCHED, "delete_message")}
    speed_up_sqs()
    assert vars(models.Queue)["delete_message"].__module__ == "local.motoserver"  # applied
    try:
        with mock_aws():
            yield boto3.client("sqs", region_name="us-east-1")
    finally:
        for name, value in originals.items():
            setattr(models.Queue, name, value)


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
