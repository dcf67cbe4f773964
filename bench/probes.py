"""What watches the running stack: decisions on the topic, records in the capture table, and the
memory and CPU of the stack's processes."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared.contracts import CaptureRecord, RoutingDecision


class Subscription(Protocol):
    def receive(self, wait_s: int = 1) -> list[RoutingDecision]: ...


class RecordTable(Protocol):
    def approximate_count(self) -> int: ...

    def scan(self) -> Iterator[CaptureRecord]: ...


class RssSampler:
    """Sum of RSS over the stack's processes (and their children) every `interval_s`, in a thread."""

    def __init__(self, pids: Callable[[], Mapping[str, int]], interval_s: float = 0.5) -> None:
        self._pids = pids  # read at each sample: a poller the stack restarts has a new pid
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_mb = 0.0
        self.peak_by_process_mb: dict[str, float] = {}
        self.samples: list[tuple[float, float]] = []
        self.cpu_s: dict[str, float] = {}  # latest user+system CPU seconds per process (and children)

    def sample(self) -> float:
        import psutil

        total = 0.0
        for name, pid in self._pids().items():
            try:
                process = psutil.Process(pid)
                rss = process.memory_info().rss
                cpu = process.cpu_times()
                cpu_s = cpu.user + cpu.system
                for child in process.children(recursive=True):
                    rss += child.memory_info().rss
                    child_cpu = child.cpu_times()
                    cpu_s += child_cpu.user + child_cpu.system
            except psutil.Error:
                continue  # the process exited between listing and reading: the next sample sees its successor
            self.cpu_s[name] = cpu_s
            mb = rss / 2**20
            total += mb
            self.peak_by_process_mb[name] = max(self.peak_by_process_mb.get(name, 0.0), mb)
        self.samples.append((time.time(), total))
        self.peak_mb = max(self.peak_mb, total)
        return total

    def cpu_snapshot(self) -> dict[str, float]:
        self.sample()
        return dict(self.cpu_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Seen:
    count: int = 0
    first_at: float = 0.0  # wall clock, when this client received it
    decision: RoutingDecision | None = None


class DecisionCollector:
    """Threads draining a decision subscription: how many decisions per photo key, and when the first came.

    The subscription queue is a moto queue too: it is kept shallow with more than one receiver."""

    def __init__(self, subscription: Subscription, threads: int = 2, *, retry_s: float = 0.5) -> None:
        self._subscription = subscription
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.seen: dict[str, Seen] = {}
        self.errors = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"decisions-{i}", daemon=True) for i in range(threads)
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                decisions = self._subscription.receive(wait_s=1)
            except Exception:
                # A failed receive under load is counted and retried: the messages stay on the queue.
                with self._lock:
                    self.errors += 1
                self._stop.wait(self._retry_s)
                continue
            self.record(decisions, at=time.time())

    def record(self, decisions: Iterable[RoutingDecision], *, at: float) -> None:
        with self._lock:
            for decision in decisions:
                entry = self.seen.setdefault(decision.photo.key, Seen(first_at=at, decision=decision))
                entry.count += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {key: entry.count for key, entry in self.seen.items()}

    def snapshot(self) -> dict[str, Seen]:
        with self._lock:
            return dict(self.seen)

    def decided(self, keys: Iterable[str]) -> int:
        with self._lock:
            return sum(1 for k in keys if k in self.seen)

    def __enter__(self) -> DecisionCollector:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


class CaptureProbe:
    """The capture table as the benchmark reads it: a cheap count to poll (the table's item count, no
    scan), the records read once at the end of a phase."""

    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def count(self) -> int:
        return self._table.approximate_count()

    def records(self, keys: Iterable[str]) -> dict[str, CaptureRecord]:
        """Records for these photo keys (one scan); other phases' records are left out."""
        wanted = set(keys)
        return {r.photo_key: r for r in self._table.scan() if r.photo_key in wanted}


class RequestProbe:
    """The chain's AWS requests so far, by `service:Operation`: what the moto server served to the
    functions' app id, plus the calls that never reach moto (the SageMaker endpoint) as the functions'
    process counted them."""

    def __init__(self, aws_url: str, app_id: str, calls_path: Path) -> None:
        self._url = f"{aws_url}/_local/requests"
        self._app_id = app_id
        self._calls_path = calls_path

    def _rows(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self._url, timeout=10) as response:
            rows: list[dict[str, Any]] = json.loads(response.read())
        return rows

    def served(self) -> int:
        """Every request the moto server has served so far, whoever made it (the bench's uploads and
        probes too): what moto's CPU is divided by for its cost per request."""
        return sum(int(row["count"]) for row in self._rows())

    def snapshot(self) -> dict[str, int]:
        rows = self._rows()
        counts = {
            f"{row['service']}:{row['operation']}": int(row["count"])
            for row in rows
            if row["caller"] == self._app_id
        }
        try:
            calls = json.loads(self._calls_path.read_text())
        except (OSError, ValueError):
            calls = {}
        counts.update({k: int(v) for k, v in calls.items() if k.startswith("sagemaker-runtime:")})
        return counts


def difference(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] - before.get(k, 0)}
