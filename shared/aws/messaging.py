"""Sending contracts to SQS queues and publishing decisions to SNS, through the invocation's outbox:
ten records' messages go out in one `SendMessageBatch` or `PublishBatch`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from shared.batching import Failed, Outbox
from shared.contracts import RoutingDecision

# Both APIs take at most ten entries a call (and 256 KiB; a contract is about 1 KiB).
BATCH_LIMIT = 10


class SendRefused(Exception):
    """An entry of a batch call that the service refused; the rest of the call went through."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _results(response: dict[str, Any], count: int) -> list[Any]:
    results: list[Any] = [Failed(SendRefused("Missing", "no answer for this entry"))] * count
    for ok in response.get("Successful", []):
        results[int(ok["Id"])] = str(ok["MessageId"])
    for failed in response.get("Failed", []):
        results[int(failed["Id"])] = Failed(SendRefused(failed.get("Code", ""), failed.get("Message", "")))
    return results


class MessageQueue:
    batch_limit = BATCH_LIMIT

    def __init__(self, sqs: Any, url: str, outbox: Outbox | None = None) -> None:
        self._sqs = sqs
        self.url = url
        self._outbox = outbox or Outbox()

    def send(self, message: BaseModel) -> None:
        self._outbox.add(self, message)

    def send_batch(self, entries: Sequence[BaseModel]) -> list[Any]:
        response = self._sqs.send_message_batch(
            QueueUrl=self.url,
            Entries=[{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(entries)],
        )
        return _results(response, len(entries))


class DecisionTopic:
    """The routing topic. On a FIFO topic each decision carries the photo's digest as its deduplication
    id: SNS accepts one decision per photo within its 5-minute window, however often the router
    publishes it; the driver id is the message group, so a driver's decisions stay in order."""

    batch_limit = BATCH_LIMIT

    def __init__(self, sns: Any, arn: str, outbox: Outbox | None = None) -> None:
        self._sns = sns
        self.arn = arn
        self.fifo = arn.endswith(".fifo")
        self._outbox = outbox or Outbox()

    def publish(self, decision: RoutingDecision) -> None:
        self._outbox.add(self, decision)

    def entry(self, index: int, decision: RoutingDecision) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": str(index),
            "Message": decision.model_dump_json(),
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in decision.message_attributes().items()
            },
        }
        if self.fifo:
            entry["MessageGroupId"] = decision.driver_id
            entry["MessageDeduplicationId"] = decision.deduplication_id
        return entry

    def send_batch(self, entries: Sequence[RoutingDecision]) -> list[Any]:
        response = self._sns.publish_batch(
            TopicArn=self.arn, PublishBatchRequestEntries=[self.entry(i, d) for i, d in enumerate(entries)]
        )
        return _results(response, len(entries))
