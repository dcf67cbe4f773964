"""moto's SQS in the local stack: the same answers at a cost that does not grow with the queue's depth
several times over, and a receive that hands a message to one receiver at a time.

moto's SQS queue also costs O(depth) per call, several times over: every SendMessage computes the queue's
attributes (three scans, each asking the clock once per message), every receive scans the same way, and
every receipt handle in a DeleteMessageBatch takes two scans that rebuild each message's handle list.
With 2,000 queued that is most of moto's time. `speed_up_sqs` keeps the same answers with one clock
reading per scan and one pass per deletion, and takes the queue's lock while it rebuilds the message list
(moto's own version could drop a message appended by a concurrent send during the rebuild). Two callers
build all the queue's attributes, the three scans included, to read one that needs none of them: the
receive, for every message it hands out (`MessageRetentionPeriod`, now read from the queue), and every
send (`ContentBasedDeduplication`; the counts are left at 0 while a send runs, on its thread only).

moto's `SQSBackend.receive_message` checks each message's visibility and later marks it received with no
lock held between the two: two receives that the server's threads run at once can both hand out the same
message (FIFO queues included), which SQS never does while the first receiver holds it. A starved host
(CPU-burning work beside the stack) widens that window enough to double a photo's decision on a
subscriber's queue. `atomic_sqs_receive` makes each receive's scan, marking and dead-letter moves one
step under the queue's own lock (the condition its long polls wait on, so a waiting receive does not
hold it).
"""

from __future__ import annotations

import threading
from typing import Any


def speed_up_sqs() -> None:
    try:
        from moto.sqs import models
        from moto.sqs.exceptions import ReceiptHandleIsInvalid
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    queue = models.Queue
    backend: Any = models.SQSBackend
    clock = getattr(models, "unix_time_millis", None)
    seconds = getattr(models, "unix_time", None)
    needed = ("_messages", "_messages_lock", "deleted_messages")
    if (
        clock is None
        or seconds is None
        or not all(name in queue.__init__.__code__.co_names for name in needed)
        or not hasattr(backend, "is_message_valid_based_on_retention_period")
    ):
        return  # a moto whose internals differ: leave it as it is
    # Sends read one queue attribute (ContentBasedDeduplication) from all of them: no counts needed.
    sending = threading.local()

    def messages(self: Any) -> list[Any]:
        now = clock()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def visible(self: Any) -> int:
        return 0 if getattr(sending, "depth", 0) else len(self.messages)

    def delayed(self: Any) -> int:
        if getattr(sending, "depth", 0):
            return 0
        now = clock()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        if getattr(sending, "depth", 0):
            return 0
        now = clock()
        return sum(1 for m in self._messages if not now > m.visible_at)

    send: Any = backend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.depth = getattr(sending, "depth", 0) + 1
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.depth -= 1

    retention_check: Any = backend.is_message_valid_based_on_retention_period

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        # moto builds every attribute of the queue (three scans of it) for this one, per message received.
        period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if period is None:
            return bool(retention_check(self, queue_name, message))
        return bool(float(period) + message.sent_timestamp / 1000 > seconds())

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: deleting again is fine
        with self._messages_lock:
            kept, found = [], []
            for message in self._messages:
                if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
                    found.append(message)
                else:
                    kept.append(message)
            if not found:
                raise ReceiptHandleIsInvalid()
            for message in found:
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
            self._messages = kept

    queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages = property(visible)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    queue.delete_message = delete_message  # type: ignore[method-assign]
    backend.send_message = send_message
    backend.is_message_valid_based_on_retention_period = retained


def atomic_sqs_receive() -> None:
    try:
        from moto.sqs.models import SQSBackend
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    receive: Any = SQSBackend.receive_message
    if getattr(receive, "atomic", False):
        return

    def atomic(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        # A re-entrant lock: moto's long poll waits on this condition, which releases it while waiting.
        with self.get_queue(queue_name)._messages_lock:
            return receive(self, queue_name, *args, **kwargs)

    atomic.atomic = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = atomic  # type: ignore[method-assign]
