"""One invocation's outgoing calls, held until every record of the batch is handled, then made in as few
batch calls as each destination takes (`SendMessageBatch`, `PublishBatch`, a jsonlines endpoint call).

Every call a photo costs is an AWS request: ten records that each send one message cost one request,
not ten. A record is acknowledged only when everything it sent went out; a record that failed sends
nothing, and a record whose message could not be sent is reported to SQS as failed, like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext


@dataclass(frozen=True)
class Failed:
    """One entry of a batch call that did not go through (the rest of the call did)."""

    error: Exception


class Destination(Protocol):
    """Anything that takes several entries in one call: one result (or `Failed`) per entry, in order."""

    @property
    def batch_limit(self) -> int: ...

    def send_batch(self, entries: Sequence[Any]) -> Sequence[Any]: ...


@dataclass
class _Pending:
    record: str | None
    destination: Destination
    entry: Any
    then: Callable[[Any], None] | None


class Outbox:
    """What the records of one invocation send. Outside an invocation an entry is sent at once."""

    def __init__(self, on_failure: Callable[[str, Exception], None] | None = None) -> None:
        self._record: str | None = None
        self._pending: list[_Pending] = []
        self._on_failure = on_failure

    def add(self, destination: Destination, entry: Any, then: Callable[[Any], None] | None = None) -> None:
        """Send `entry` with the batch; `then(result)` runs after the call, on behalf of the same record
        (what it adds goes out with the next round)."""
        if self._record is None:
            result = destination.send_batch([entry])[0]
            if isinstance(result, Failed):
                raise result.error
            if then is not None:
                then(result)
            return
        self._pending.append(_Pending(self._record, destination, entry, then))

    @contextmanager
    def for_record(self, record_id: str) -> Iterator[None]:
        previous, self._record = self._record, record_id
        try:
            yield
        finally:
            self._record = previous

    def flush(self, failed: set[str]) -> dict[str, Exception]:
        """Send what the records not in `failed` produced; the records whose entries did not go out."""
        errors: dict[str, Exception] = {}
        while self._pending:
            pending = [p for p in self._pending if p.record not in failed]
            self._pending = []
            for destination, items in _by_destination(pending):
                for start in range(0, len(items), destination.batch_limit):
                    chunk = [
                        i for i in items[start : start + destination.batch_limit] if i.record not in errors
                    ]
                    if chunk:
                        self._send(destination, chunk, errors)
            failed = failed | errors.keys()
        return errors

    def _send(self, destination: Destination, chunk: list[_Pending], errors: dict[str, Exception]) -> None:
        try:
            results: Sequence[Any] = destination.send_batch([item.entry for item in chunk])
        except Exception as error:  # the whole call failed: every record in it goes back to SQS
            results = [Failed(error)] * len(chunk)
        for item, result in zip(chunk, results, strict=True):
            record = item.record or ""
            if isinstance(result, Failed):
                errors.setdefault(record, result.error)
            elif item.then is not None:
                try:
                    with self.for_record(record):
                        item.then(result)
                except Exception as error:
                    errors.setdefault(record, error)

    def process_partial_response(
        self,
        *,
        event: dict[str, Any],
        record_handler: Callable[[SQSRecord], Any],
        processor: BatchProcessor,
        context: LambdaContext,
    ) -> PartialItemFailureResponse:
        """Powertools' `process_partial_response`, with this outbox flushed before the answer."""
        self._pending = []

        def handle(record: SQSRecord) -> Any:
            with self.for_record(record.message_id):
                return record_handler(record)

        response = process_partial_response(
            event=event, record_handler=handle, processor=processor, context=context
        )
        failures = list(response.get("batchItemFailures", []))
        for record_id, error in self.flush({str(f["itemIdentifier"]) for f in failures}).items():
            if self._on_failure is not None:
                self._on_failure(record_id, error)
            failures.append({"itemIdentifier": record_id})
        return {"batchItemFailures": failures}


def _by_destination(items: list[_Pending]) -> list[tuple[Destination, list[_Pending]]]:
    groups: dict[int, tuple[Destination, list[_Pending]]] = {}
    for item in items:
        groups.setdefault(id(item.destination), (item.destination, []))[1].append(item)
    return list(groups.values())
