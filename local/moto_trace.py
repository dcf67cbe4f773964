"""An opt-in trace of every message moto's SQS and SNS handle, and what it says about a duplicate.

`local.motoserver` installs it when `DRIVER_ROUTING_MOTO_TRACE` names a file: one JSON line per SQS
send, receive and delete and per SNS publish that got past the topic's deduplication, each with the
queue or topic, the SQS message id, the deduplication id, the photo key found in the body and, for
receives and deletes, a digest of the receipt handle. `explain` reads the file back and says, for one
photo seen twice by a subscriber, whether the chain published twice or the subscriber's queue handed
one message out twice, and how.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

TRACE_ENV = "DRIVER_ROUTING_MOTO_TRACE"
_KEY = re.compile(r'"key"\s*:\s*"([^"]+)"')


def photo_key(body: str) -> str:
    match = _KEY.search(body)
    return match.group(1) if match else ""


def receipt(handle: str | None) -> str:
    return hashlib.sha1((handle or "").encode(), usedforsecurity=False).hexdigest()[:12]


class MessageTrace:
    """JSON lines, one per event, written as they happen (line-buffered: a killed server loses none)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, op: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 4), "op": op, **fields, "thread": threading.get_ident()})
        with self._lock:
            self._file.write(line + "\n")


def trace_messaging(trace: MessageTrace) -> None:
    """Wrap moto's SQS send, receive and delete and the SNS topic's delivery to its subscribers.

    Install it before `atomic_sqs_receive` (so a receive is written under the queue's lock, in the
    order the queue saw) and before `deduplicate_fifo_topics` (so only publishes that got through it
    are written)."""
    from moto.sns.models import Topic
    from moto.sqs.models import SQSBackend

    send: Any = SQSBackend.send_message
    receive: Any = SQSBackend.receive_message
    delete: Any = SQSBackend.delete_message
    publish: Any = Topic.publish

    def traced_send(self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
        message = send(self, queue_name, message_body, *args, **kwargs)
        trace.write(
            "send",
            queue=queue_name,
            id=message.id,
            dedup=message.deduplication_id,
            group=message.group_id,
            key=photo_key(message_body),
        )
        return message

    def traced_receive(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        messages = receive(self, queue_name, *args, **kwargs)
        for message in messages:
            trace.write(
                "receive",
                queue=queue_name,
                id=message.id,
                dedup=message.deduplication_id,
                count=message.approximate_receive_count,
                receipt=receipt(message.receipt_handle),
                key=photo_key(message.body),
            )
        return messages

    def traced_delete(self: Any, queue_name: str, receipt_handle: str) -> None:
        try:
            delete(self, queue_name, receipt_handle)
        except Exception as error:
            trace.write(
                "delete",
                queue=queue_name,
                receipt=receipt(receipt_handle),
                ok=False,
                error=type(error).__name__,
            )
            raise
        trace.write("delete", queue=queue_name, receipt=receipt(receipt_handle), ok=True)

    def traced_publish(self: Any, message: str, *args: Any, **kwargs: Any) -> str:
        message_id = str(publish(self, message, *args, **kwargs))
        trace.write(
            "publish",
            topic=self.name,
            id=message_id,
            dedup=kwargs.get("deduplication_id"),
            group=kwargs.get("group_id"),
            key=photo_key(message),
        )
        return message_id

    SQSBackend.send_message = traced_send  # type: ignore[method-assign]
    SQSBackend.receive_message = traced_receive  # type: ignore[method-assign]
    SQSBackend.delete_message = traced_delete  # type: ignore[method-assign]
    Topic.publish = traced_publish  # type: ignore[method-assign]


def read(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def explain(events: Iterable[dict[str, Any]], key: str, queue: str) -> dict[str, Any]:
    """Why the subscriber's `queue` gave two decisions for the photo `key`: the publishes of the photo
    that reached the topic's subscribers, and every receive and delete of its messages on that queue."""
    events = list(events)
    published = [e for e in events if e["op"] == "publish" and e.get("key") == key]
    received = [e for e in events if e["op"] == "receive" and e["queue"] == queue and e.get("key") == key]
    receipts = {e["receipt"] for e in received}
    deletes = [e for e in events if e["op"] == "delete" and e["queue"] == queue and e["receipt"] in receipts]
    by_message: dict[str, list[dict[str, Any]]] = {}
    for event in received:
        by_message.setdefault(event["id"], []).append(event)
    cause = "no second decision in the trace"
    if len(published) > 1:
        dedup_ids = sorted({str(e.get("dedup")) for e in published})
        cause = (
            f"the topic delivered {len(published)} publishes with one deduplication id"
            if len(dedup_ids) == 1
            else f"the chain published {len(published)} decisions, deduplication ids {dedup_ids}"
        )
    elif len(by_message) > 1:
        cause = f"one publish became {len(by_message)} messages on the subscriber's queue"
    else:
        for message_id, receives in by_message.items():
            if len(receives) < 2:
                continue
            first, second = receives[0], receives[1]
            deleted_before = [
                d for d in deletes if d["receipt"] == first["receipt"] and d["ok"] and d["t"] <= second["t"]
            ]
            failed = [d for d in deletes if d["receipt"] == first["receipt"] and not d["ok"]]
            gap_ms = round((second["t"] - first["t"]) * 1000, 1)
            if failed:
                cause = f"message {message_id} came back after its delete failed ({gap_ms} ms later)"
            elif deleted_before:
                cause = f"message {message_id} was handed out again after its delete ({gap_ms} ms later)"
            else:
                cause = (
                    f"message {message_id} was handed to two receivers {gap_ms} ms apart, the first still "
                    f"holding it (receive counts {first['count']} and {second['count']}): a receive race"
                )
    return {
        "key": key,
        "cause": cause,
        "publishes": published,
        "receives": received,
        "deletes": deletes,
    }
