"""The local event-source mapping: Lambda's event shape in, only successes deleted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from local.eventsource import LocalLambdaContext, SqsEventSource


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def make_source(sqs: Any, handler: Any, *, batching_window_s: float = 0.0) -> SqsEventSource:
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    return SqsEventSource(
        sqs=sqs,
        queue_url=url,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        handler=handler,
        function_name="fn",
        function_timeout_s=5,
        region="us-east-1",
        wait_time_s=0,
        batching_window_s=batching_window_s,
    )


def depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def poison_every_third(pause_s: float = 0.0) -> Any:
    """A Lambda handler in Powertools' shape (one module-level processor) that fails every third record."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        time.sleep(pause_s)  # > 0: long enough for another thread's invocation to interleave
        if json.loads(record.body)["n"] % 3 == 0:
            raise ValueError("poison")

    def handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


def test_only_records_not_reported_as_failures_are_deleted(sqs: Any) -> None:
    source = make_source(sqs, poison_every_third())
    for n in range(1, 10):
        sqs.send_message(
            QueueUrl=source.queue_url,
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )
    while source.poll_once():
        pass
    assert (source.stats.received, source.stats.deleted, source.stats.failed) == (9, 6, 3)
    assert depth(sqs, source.queue_url) == (0, 3)  # the 3 poison records wait for their visibility timeout


def test_the_handler_gets_the_lambda_sqs_event_shape_and_a_context(sqs: Any) -> None:
    seen: list[tuple[dict[str, Any], Any]] = []
    source = make_source(
        sqs, lambda event, context: seen.append((event, context)) or {"batchItemFailures": []}
    )
    sqs.send_message(
        QueueUrl=source.queue_url,
        MessageBody="hello",
        MessageAttributes={"route": {"DataType": "String", "StringValue": "rejected"}},
    )
    source.poll_once()
    event, context = seen[0]
    record = event["Records"][0]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == source.queue_arn
    assert record["messageAttributes"]["route"]["stringValue"] == "rejected"
    assert int(record["attributes"]["ApproximateReceiveCount"]) == 1
    assert isinstance(context, LocalLambdaContext)
    assert 0 < context.get_remaining_time_in_millis() <= 5000


def test_a_crashing_handler_deletes_nothing(sqs: Any) -> None:
    def crash(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("out of memory, say")

    source = make_source(sqs, crash)
    sqs.send_message(QueueUrl=source.queue_url, MessageBody="x")
    source.poll_once()
    assert source.stats.handler_errors == 1
    assert depth(sqs, source.queue_url) == (0, 1)


def test_concurrent_pollers_never_delete_a_failed_record_of_a_shared_processor(sqs: Any) -> None:
    """Handlers keep one batch processor at module level, as on Lambda; the event source must not run
    two invocations of it at once, or one invocation's failures end up in the other's response."""
    handler = poison_every_third(pause_s=0.005)
    number_of: dict[str, int] = {}  # receipt handle -> the record's n, as the handler saw it

    def seen(event: dict[str, Any], context: Any) -> Any:
        number_of.update({r["receiptHandle"]: json.loads(r["body"])["n"] for r in event["Records"]})
        return handler(event, context)

    deleted: list[int] = []
    delete_batch = sqs.delete_message_batch

    def spy(**kwargs: Any) -> Any:
        deleted.extend(number_of[entry["ReceiptHandle"]] for entry in kwargs["Entries"])
        return delete_batch(**kwargs)

    sqs.delete_message_batch = spy
    source = make_source(sqs, seen)
    source._concurrency = 4
    for n in range(1, 61):
        sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"n": n}))
    source.start()
    deadline = time.monotonic() + 20
    while source.stats.received < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    source.stop()
    # SQS delivers at least once (moto too may hand one message to two receivers at the same moment), so
    # a good record may be deleted twice; a poison record must never be deleted, and every good one must.
    assert set(deleted) == {n for n in range(1, 61) if n % 3}
    assert depth(sqs, source.queue_url) == (0, 20)


def test_a_crashed_environment_deletes_nothing_and_is_replaced_by_a_fresh_one(sqs: Any) -> None:
    # GIVEN an environment whose handler does its side effects, and a crash requested
    effects: list[str] = []
    environments: list[str] = []

    def environment() -> Any:
        environments.append(f"env-{len(environments) + 1}")

        def handler(event: dict[str, Any], context: Any) -> Any:
            effects.extend(r["body"] for r in event["Records"])
            return {"batchItemFailures": []}

        return handler

    source = make_source(sqs, environment())
    source._new_environment = environment
    sqs.send_message(QueueUrl=source.queue_url, MessageBody="m1")
    source.crash_next()

    # WHEN the next batch is handled
    source.poll_once()

    # THEN the handler ran, nothing was deleted (SQS delivers it again), and a new environment took over
    assert effects == ["m1"]
    assert depth(sqs, source.queue_url) == (0, 1)
    assert (source.crashes, environments) == (1, ["env-1", "env-2"])


def test_each_environment_loads_its_own_copy_of_the_handler_modules() -> None:
    # GIVEN two execution environments of one function in one process
    from local.functions import FUNCTIONS, fresh_import

    first, second = fresh_import("services.router.handler"), fresh_import("services.router.handler")

    # THEN their processors, metrics, loggers and wiring are not shared; their boto3 clients are
    assert first.processor is not second.processor
    assert type(first.metrics) is not type(second.metrics)
    assert first.logger._logger is not second.logger._logger
    assert first.router is not second.router
    client_of = lambda module: module.build_router.__globals__["client"]  # noqa: E731
    assert client_of(first) is client_of(second)
    assert callable(FUNCTIONS["router"].load_handler())


def test_a_batching_window_gathers_what_arrives_within_it_into_one_invocation(sqs: Any) -> None:
    # GIVEN an event source with a batching window, one message queued and three more sent meanwhile
    batches: list[int] = []
    source = make_source(
        sqs, lambda event, context: batches.append(len(event["Records"])), batching_window_s=0.3
    )
    sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"n": 1}))
    original_wait = source._stop.wait

    def window(seconds: float) -> bool:
        for n in range(2, 5):
            sqs.send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"n": n}))
        return original_wait(seconds)

    source._stop.wait = window  # type: ignore[method-assign,assignment]

    # WHEN it polls once
    handled = source.poll_once()

    # THEN the four messages went to the handler in one invocation, and were deleted
    assert handled == 4 and batches == [4]
    assert depth(sqs, source.queue_url) == (0, 0)
