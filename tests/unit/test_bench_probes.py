"""bench.probes: decisions counted per photo, capture records per key, the stack's memory and CPU."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from bench.probes import CaptureProbe, DecisionCollector, RssSampler
from shared.contracts import CaptureRecord, RoutingDecision
from tests.bench_samples import decision, record


class ScriptedSubscription:
    """Answers each receive with the next batch (or raises it, when it is an exception), then nothing."""

    def __init__(self, batches: list[list[RoutingDecision] | Exception]) -> None:
        self._batches = batches
        self._lock = threading.Lock()
        self.drained = threading.Event()

    def receive(self, wait_s: int = 1) -> list[RoutingDecision]:
        with self._lock:
            if not self._batches:
                self.drained.set()
                return []
            batch = self._batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return batch


class FakeTable:
    def __init__(self, records: list[CaptureRecord]) -> None:
        self._records = records
        self.scans = 0

    def approximate_count(self) -> int:
        return len(self._records)

    def scan(self) -> Iterator[CaptureRecord]:
        self.scans += 1
        yield from self._records


def test_collector_counts_every_delivery_and_keeps_the_first_arrival() -> None:
    # GIVEN a collector (no threads started)
    collector = DecisionCollector(ScriptedSubscription([]))

    # WHEN photo a is delivered at t=1 and again at t=2, photo b once at t=2
    collector.record([decision("a")], at=1.0)
    collector.record([decision("a"), decision("b")], at=2.0)

    # THEN a counts twice (a duplicate on the topic) with its first arrival, and decided() counts keys
    assert collector.counts() == {"a": 2, "b": 1}
    assert collector.snapshot()["a"].first_at == 1.0
    assert collector.decided(["a", "b", "never"]) == 2


def test_collector_threads_survive_a_failed_receive_and_count_it() -> None:
    # GIVEN a subscription whose first receive fails, then delivers two decisions
    subscription = ScriptedSubscription([RuntimeError("queue busy"), [decision("a"), decision("b")]])

    # WHEN one receiving thread drains it
    with DecisionCollector(subscription, threads=1, retry_s=0.01) as collector:
        assert subscription.drained.wait(timeout=5)

    # THEN the error is counted and the decisions after it are still seen
    assert collector.errors == 1
    assert collector.counts() == {"a": 1, "b": 1}


def test_capture_probe_reads_only_the_phase_keys_in_one_scan() -> None:
    # GIVEN a table holding this phase's record and another phase's
    table = FakeTable([record("lat/a"), record("warm/z")])
    probe = CaptureProbe(table)

    # WHEN
    records = probe.records(["lat/a", "lat/b"])

    # THEN
    assert probe.count() == 2
    assert list(records) == ["lat/a"]
    assert table.scans == 1


def test_rss_sampler_sums_live_processes_and_skips_gone_ones() -> None:
    pytest.importorskip("psutil")
    # GIVEN this process and a pid that no longer exists
    pids = {"self": os.getpid(), "gone": 2**22 + 12345}

    # WHEN it samples once
    sampler = RssSampler(lambda: pids)
    total = sampler.sample()

    # THEN only this process is counted, and its CPU seconds are known
    assert total > 0
    assert sampler.peak_mb == total
    assert set(sampler.peak_by_process_mb) == {"self"}
    assert sampler.cpu_snapshot()["self"] > 0


def test_rss_sampler_keeps_sampling_in_its_thread_until_closed() -> None:
    pytest.importorskip("psutil")
    # GIVEN a sampler every 10 ms
    with RssSampler(lambda: {"self": os.getpid()}, interval_s=0.01) as sampler:
        # WHEN the test waits (at most 10 s: a loaded host may not run the thread for a while)
        deadline = time.monotonic() + 10
        while len(sampler.samples) < 3 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
    taken = len(sampler.samples)

    # THEN it went on sampling after the one at the start, and stopped at exit
    assert taken >= 3
    threading.Event().wait(0.05)
    assert len(sampler.samples) == taken
