"""shared.batching.Outbox: one batch call per destination, and a record acknowledged only when all it
sent went out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.batching import Failed, Outbox


@dataclass
class Recorder:
    """A destination that takes up to `batch_limit` entries a call and refuses those in `refuse`."""

    batch_limit: int = 10
    refuse: set[str] = field(default_factory=set)
    calls: list[list[str]] = field(default_factory=list)
    down: Exception | None = None

    def send_batch(self, entries: Sequence[str]) -> list[Any]:
        if self.down is not None:
            raise self.down
        self.calls.append(list(entries))
        return [Failed(ValueError(e)) if e in self.refuse else f"id-{e}" for e in entries]


def test_entries_of_many_records_go_out_in_calls_of_at_most_the_limit() -> None:
    # GIVEN 12 records that each send one message to a destination taking 10 a call
    queue, outbox = Recorder(), Outbox()
    for i in range(12):
        with outbox.for_record(f"r{i}"):
            outbox.add(queue, f"m{i}")

    # WHEN the invocation ends
    failed = outbox.flush(set())

    # THEN two calls carried everything, and no record failed
    assert [len(call) for call in queue.calls] == [10, 2]
    assert failed == {}


def test_a_refused_entry_fails_its_record_only_and_a_failed_record_sends_nothing() -> None:
    # GIVEN three records: r1's message will be refused, r2's handler failed after it added a message
    queue, outbox = Recorder(refuse={"m1"}), Outbox()
    for i in range(3):
        with outbox.for_record(f"r{i}"):
            outbox.add(queue, f"m{i}")

    # WHEN the invocation ends with r2 already reported failed by the batch processor
    failed = outbox.flush({"r2"})

    # THEN r2's message was never sent, and r1 goes back to SQS
    assert queue.calls == [["m0", "m1"]]
    assert set(failed) == {"r1"}


def test_a_continuation_sends_on_behalf_of_the_same_record_in_the_next_round() -> None:
    # GIVEN a first destination (the endpoint) whose answers each produce a message (a prediction)
    endpoint, queue, outbox = Recorder(), Recorder(refuse={"then-b"}), Outbox()
    for name in ("a", "b"):
        with outbox.for_record(name):
            outbox.add(endpoint, name, then=lambda answer: outbox.add(queue, f"then-{answer[3:]}"))

    # WHEN the invocation ends
    failed = outbox.flush(set())

    # THEN one call each, and the record whose follow-up was refused failed
    assert (endpoint.calls, queue.calls) == ([["a", "b"]], [["then-a", "then-b"]])
    assert set(failed) == {"b"}


def test_a_call_that_fails_as_a_whole_fails_every_record_in_it() -> None:
    # GIVEN two records and a destination that is down
    queue, outbox = Recorder(down=ConnectionError("down")), Outbox()
    for i in range(2):
        with outbox.for_record(f"r{i}"):
            outbox.add(queue, f"m{i}")

    # WHEN / THEN
    assert set(outbox.flush(set())) == {"r0", "r1"}


def test_outside_an_invocation_an_entry_goes_at_once_and_a_refusal_raises() -> None:
    # GIVEN no record being handled
    queue, outbox = Recorder(refuse={"bad"}), Outbox()

    # WHEN an entry is added, THEN it is sent at once; a refused one raises its error
    outbox.add(queue, "good")
    assert queue.calls == [["good"]]
    with pytest.raises(ValueError):
        outbox.add(queue, "bad")
