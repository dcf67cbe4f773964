"""The trace of moto's messages: what it says caused a photo's second decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local.moto_trace import MessageTrace, explain, photo_key, read

KEY = "photos/d-1/a.jpg"
QUEUE = "watch.fifo"


def event(op: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"op": op, "t": t, "key": KEY, **fields}


def test_one_message_handed_to_two_receivers_is_a_receive_race() -> None:
    # GIVEN one publish, and its message received twice 3 ms apart before any delete
    events = [
        event("publish", 1.0, topic="routing.fifo", id="p1", dedup="photo-1"),
        event("receive", 1.1, queue=QUEUE, id="m1", count=1, receipt="r1"),
        event("receive", 1.103, queue=QUEUE, id="m1", count=2, receipt="r2"),
        event("delete", 1.2, queue=QUEUE, receipt="r1", ok=True),
        event("delete", 1.2, queue=QUEUE, receipt="r2", ok=True),
    ]

    # WHEN / THEN
    cause = explain(events, KEY, QUEUE)["cause"]
    assert "handed to two receivers 3.0 ms apart" in cause and "receive race" in cause


def test_two_publishes_under_two_deduplication_ids_are_the_chain_deciding_twice() -> None:
    # GIVEN two publishes of the photo that both reached the topic's subscribers
    events = [
        event("publish", 1.0, topic="routing.fifo", id="p1", dedup="photo-1"),
        event("publish", 2.0, topic="routing.fifo", id="p2", dedup="photo-1-reviewed"),
    ]

    # WHEN / THEN
    assert explain(events, KEY, QUEUE)["cause"].startswith("the chain published 2 decisions")


def test_a_message_back_after_a_failed_delete_says_so() -> None:
    # GIVEN a receive whose delete failed, and the same message received again later
    events = [
        event("publish", 1.0, topic="routing.fifo", id="p1", dedup="photo-1"),
        event("receive", 1.1, queue=QUEUE, id="m1", count=1, receipt="r1"),
        event("delete", 1.2, queue=QUEUE, receipt="r1", ok=False),
        event("receive", 31.1, queue=QUEUE, id="m1", count=2, receipt="r2"),
    ]

    # WHEN / THEN
    assert (
        explain(events, KEY, QUEUE)["cause"]
        == "message m1 came back after its delete failed (30000.0 ms later)"
    )


def test_the_trace_file_reads_back_what_was_written(tmp_path: Path) -> None:
    # GIVEN a trace with one receive of a decision
    trace = MessageTrace(tmp_path / "trace.jsonl")
    trace.write(
        "receive",
        queue=QUEUE,
        id="m1",
        key=photo_key('{"photo": {"bucket": "b", "key": "photos/d-1/a.jpg"}}'),
    )

    # WHEN / THEN
    [line] = list(read(tmp_path / "trace.jsonl"))
    assert (line["op"], line["queue"], line["id"], line["key"]) == ("receive", QUEUE, "m1", KEY)
