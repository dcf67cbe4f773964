"""The decision subscription: each decision handed out once, even when a delete does not go through."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError

from driver_routing import subscription
from driver_routing.subscription import DecisionSubscription
from tests.bench_samples import decision


class FlakySqs:
    """An SQS queue that hands out what it is given and fails the deletes it is told to fail."""

    def __init__(self, fail_deletes: list[set[str]], *, drop_calls: int = 0) -> None:
        self.deliveries: list[list[dict[str, Any]]] = []
        self.fail_deletes = fail_deletes  # per delete call, the message ids whose entry fails
        self.drop_calls = drop_calls  # the first calls raise, as a connection that dropped
        self.deleted: list[str] = []
        self.delete_calls = 0

    def deliver(self, *keys_and_ids: tuple[str, str]) -> None:
        self.deliveries.append(
            [
                {
                    "MessageId": mid,
                    "ReceiptHandle": f"{mid}-{len(self.deliveries)}",
                    "Body": decision(key).model_dump_json(),
                }
                for key, mid in keys_and_ids
            ]
        )

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        return {"Messages": self.deliveries.pop(0)} if self.deliveries else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.delete_calls += 1
        if self.drop_calls:
            self.drop_calls -= 1
            raise EndpointConnectionError(endpoint_url=QueueUrl)
        failing = self.fail_deletes.pop(0) if self.fail_deletes else set()
        ok, failed = [], []
        for entry in Entries:
            message_id = entry["ReceiptHandle"].rsplit("-", 1)[0]
            if message_id in failing:
                failed.append(
                    {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": ""}
                )
            else:
                ok.append({"Id": entry["Id"]})
                self.deleted.append(message_id)
        return {"Successful": ok, "Failed": failed}


def subscribed(sqs: FlakySqs) -> DecisionSubscription:
    sub = DecisionSubscription(sqs, None, "arn:aws:sns:us-east-1:1:topic.fifo")
    sub.queue_url = "queue"
    return sub


def test_a_failed_delete_entry_is_retried(monkeypatch: Any) -> None:
    # GIVEN a queue whose first delete fails one entry of two
    monkeypatch.setattr(subscription, "DELETE_RETRY_S", 0.0)
    sqs = FlakySqs([{"m2"}])
    sqs.deliver(("photos/d/a.jpg", "m1"), ("photos/d/b.jpg", "m2"))

    # WHEN the subscription receives
    decisions = subscribed(sqs).receive(wait_s=0)

    # THEN both decisions come out once, and the failed entry was deleted on the second call
    assert [d.photo.key for d in decisions] == ["photos/d/a.jpg", "photos/d/b.jpg"]
    assert sqs.deleted == ["m1", "m2"]
    assert sqs.delete_calls == 2


def test_a_message_whose_delete_never_went_through_is_not_handed_out_again(monkeypatch: Any) -> None:
    # GIVEN a delete that keeps failing for one message, which SQS then delivers again
    monkeypatch.setattr(subscription, "DELETE_RETRY_S", 0.0)
    sqs = FlakySqs([{"m1"}] * subscription.DELETE_ATTEMPTS)
    sqs.deliver(("photos/d/a.jpg", "m1"))
    sub = subscribed(sqs)
    first = sub.receive(wait_s=0)
    sqs.deliver(("photos/d/a.jpg", "m1"), ("photos/d/c.jpg", "m3"))

    # WHEN it arrives again
    second = sub.receive(wait_s=0)

    # THEN its decision was handed out once, and the redelivery is deleted, not returned
    assert [d.photo.key for d in first] == ["photos/d/a.jpg"]
    assert [d.photo.key for d in second] == ["photos/d/c.jpg"]
    assert sqs.deleted == ["m1", "m3"]


def test_a_delete_call_that_drops_is_made_again(monkeypatch: Any) -> None:
    # GIVEN a delete call whose connection drops once
    monkeypatch.setattr(subscription, "DELETE_RETRY_S", 0.0)
    sqs = FlakySqs([], drop_calls=1)
    sqs.deliver(("photos/d/a.jpg", "m1"))

    # WHEN the subscription receives
    decisions = subscribed(sqs).receive(wait_s=0)

    # THEN the decision comes out and the message is deleted on the second call
    assert [d.photo.key for d in decisions] == ["photos/d/a.jpg"]
    assert sqs.deleted == ["m1"]
