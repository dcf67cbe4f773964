"""Concurrent receivers on one queue of a real threaded moto server: each message goes to one of them.

The race in moto's `receive_message` (a visibility check, then the mark, nothing held between) shows on a
starved host, a few times in hundreds of messages. Here each visibility check yields the CPU for a
millisecond, as a preempted server thread would, so that an unguarded receive loses the race every run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from moto.sqs import models

from local.moto_sqs import atomic_sqs_receive, speed_up_sqs
from local.processes import HOST, free_port

MESSAGES = 120
RECEIVERS = 4
DEADLINE_S = 60.0
QUEUE_PATCHES = (
    "messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
    "delete_message",
)


def preempted_visibility() -> Any:
    """moto's `Message.visible`, yielding the CPU to the other server threads after the check."""
    original = vars(models.Message)["visible"]

    def visible(self: Any) -> bool:
        answer = bool(original.fget(self))
        if answer:
            time.sleep(0.001)
        return answer

    return property(visible)


@pytest.fixture
def moto_server() -> Iterator[str]:
    originals = {
        "visible": vars(models.Message)["visible"],
        "receive": models.SQSBackend.receive_message,
        **{name: vars(models.Queue)[name] for name in QUEUE_PATCHES},
    }
    models.Message.visible = preempted_visibility()  # type: ignore[method-assign]
    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.stop()
        models.Message.visible = originals["visible"]  # type: ignore[method-assign]
        models.SQSBackend.receive_message = originals["receive"]  # type: ignore[method-assign]
        for name in QUEUE_PATCHES:
            setattr(models.Queue, name, originals[name])


def receive_concurrently(url: str, *, fifo: bool) -> Counter[str]:
    """RECEIVERS threads receive ten at a time and delete at once, until the queue is drained; how
    often each message body was handed out."""
    sqs: Any = boto3.client(
        "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    name = f"receivers-{time.monotonic_ns()}" + (".fifo" if fifo else "")
    attributes = {"VisibilityTimeout": "60", **({"FifoQueue": "true"} if fifo else {})}
    queue = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    for start in range(0, MESSAGES, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        if fifo:  # one group per message: FIFO ordering holds nothing back
            for entry in entries:
                entry |= {
                    "MessageGroupId": entry["MessageBody"],
                    "MessageDeduplicationId": entry["MessageBody"],
                }
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    handed_out: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE_S

    def receiver() -> None:
        while time.monotonic() < deadline:
            with lock:
                if len(handed_out) >= MESSAGES:
                    return
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
            with lock:
                handed_out.update(m["Body"] for m in messages)

    threads = [threading.Thread(target=receiver) for _ in range(RECEIVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sqs.delete_queue(QueueUrl=queue)
    return handed_out


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_each_message_goes_to_one_receiver(moto_server: str, fifo: bool) -> None:
    # GIVEN the local stack's moto: its SQS speed-ups and the atomic receive
    speed_up_sqs()
    atomic_sqs_receive()

    # WHEN four receivers drain a queue of 120 messages, deleting what they get at once
    handed_out = receive_concurrently(moto_server, fifo=fifo)

    # THEN every message was handed out, and none twice within its visibility timeout
    assert len(handed_out) == MESSAGES
    assert [body for body, n in handed_out.items() if n > 1] == []


def test_plain_moto_hands_a_message_to_two_receivers(moto_server: str) -> None:
    # GIVEN moto as it ships (with only the speed-ups), on a server whose threads get preempted
    speed_up_sqs()

    # WHEN four receivers drain a queue of 120 messages
    handed_out = receive_concurrently(moto_server, fifo=True)

    # THEN some message reached two receivers: the race the atomic receive closes
    assert len(handed_out) == MESSAGES
    assert any(n > 1 for n in handed_out.values())
