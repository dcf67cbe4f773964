"""The local SQS event-source mapping: what AWS Lambda's pollers do, for a laptop.

It long-polls a queue, hands batches of up to 10 records to the very same Lambda handler in the
Lambda SQS event shape, and deletes only the records the handler did not report in
`batchItemFailures`. A record that keeps failing stays on the queue until the redrive policy moves
it to the DLQ: the poller never deletes what it could not process.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object that Powertools and the handlers read."""

    function_name: str
    timeout_s: float
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API attributes (`StringValue`) in the Lambda event's spelling (`stringValue`)."""
    converted = {}
    for name, value in attributes.items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
    return converted


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class PollerStats:
    batches: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    handler_errors: int = 0


class SqsEventSource:
    """One event-source mapping feeding one execution environment.

    `concurrency` threads long-poll and delete concurrently, but the handler runs one invocation at a
    time, as in a Lambda execution environment: handlers keep per-invocation state at module level
    (Powertools' batch processor, logger keys, metrics), which concurrent invocations would mix up —
    one invocation's failures reported in another's response, and deleted. More throughput means more
    environments, as Lambda scales (`local.poller` runs several in one process, each on its own copy
    of the handler's modules).

    `crash_next()` makes the next invocation die after its handler returned and before the poller
    deleted anything: the window in which a function's side effects are done but SQS will deliver the
    batch again. The environment is then replaced by a fresh one (`new_environment`), as Lambda would.
    """

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        function_name: str,
        function_timeout_s: float,
        region: str,
        batch_size: int = 10,
        wait_time_s: int = 2,
        concurrency: int = 1,
        batching_window_s: float = 0.0,
        new_environment: Callable[[], Handler] | None = None,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._handler = handler
        self.function_name = function_name
        self._timeout_s = function_timeout_s
        self._region = region
        self._batch_size = batch_size
        self._wait_time_s = wait_time_s
        self._concurrency = concurrency
        self._batching_window_s = batching_window_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._invoking = threading.Lock()
        self._crash = threading.Event()
        self._new_environment = new_environment
        self.stats = PollerStats()
        self.crashes = 0

    def crash_next(self) -> None:
        self._crash.set()

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, delete what succeeded. Returns the batch size.

        With a batching window (Lambda's `MaximumBatchingWindowInSeconds`) a batch that is not full
        waits that long from its first message for more, then takes what arrived in one receive."""
        messages = self._receive(self._batch_size, self._wait_time_s)
        if not messages:
            return 0
        if self._batching_window_s > 0 and len(messages) < self._batch_size:
            self._stop.wait(self._batching_window_s)
            messages += self._receive(self._batch_size - len(messages), 0)
        event = lambda_sqs_event(messages, self.queue_arn, self._region)
        with self._invoking:
            context = LocalLambdaContext(self.function_name, self._timeout_s)
            try:
                result = self._handler(event, context) or {}
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            except Exception:
                # A crashed invocation: Lambda would retry the whole batch after the visibility timeout.
                log.exception("handler %s failed on a batch of %d", self.function_name, len(messages))
                failed = {m["MessageId"] for m in messages}
                with self._lock:
                    self.stats.handler_errors += 1
            if self._crash.is_set():
                self._crash.clear()
                self.crashes += 1
                log.warning("environment of %s crashed after its handler (injected)", self.function_name)
                if self._new_environment is not None:
                    self._handler = self._new_environment()
                return len(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        with self._lock:
            self.stats.batches += 1
            self.stats.received += len(messages)
            self.stats.deleted += len(done)
            self.stats.failed += len(messages) - len(done)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("poller %s could not reach its queue; retrying", self.function_name)
                self._stop.wait(1.0)

    def start(self) -> None:
        for index in range(self._concurrency):
            thread = threading.Thread(target=self._run, name=f"{self.function_name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
