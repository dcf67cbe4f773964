"""bench.phases: the per-photo timelines, the bounded wait, and one measured phase on a fake chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from bench.load import Sample, Uploaded, Uploader
from bench.phases import Runner, timelines
from bench.probes import CaptureProbe, DecisionCollector, RssSampler, Seen
from shared.contracts import CaptureRecord, RoutingDecision
from tests import bench_samples
from tests.bench_samples import NOW, decision

SAMPLES = [Sample("a.jpg", b"jpeg", ".jpg", "image/jpeg")]


def record(key: str, *, at: datetime = NOW) -> CaptureRecord:
    return bench_samples.record(
        key,
        uploaded_at=at,
        ingested_at=at + timedelta(milliseconds=10),
        assessed_at=at + timedelta(milliseconds=20),
        decided_at=at + timedelta(milliseconds=30),
        captured_at=at + timedelta(milliseconds=40),
    )


class Table:
    def __init__(self) -> None:
        self.records: list[CaptureRecord] = []
        self._lock = threading.Lock()

    def add(self, item: CaptureRecord) -> None:
        with self._lock:
            self.records.append(item)

    def approximate_count(self) -> int:
        with self._lock:
            return len(self.records)

    def scan(self) -> Iterator[CaptureRecord]:
        with self._lock:
            yield from list(self.records)


class NotedTable(Table):
    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    def scan(self) -> Iterator[CaptureRecord]:
        self.order.append("read")
        yield from super().scan()


class NoSubscription:
    def receive(self, wait_s: int = 1) -> list[RoutingDecision]:
        return []


class FakeChain:
    """Stands in for S3 -> ... -> topic and table: each put is decided `deliveries(n)` times and
    captured unless it is the `lose`-th put."""

    def __init__(self, collector: DecisionCollector, table: Table, *, duplicate: int, lose: int) -> None:
        self._collector, self._table = collector, table
        self._duplicate, self._lose = duplicate, lose
        self._puts = 0
        self._lock = threading.Lock()

    def put_object(self, *, Key: str, **_: Any) -> None:
        with self._lock:
            n = self._puts
            self._puts += 1
        if n == self._lose:
            return
        deliveries = 2 if n == self._duplicate else 1
        self._collector.record([decision(Key)] * deliveries, at=NOW.timestamp())
        self._table.add(record(Key))


def runner(collector: DecisionCollector, table: Table, echoed: list[str], **bounds: float) -> Runner:
    return Runner(
        collector,
        CaptureProbe(table),
        RssSampler(lambda: {}),
        supervise=lambda: None,
        echo=echoed.append,
        poll_s=0.01,
        **bounds,
    )


def test_timelines_join_uploads_records_and_decisions_by_key() -> None:
    # GIVEN one upload with its record and decision, and one with neither
    uploads = [Uploaded("k1", start=1.0, done=1.5), Uploaded("k2", start=2.0, done=2.5)]
    records = {"k1": record("k1")}
    seen = {"k1": Seen(count=1, first_at=9.0)}

    # WHEN
    rows = timelines(uploads, records, seen)

    # THEN
    assert rows[0]["upload_done"] == 1.5
    assert rows[0]["captured_at"] == NOW + timedelta(milliseconds=40)
    assert rows[0]["decision_seen"] == 9.0
    assert rows[1]["upload_start"] == 2.0
    assert all(rows[1][name] is None for name in ("uploaded_at", "captured_at", "decision_seen"))


def test_wait_returns_as_soon_as_every_photo_is_decided_and_recorded() -> None:
    # GIVEN two photos already decided and captured
    collector, table = DecisionCollector(NoSubscription()), Table()
    echoed: list[str] = []
    collector.record([decision("a"), decision("b")], at=1.0)
    table.add(record("a"))
    table.add(record("b"))

    # WHEN
    records = runner(collector, table, echoed, timeout_s=30).wait_for(
        ["a", "b"], baseline_records=0, timeout_s=30
    )

    # THEN
    assert set(records) == {"a", "b"}
    assert echoed == []


def test_the_wait_settles_before_it_reads_the_records() -> None:
    # GIVEN one photo decided and captured, and a table that notes when it is read
    order: list[str] = []
    collector, table = DecisionCollector(NoSubscription()), NotedTable(order)
    collector.record([decision("a")], at=1.0)
    table.add(record("a"))

    # WHEN it is waited for
    records = runner(collector, table, [], timeout_s=30).wait_for(
        ["a"], baseline_records=0, timeout_s=30, settled=lambda: order.append("settled")
    )

    # THEN the phase settled (its CPU and requests taken) before the bench's own read of the table
    assert set(records) == {"a"}
    assert order == ["settled", "read"]


def test_wait_gives_up_when_nothing_moves_for_the_stall_time() -> None:
    # GIVEN one photo that is never decided
    collector, table = DecisionCollector(NoSubscription()), Table()
    echoed: list[str] = []

    # WHEN the deadline is far but the stall limit short
    records = runner(collector, table, echoed, timeout_s=30, stall_s=0.05).wait_for(
        ["a"], baseline_records=0, timeout_s=30
    )

    # THEN the wait ends, says why, and returns what is there
    assert records == {}
    assert echoed == ["  no progress for 0.05 s: stopping the wait"]


def test_measure_accounts_a_lost_and_a_duplicated_photo() -> None:
    # GIVEN a chain that decides the 3rd put twice and loses the 5th
    collector, table = DecisionCollector(NoSubscription()), Table()
    echoed: list[str] = []
    table.add(record("warm/old"))  # an earlier phase's record, below the baseline
    chain = FakeChain(collector, table, duplicate=2, lose=4)

    # WHEN 6 photos are uploaded and waited for
    phase = runner(collector, table, echoed, timeout_s=0.3, stall_s=0.1).measure(
        Uploader(chain, "bucket", SAMPLES, "tput"), 6, rate_per_s=None, workers=1
    )

    # THEN
    keys = [u.key for u in phase.uploader.results]
    assert phase.count == 6
    assert phase.accounting.uploaded == 6
    assert phase.accounting.captured == 5
    assert phase.accounting.lost == 1
    assert phase.accounting.no_decision == (keys[4],)
    assert phase.accounting.duplicated == (keys[2],)
    assert "warm/old" not in phase.records
    assert phase.start <= phase.uploads_end <= phase.wait_end
    assert len(phase.timelines) == 6
