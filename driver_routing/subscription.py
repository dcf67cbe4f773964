"""A temporary SQS subscription to the routing topic: how `watch`, the demo and the tests see decisions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.contracts import Route, RoutingDecision

DELETE_ATTEMPTS = 3
DELETE_RETRY_S = 0.2


class DecisionSubscription:
    """On the FIFO routing topic, a FIFO queue: one copy of each photo's decision, in order per driver."""

    def __init__(self, sqs: Any, sns: Any, topic_arn: str, *, routes: list[Route] | None = None) -> None:
        self._sqs = sqs
        self._sns = sns
        self._topic_arn = topic_arn
        self._routes = routes
        self.queue_url = ""
        self._subscription_arn = ""
        # Messages handed out whose delete did not go through: SQS will deliver them again.
        self._not_deleted: set[str] = set()
        self._lock = threading.Lock()  # receivers may share one subscription

    def __enter__(self) -> DecisionSubscription:
        name = f"driver-routing-watch-{uuid.uuid4().hex[:12]}"
        attributes = {"SqsManagedSseEnabled": "true"}
        if self._topic_arn.endswith(".fifo"):
            # A FIFO topic's subscriber: a FIFO queue deduplicates again on the decision's id, so each
            # photo's decision arrives once; a standard queue may deliver twice.
            name += ".fifo"
            attributes["FifoQueue"] = "true"
        self.queue_url = self._sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self._topic_arn}},
                }
            ],
        }
        self._sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)})
        attributes = {"RawMessageDelivery": "true"}
        if self._routes:
            attributes["FilterPolicy"] = json.dumps({"outcome": [r.value for r in self._routes]})
        self._subscription_arn = self._sns.subscribe(
            TopicArn=self._topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return self

    def receive(self, wait_s: int = 1) -> list[RoutingDecision]:
        """The decisions that arrived, each once: what was received is deleted (its failed entries
        retried), and a message whose delete never went through is not handed out again when SQS
        delivers it a second time after its visibility timeout."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        messages = response.get("Messages", [])
        with self._lock:
            fresh = [m for m in messages if m["MessageId"] not in self._not_deleted]
        if messages:
            deleted = self._delete(messages)
            with self._lock:
                self._not_deleted.update(m["MessageId"] for m in fresh if m["MessageId"] not in deleted)
                self._not_deleted.difference_update(deleted)
        return [RoutingDecision.model_validate_json(m["Body"]) for m in fresh]

    def _delete(self, messages: list[dict[str, Any]]) -> set[str]:
        """Delete these messages, retrying the entries that failed; the message ids deleted."""
        pending = {str(i): m for i, m in enumerate(messages)}
        for attempt in range(DELETE_ATTEMPTS):
            if attempt:
                time.sleep(DELETE_RETRY_S * 2 ** (attempt - 1))
            try:
                response = self._sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": i, "ReceiptHandle": m["ReceiptHandle"]} for i, m in pending.items()],
                )
            except (BotoCoreError, ClientError):
                continue  # the whole call failed or its answer was lost: every entry again
            failed = {str(f["Id"]) for f in response.get("Failed", [])}
            pending = {i: m for i, m in pending.items() if i in failed}
            if not pending:
                break
        not_deleted = {m["MessageId"] for m in pending.values()}
        return {m["MessageId"] for m in messages} - not_deleted

    def collect(
        self,
        keys: set[str],
        timeout_s: float,
        *,
        on_decision: Callable[[RoutingDecision], None] | None = None,
        between_polls: Callable[[], object] | None = None,
    ) -> dict[str, RoutingDecision]:
        """The decisions for these photo keys, as they arrive, until all are in or time runs out."""
        decisions: dict[str, RoutingDecision] = {}
        deadline = time.monotonic() + timeout_s
        while keys - decisions.keys() and time.monotonic() < deadline:
            for decision in self.receive(wait_s=1):
                if decision.photo.key in keys and decision.photo.key not in decisions:
                    decisions[decision.photo.key] = decision
                    if on_decision is not None:
                        on_decision(decision)
            if between_polls is not None:
                between_polls()
        return decisions

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._subscription_arn:
            self._sns.unsubscribe(SubscriptionArn=self._subscription_arn)
        if self.queue_url:
            self._sqs.delete_queue(QueueUrl=self.queue_url)
