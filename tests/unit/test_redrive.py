"""driver-routing redrive on the FIFO capture queue: a decision in its DLQ goes back, in its group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from driver_routing.operations import redrive
from driver_routing.stack_outputs import QueueRef


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def fifo_queue_with_dlq(sqs: Any) -> QueueRef:
    fifo = {"FifoQueue": "true"}
    dlq = sqs.create_queue(QueueName="capture-dlq.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive_policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName="capture.fifo", Attributes={**fifo, "RedrivePolicy": redrive_policy})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueRef("capture.fifo", url, arn, dlq, dlq_arn)


def test_a_fifo_dlq_message_goes_back_in_its_group_right_after_its_first_delivery(sqs: Any) -> None:
    # GIVEN a decision delivered to the FIFO capture queue that moved to its DLQ a moment later
    queue = fifo_queue_with_dlq(sqs)
    sqs.send_message(
        QueueUrl=queue.url, MessageBody="decision", MessageGroupId="d-1", MessageDeduplicationId="photo-1"
    )
    sqs.send_message(
        QueueUrl=queue.dlq_url, MessageBody="decision", MessageGroupId="d-1", MessageDeduplicationId="photo-1"
    )
    sqs.receive_message(QueueUrl=queue.url)  # the first delivery, still in flight

    # WHEN the operator redrives it, well inside the queue's five-minute deduplication window
    moved = redrive(sqs, queue)

    # THEN it is on the queue again beside its first delivery (not dropped as a duplicate of it)
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    assert moved == 1
    assert (
        int(attributes["ApproximateNumberOfMessages"])
        + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        == 2
    )
