"""Operating the chain: queue depths and ages, and moving messages from a DLQ back to its source."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from driver_routing.stack_outputs import QueueRef, StackResources
from shared.aws.clients import client


@dataclass(frozen=True)
class QueueStatus:
    name: str
    visible: int
    in_flight: int
    oldest_age_s: float | None


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _age_from_cloudwatch(cloudwatch: Any, queue_name: str) -> float | None:
    """SQS's own ApproximateAgeOfOldestMessage metric (AWS publishes it; moto does not)."""
    now = datetime.now(UTC)
    try:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
    except ClientError:
        return None
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])


def _age_by_peeking(sqs: Any, url: str) -> float | None:
    """Look at up to 10 messages of a DLQ without consuming them. Only for DLQs: a receive counts
    towards a source queue's maxReceiveCount, and a status command must not push work to a DLQ."""
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
    ).get("Messages", [])
    if not messages:
        return None
    oldest_ms = min(int(m["Attributes"]["SentTimestamp"]) for m in messages)
    return max(0.0, time.time() - oldest_ms / 1000)


def queue_status(sqs: Any, cloudwatch: Any, resources: StackResources) -> list[QueueStatus]:
    rows = []
    for key, queue in resources.queues.items():
        for name, url, is_dlq in ((key, queue.url, False), (f"{key}-dlq", queue.dlq_url, True)):
            visible, in_flight = _depth(sqs, url)
            age = _age_from_cloudwatch(cloudwatch, url.rsplit("/", 1)[-1])
            if age is None and is_dlq and visible:
                age = _age_by_peeking(sqs, url)
            rows.append(QueueStatus(name, visible, in_flight, age))
    return rows


def redrive(sqs: Any, queue: QueueRef, *, batch: int = 10, max_messages: int | None = None) -> int:
    """Move messages from `queue`'s DLQ back to `queue`. Uses SQS's own move task where the service
    has it; otherwise receives, sends and deletes in batches, deleting only what was sent."""
    # One attempt only: where the service lacks the task (moto answers HTTP 500) retries only cost time.
    once = client("sqs", sqs.meta.region_name, sqs.meta.endpoint_url, attempts=1)
    try:
        once.start_message_move_task(SourceArn=queue.dlq_arn, DestinationArn=queue.arn)
        visible, _ = _depth(sqs, queue.dlq_url)
        return visible  # the task moves asynchronously: what was there when it started
    except (ClientError, NotImplementedError):
        pass
    moved = 0
    while max_messages is None or moved < max_messages:
        messages = sqs.receive_message(
            QueueUrl=queue.dlq_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["MessageGroupId", "MessageDeduplicationId"],
        ).get("Messages", [])
        if not messages:
            break
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
                **_fifo_fields(queue, m),
            }
            for i, m in enumerate(messages)
        ]
        sent = sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)
        ok = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if str(i) in ok
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=queue.dlq_url, Entries=done)
        moved += len(done)
    return moved


def _fifo_fields(queue: QueueRef, message: dict[str, Any]) -> dict[str, str]:
    """A FIFO queue (the capture queue, subscribed to the FIFO topic) takes a message back in its own
    group. Its deduplication id is new (but the same for the same DLQ message, should the operator run
    the redrive twice): with the original one, SQS would drop a redrive within five minutes of the first
    delivery as a duplicate."""
    if not queue.url.endswith(".fifo"):
        return {}
    return {
        "MessageGroupId": message.get("Attributes", {}).get("MessageGroupId", "redrive"),
        "MessageDeduplicationId": f"redrive-{message['MessageId']}",
    }
