"""`python -m local.motoserver`: moto's own server (`moto.server`), minus two per-request costs.

Profiled under the chain's load (py-spy, `driver-routing bench`), moto 5.2 spent a third of its time on
work that is no AWS behaviour:
- werkzeug logs every request to stderr through one locked handler (~20% of samples, mostly waiting
  on the handler's lock);
- the dispatcher lists moto's package folder (`os.listdir` + an `isdir` per service) on every request,
  under the dispatcher's global lock (~7-15%).
The first is switched off (errors are still logged); the second is memoised: the folder cannot change
while the server runs.

moto's SQS queue also costs O(depth) per call, several times over: every SendMessage computes the queue's
attributes (three scans, each asking the clock once per message), every receive scans the same way, and
every receipt handle in a DeleteMessageBatch takes two scans that rebuild each message's handle list.
With 2,000 queued that is most of moto's time. `speed_up_sqs` keeps the same answers with one clock
reading per scan and one pass per deletion, and takes the queue's lock while it rebuilds the message list
(moto's own version could drop a message appended by a concurrent send during the rebuild).
Everything else is moto's `main`, with the same arguments.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any


def quieten_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        import moto.backends as backends
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is not None and not hasattr(listing, "cache_info"):
        cached = functools.cache(lambda: tuple(listing()))
        backends.list_of_moto_modules = cached


def speed_up_sqs() -> None:
    try:
        from moto.sqs import models
        from moto.sqs.exceptions import ReceiptHandleIsInvalid
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    queue = models.Queue
    clock = getattr(models, "unix_time_millis", None)
    needed = ("_messages", "_messages_lock", "deleted_messages")
    if clock is None or not all(name in queue.__init__.__code__.co_names for name in needed):
        return  # a moto whose internals differ: leave it as it is

    def messages(self: Any) -> list[Any]:
        now = clock()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = clock()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = clock()
        return sum(1 for m in self._messages if not now > m.visible_at)

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
    queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    queue.delete_message = delete_message  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    quieten_moto()
    speed_up_sqs()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
