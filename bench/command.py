"""`driver-routing bench`: how fast the chain is against the model alone, and what each stage adds.

One run, on a local stack of its own (free ports, like the demo):
1. the model alone: the same images through the model package's preprocessing and onnxruntime (no AWS,
   no HTTP) - the limit the chain is measured against;
2. latency at a fixed offered rate (open loop): upload -> decision on the topic and upload -> record,
   p50/p95/p99, and the time each stage adds (from the timestamps the contracts carry);
3. sustained throughput: N photos uploaded as fast as a thread pool can, until the last record lands;
   lost (no decision or no record) and duplicated (more than one decision on the topic) per photo;
4. peak RSS of the whole stack (moto, endpoint, the four pollers), sampled every 0.5 s.

Every loop is bounded in count and in time. The pure parts (percentiles, accounting, binning) are
plain functions at the top, tested without a stack.
"""

from __future__ import annotations

import mimetypes
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bench.stats import summarise
from driver_routing.uploads import collect_photos

# Targets from issue #5, for this 2-core machine.
TARGET_CHAIN_PHOTOS_PER_S = 100.0
TARGET_P99_MS = 500.0
TARGET_PEAK_RSS_MB = 600.0

DRIVERS = 20  # photos are spread over this many driver ids, as if each driver sent a few


# --- pure parts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounting:
    uploaded: int
    decided: int
    captured: int
    no_decision: tuple[str, ...]
    no_record: tuple[str, ...]
    duplicated: tuple[str, ...]

    @property
    def lost(self) -> int:
        """Photos with no decision or no record (a photo missing both counts once)."""
        return len(set(self.no_decision) | set(self.no_record))

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "decided": self.decided,
            "captured": self.captured,
            "lost": self.lost,
            "no_decision": len(self.no_decision),
            "no_record": len(self.no_record),
            "duplicated": len(self.duplicated),
            "lost_keys": sorted(set(self.no_decision) | set(self.no_record))[:10],
            "duplicated_keys": list(self.duplicated[:10]),
        }


def account(uploaded: Iterable[str], decisions: Mapping[str, int], records: Iterable[str]) -> Accounting:
    """Per uploaded key: decisions seen on the topic (how many times) and records in the table.

    Keys outside `uploaded` (another phase's photos) are ignored."""
    keys = list(dict.fromkeys(uploaded))
    wanted = set(keys)
    captured = {k for k in records if k in wanted}
    return Accounting(
        uploaded=len(keys),
        decided=sum(1 for k in keys if decisions.get(k, 0) > 0),
        captured=len(captured),
        no_decision=tuple(k for k in keys if decisions.get(k, 0) == 0),
        no_record=tuple(k for k in keys if k not in captured),
        duplicated=tuple(k for k in keys if decisions.get(k, 0) > 1),
    )


def per_second(times: Iterable[float], start: float, *, bin_s: float = 1.0) -> list[int]:
    """How many events fell in each bin of `bin_s` seconds from `start` (events before it are dropped)."""
    counts: Counter[int] = Counter(int((t - start) // bin_s) for t in times if t >= start)
    if not counts:
        return []
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def cpu_cores(before: Mapping[str, float], after: Mapping[str, float], seconds: float) -> dict[str, float]:
    """Average cores each process used between two CPU-seconds snapshots."""
    if seconds <= 0:
        return {}
    return {name: round((after[name] - before.get(name, 0.0)) / seconds, 2) for name in sorted(after)}


def parse_concurrency(specs: Iterable[str]) -> dict[str, int]:
    """`ingest=4` pairs into {function: threads}."""
    parsed = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value.isdigit() or int(value) < 1:
            raise ValueError(f"--concurrency {spec!r}: expected FUNCTION=N with N >= 1")
        parsed[name] = int(value)
    return parsed


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _ms(later: datetime | float | None, earlier: datetime | float | None) -> float | None:
    if later is None or earlier is None:
        return None
    a = later.timestamp() if isinstance(later, datetime) else later
    b = earlier.timestamp() if isinstance(earlier, datetime) else earlier
    return (a - b) * 1000.0


def stage_durations(timeline: Mapping[str, datetime | float | None]) -> dict[str, float | None]:
    """Milliseconds each hop adds, from one photo's timestamps (datetimes from the contracts, wall-clock
    floats measured by the client)."""
    t = timeline
    return {
        "client_put": _ms(t.get("upload_done"), t.get("upload_start")),
        "s3_event_to_ingested": _ms(t.get("ingested_at"), t.get("uploaded_at")),
        "ingested_to_assessed": _ms(t.get("assessed_at"), t.get("ingested_at")),
        "assessed_to_decided": _ms(t.get("decided_at"), t.get("assessed_at")),
        "decided_to_captured": _ms(t.get("captured_at"), t.get("decided_at")),
        "decided_to_client": _ms(t.get("decision_seen"), t.get("decided_at")),
        "upload_to_decision": _ms(t.get("decision_seen"), t.get("upload_done")),
        "upload_to_record": _ms(t.get("captured_at"), t.get("upload_done")),
    }


def summarise_stages(timelines: Iterable[Mapping[str, datetime | float | None]]) -> dict[str, Any]:
    collected: dict[str, list[float]] = {}
    for timeline in timelines:
        for name, value in stage_durations(timeline).items():
            if value is not None:
                collected.setdefault(name, []).append(value)
    return {name: summarise(values) for name, values in collected.items()}


# --- photos ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    suffix: str
    content_type: str


def load_samples(sources: Sequence[Path]) -> list[Sample]:
    samples = []
    for path in collect_photos(sources):
        suffix = path.suffix.lower()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        samples.append(Sample(path.name, path.read_bytes(), suffix, content_type))
    return samples


# --- 1. the model alone ----------------------------------------------------------------------------


def bench_model(
    samples: Sequence[Sample], *, images: int, batch: int = 10, budget_s: float = 20.0
) -> dict[str, Any]:
    """Images/s through the model package alone: decode + resize + onnxruntime, batch 1 (what one
    endpoint call per photo does) and batches of `batch`; plus inference alone on pre-resized arrays."""
    import numpy as np

    from model.inference import Predictor, resolve_model_dir
    from model.preprocess import load_model_input

    predictor = Predictor(resolve_model_dir())
    side = predictor.side
    datas = [samples[i % len(samples)].data for i in range(images)]

    def timed(run: Any) -> float:
        started = time.perf_counter()
        done = run()
        return rate(done, time.perf_counter() - started)

    def one_by_one() -> int:
        deadline = time.monotonic() + budget_s
        for count, data in enumerate(datas, 1):
            predictor.predict_image(data)
            if time.monotonic() > deadline:
                return count
        return len(datas)

    def batched() -> int:
        deadline = time.monotonic() + budget_s
        done = 0
        for start in range(0, len(datas), batch):
            chunk = datas[start : start + batch]
            predictor.run(np.stack([load_model_input(d, side) for d in chunk]))
            done += len(chunk)
            if time.monotonic() > deadline:
                break
        return done

    arrays = [load_model_input(d, side) for d in datas[: min(len(datas), len(samples))]]

    def inference_only(size: int) -> Any:
        def run() -> int:
            deadline = time.monotonic() + budget_s
            done = 0
            for start in range(0, images, size):
                chunk = [arrays[(start + j) % len(arrays)] for j in range(min(size, images - start))]
                predictor.run(np.stack(chunk))
                done += len(chunk)
                if time.monotonic() > deadline:
                    break
            return done

        return run

    figures = {
        "preprocess_and_infer_batch_1": timed(one_by_one),
        f"preprocess_and_infer_batch_{batch}": timed(batched),
        "infer_only_batch_1": timed(inference_only(1)),
        f"infer_only_batch_{batch}": timed(inference_only(batch)),
    }
    return {
        "images": images,
        "model_version": predictor.version,
        "input_side": side,
        "threads": predictor.threads,
        "images_per_s": figures,
        # The limit: the model package's own per-image work (decode, resize, run), the better batching.
        "limit_images_per_s": max(
            figures["preprocess_and_infer_batch_1"], figures[f"preprocess_and_infer_batch_{batch}"]
        ),
    }


# --- the running stack: RSS, decisions, uploads ----------------------------------------------------


class RssSampler:
    """Sum of RSS over the stack's processes (and their children) every `interval_s`, in a thread."""

    def __init__(self, pids: Any, interval_s: float = 0.5) -> None:
        self._pids = pids  # a callable returning {name: pid}, read at each sample (pollers restart)
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
                continue
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

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Seen:
    count: int = 0
    first_at: float = 0.0  # wall clock, when this client received it
    decision: Any = None


class DecisionCollector:
    """Threads draining a DecisionSubscription: how many decisions per photo key, and when the first came.

    The subscription queue is a moto queue too: it is kept shallow with more than one receiver."""

    def __init__(self, subscription: Any, threads: int = 2) -> None:
        self._subscription = subscription
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
                self.errors += 1
                self._stop.wait(0.5)
                continue
            now = time.time()
            with self._lock:
                for decision in decisions:
                    entry = self.seen.setdefault(decision.photo.key, Seen(first_at=now, decision=decision))
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

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


@dataclass
class Uploaded:
    key: str
    start: float  # wall clock, when the put began
    done: float  # wall clock, when the put returned
    ok: bool = True


@dataclass
class Uploader:
    s3: Any
    bucket: str
    samples: Sequence[Sample]
    prefix: str
    results: list[Uploaded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, index: int) -> Uploaded:
        sample = self.samples[index % len(self.samples)]
        key = f"photos/{self.prefix}-{index % DRIVERS:03d}/{uuid.uuid4().hex}{sample.suffix}"
        start = time.time()
        ok = True
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=sample.data, ContentType=sample.content_type)
        except Exception:
            ok = False
        result = Uploaded(key, start, time.time(), ok)
        with self._lock:
            self.results.append(result)
        return result

    def keys(self) -> list[str]:
        with self._lock:
            return [u.key for u in self.results if u.ok]


# --- the stack-side phases -------------------------------------------------------------------------


@dataclass
class Phase:
    """One upload phase as measured: when it started, what it captured, what it cost."""

    uploader: Uploader
    start: float  # wall clock, first upload began
    uploads_end: float  # wall clock, last upload returned
    records: dict[str, Any]
    cpu: dict[str, float]
    accounting: Accounting
    timelines: list[dict[str, Any]]


class Bench:
    def __init__(
        self, stack: Any, collector: DecisionCollector, table: Any, s3: Any, bucket: str, timeout_s: float
    ) -> None:
        self.stack = stack
        self.timeout_s = timeout_s
        self.collector = collector
        self.table = table
        self.s3 = s3
        self.bucket = bucket

    def captured(self, keys: set[str]) -> dict[str, Any]:
        """Records in the capture table for these keys (one scan)."""
        return {r.photo_key: r for r in self.table.scan() if r.photo_key in keys}

    def wait_for(
        self, keys: list[str], *, baseline_records: int, timeout_s: float, stall_s: float, echo: Any
    ) -> dict[str, Any]:
        """Until every key has a decision and the table has as many new records, the deadline passes,
        or nothing moves for `stall_s`. Polls a cheap COUNT scan, then reads the records once."""
        deadline = time.monotonic() + timeout_s
        last_progress, last_state = time.monotonic(), (-1, -1)
        next_echo = time.monotonic() + 5
        while time.monotonic() < deadline:
            decided = self.collector.decided(keys)
            records = self.table.count() - baseline_records
            if decided >= len(keys) and records >= len(keys):
                break
            if (decided, records) != last_state:
                last_state, last_progress = (decided, records), time.monotonic()
            elif time.monotonic() - last_progress > stall_s:
                echo(f"  no progress for {stall_s:.0f} s: stopping the wait")
                break
            if time.monotonic() >= next_echo:
                echo(f"  ... {decided}/{len(keys)} decided, {records}/{len(keys)} captured")
                next_echo += 5
            self.stack.supervise()
            time.sleep(1.0)  # the COUNT scan is work for moto too: poll gently
        return self.captured(set(keys))

    def run_phase(self, uploader: Uploader, count: int, *, rate_per_s: float | None, workers: int) -> float:
        """Upload `count` photos: at `rate_per_s` (open loop: photo i is due at i / rate) or as fast as the
        pool goes. Returns the wall-clock start."""
        started = time.time()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            if rate_per_s is None:
                list(pool.map(uploader.put, range(count)))
            else:
                t0 = time.monotonic()
                futures = []
                for index in range(count):
                    delay = t0 + index / rate_per_s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(uploader.put, index))
                for future in futures:
                    future.result()
        return started

    def measure(
        self, uploader: Uploader, count: int, *, rate_per_s: float | None, workers: int, rss: Any, echo: Any
    ) -> Phase:
        """Upload, wait for every decision and record, then account for each photo and the CPU it took."""
        baseline = self.table.count()
        cpu_before, wall_before = rss.cpu_snapshot(), time.time()
        start = self.run_phase(uploader, count, rate_per_s=rate_per_s, workers=workers)
        uploads_end = max(u.done for u in uploader.results)
        records = self.wait_for(
            uploader.keys(), baseline_records=baseline, timeout_s=self.timeout_s, stall_s=60, echo=echo
        )
        return Phase(
            uploader=uploader,
            start=start,
            uploads_end=uploads_end,
            records=records,
            cpu=cpu_cores(cpu_before, rss.cpu_snapshot(), time.time() - wall_before),
            accounting=account(uploader.keys(), self.collector.counts(), records),
            timelines=self.timelines(uploader.results, records),
        )

    def timelines(self, uploads: Sequence[Uploaded], records: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        seen = self.collector.snapshot()
        for upload in uploads:
            record = records.get(upload.key)
            entry = seen.get(upload.key)
            out.append(
                {
                    "upload_start": upload.start,
                    "upload_done": upload.done,
                    "uploaded_at": record.uploaded_at if record else None,
                    "ingested_at": record.ingested_at if record else None,
                    "assessed_at": record.assessed_at if record else None,
                    "decided_at": record.decided_at if record else None,
                    "captured_at": record.captured_at if record else None,
                    "decision_seen": entry.first_at if entry else None,
                }
            )
        return out


# --- the report ------------------------------------------------------------------------------------


def targets(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    p99 = result["latency_ms"].get("p99")
    return {
        "chain_photos_per_s": {
            "target": f">= {TARGET_CHAIN_PHOTOS_PER_S:g}",
            "value": result["chain_photos_per_s"],
            "met": result["chain_photos_per_s"] >= TARGET_CHAIN_PHOTOS_PER_S,
        },
        "lost_and_duplicated": {
            "target": "0 / 0",
            "value": f"{result['lost']} / {result['duplicated']}",
            "met": result["lost"] == 0 and result["duplicated"] == 0,
        },
        "p99_upload_to_record_ms": {
            "target": f"<= {TARGET_P99_MS:g} at {result['latency']['offered_rate']:g}/s",
            "value": p99,
            "met": p99 is not None and p99 <= TARGET_P99_MS,
        },
        "peak_rss_mb": {
            "target": f"<= {TARGET_PEAK_RSS_MB:g}",
            "value": result["peak_rss_mb"],
            "met": result["peak_rss_mb"] <= TARGET_PEAK_RSS_MB,
        },
    }


def render_table(result: Mapping[str, Any]) -> list[str]:
    lines = [
        "",
        f"model alone      {result['model_images_per_s']:>8.1f} images/s   {result['model']['images_per_s']}",
        f"chain            {result['chain_photos_per_s']:>8.1f} photos/s   ({result['throughput']['photos']} "
        f"photos in {result['throughput']['seconds']:.1f} s; uploads at "
        f"{result['throughput']['upload_photos_per_s']:.0f}/s)",
        f"ratio            {result['ratio']:>8.3f}",
        f"concurrency      {result['concurrency']}; load average {result['load_average']}",
        f"lost/duplicated  {result['lost']:>4} / {result['duplicated']}",
        f"peak RSS         {result['peak_rss_mb']:>8.1f} MB   {result['peak_rss_by_process_mb']}",
        f"CPU cores, latency run     {result['latency']['cpu_cores_by_process']}",
        f"CPU cores, throughput run  {result['throughput']['cpu_cores_by_process']}",
        "",
        f"latency at {result['latency']['offered_rate']:g} photos/s offered "
        f"({result['latency']['achieved_rate']:g}/s achieved, {result['latency']['photos']} photos), ms:",
        f"  {'stage':<24} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'count':>6}",
    ]
    for name, row in result["stages_ms"].items():
        if row["count"]:
            lines.append(
                f"  {name:<24} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['p99']:>8.1f} "
                f"{row['max']:>8.1f} {row['count']:>6}"
            )
    tput_stages = result["throughput"]["stages_ms"]
    lines += ["", "under the throughput run (saturated), ms:"]
    for name in (
        "s3_event_to_ingested",
        "ingested_to_assessed",
        "assessed_to_decided",
        "decided_to_captured",
    ):
        row = tput_stages.get(name)
        if row and row["count"]:
            lines.append(
                f"  {name:<24} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f}"
            )
    lines += ["", "targets:"]
    for name, row in result["targets"].items():
        lines.append(
            f"  {name:<26} {row['target']:<22} {row['value']!s:<14} {'met' if row['met'] else 'NOT MET'}"
        )
    return lines


def plot(result: Mapping[str, Any], latencies: Mapping[str, list[float]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, values in latencies.items():
        if values:
            ordered = sorted(values)
            left.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=name)
    left.axvline(TARGET_P99_MS, color="grey", linestyle="--", linewidth=1, label=f"{TARGET_P99_MS:g} ms")
    left.set_xlabel("ms")
    left.set_ylabel("fraction of photos")
    left.set_title(f"latency at {result['latency']['offered_rate']:g} photos/s offered")
    left.legend()
    series = result["throughput"]["per_second"]
    for name in ("uploaded", "captured"):
        right.plot(range(len(series[name])), series[name], label=name)
    right.axhline(TARGET_CHAIN_PHOTOS_PER_S, color="grey", linestyle="--", linewidth=1)
    right.set_xlabel("s since the first upload")
    right.set_ylabel("photos per second")
    right.set_title(f"throughput, {result['throughput']['photos']} photos")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


# --- the command -----------------------------------------------------------------------------------


@click.command()
@click.option("--photos", "count", default=2000, show_default=True, help="Photos in the throughput run.")
@click.option("--rate", "offered_rate", default=50.0, show_default=True, help="Photos/s in the latency run.")
@click.option("--duration", default=20.0, show_default=True, help="Seconds of the latency run.")
@click.option("--data", "data_dir", type=click.Path(exists=True, path_type=Path), help="Folder of photos.")
@click.option("--model-images", default=400, show_default=True, help="Images in the model-alone run.")
@click.option("--workers", default=8, show_default=True, help="Upload threads in the throughput run.")
@click.option("--timeout", default=300.0, show_default=True, help="Most seconds to wait for a run to drain.")
@click.option(
    "--concurrency",
    "concurrency_specs",
    multiple=True,
    metavar="FUNCTION=N",
    help="Execution environments (poller processes) of one function (default: the stack's). Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG.")
def bench(
    count: int,
    offered_rate: float,
    duration: float,
    data_dir: Path | None,
    model_images: int,
    workers: int,
    timeout: float,
    concurrency_specs: tuple[str, ...],
    as_json: bool,
    plot_path: Path | None,
) -> None:
    """Benchmark the chain on the local stack: the model alone, latency at a fixed rate, sustained
    throughput, lost and duplicated photos, and the stack's peak memory."""
    from driver_routing.output import emit_json
    from driver_routing.subscription import DecisionSubscription
    from local.demo import data_root, default_samples
    from local.processes import free_port
    from local.stack import LocalStack, StackConfig
    from shared.aws.capture_table import CaptureTable
    from shared.aws.clients import client

    if count < 1 or offered_rate <= 0 or duration <= 0:
        raise click.UsageError("--photos, --rate and --duration must be positive")
    sources = [data_dir] if data_dir else default_samples()
    if not sources:
        raise click.UsageError(f"no --data given and no sample data under {data_root()}")
    samples = load_samples(sources)
    if not samples:
        raise click.UsageError(f"no JPEG or PNG photos under {[str(s) for s in sources]}")

    def echo(message: str) -> None:
        click.echo(message)

    echo(f"{len(samples)} distinct photos; the model alone on {model_images} images ...")
    model = bench_model(samples, images=model_images)
    echo(f"  {model['images_per_s']}")

    config = StackConfig(
        aws_port=free_port(), endpoint_port=free_port(), state_dir=Path(".driver-routing/bench")
    )
    try:
        config.concurrency = {**config.concurrency, **parse_concurrency(concurrency_specs)}
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    load_before = os.getloadavg()
    echo(f"starting the local stack (moto :{config.aws_port}, endpoint :{config.endpoint_port}) ...")
    started = time.monotonic()
    latency_count = max(1, int(offered_rate * duration))
    with LocalStack(config) as stack:
        resources = stack.resources
        assert resources is not None
        os.environ.update(stack.client_environment())
        region = config.region
        echo(f"stack ready in {time.monotonic() - started:.1f} s")
        s3 = client("s3", region)
        table = CaptureTable(client("dynamodb", region), resources.capture_table)
        with (
            RssSampler(stack.process_ids) as rss,
            DecisionSubscription(client("sqs", region), client("sns", region), resources.topic_arn) as sub,
            DecisionCollector(sub) as collector,
        ):
            runner = Bench(stack, collector, table, s3, resources.bucket, timeout)

            # Warm-up: first calls pay for connections and lazy imports in every process.
            warm = Uploader(s3, resources.bucket, samples, "warm")
            runner.run_phase(warm, 20, rate_per_s=None, workers=4)
            runner.wait_for(warm.keys(), baseline_records=0, timeout_s=120, stall_s=60, echo=echo)

            # Latency at a fixed offered rate (open loop).
            echo(f"latency: {latency_count} photos at {offered_rate:g}/s ...")
            steady = runner.measure(
                Uploader(s3, resources.bucket, samples, "lat"),
                latency_count,
                rate_per_s=offered_rate,
                workers=max(8, int(offered_rate // 5)),
                rss=rss,
                echo=echo,
            )

            # Sustained throughput: as fast as the upload pool goes.
            echo(f"throughput: {count} photos as fast as {workers} upload threads go ...")
            burst = runner.measure(
                Uploader(s3, resources.bucket, samples, "tput"),
                count,
                rate_per_s=None,
                workers=workers,
                rss=rss,
                echo=echo,
            )
        restarts = dict(stack.restarts)
        pids = stack.process_ids()

    captured_times = [r.captured_at.timestamp() for r in burst.records.values()]
    tput_end = max(captured_times) if captured_times else time.time()
    tput_seconds = tput_end - burst.start
    chain_rate = rate(burst.accounting.captured, tput_seconds)
    lat_stages = summarise_stages(steady.timelines)
    latency = {
        name: [v for t in steady.timelines if (v := stage_durations(t)[name]) is not None]
        for name in ("upload_to_decision", "upload_to_record")
    }
    result: dict[str, Any] = {
        "model_images_per_s": model["limit_images_per_s"],
        "chain_photos_per_s": chain_rate,
        "ratio": round(chain_rate / model["limit_images_per_s"], 3) if model["limit_images_per_s"] else None,
        "latency_ms": {
            k: lat_stages.get("upload_to_record", summarise([]))[k] for k in ("p50", "p95", "p99")
        },
        "decision_latency_ms": {
            k: lat_stages.get("upload_to_decision", summarise([]))[k] for k in ("p50", "p95", "p99")
        },
        "lost": burst.accounting.lost + steady.accounting.lost,
        "duplicated": len(burst.accounting.duplicated) + len(steady.accounting.duplicated),
        "peak_rss_mb": round(rss.peak_mb, 1),
        "peak_rss_by_process_mb": {k: round(v, 1) for k, v in sorted(rss.peak_by_process_mb.items())},
        "stages_ms": lat_stages,
        "model": model,
        "latency": {
            "offered_rate": offered_rate,
            "photos": latency_count,
            "achieved_rate": rate(len(steady.uploader.results), steady.uploads_end - steady.start),
            "cpu_cores_by_process": steady.cpu,
            **steady.accounting.as_dict(),
        },
        "throughput": {
            "photos": count,
            "seconds": round(tput_seconds, 2),
            "upload_seconds": round(burst.uploads_end - burst.start, 2),
            "upload_photos_per_s": rate(len(burst.uploader.results), burst.uploads_end - burst.start),
            "cpu_cores_by_process": burst.cpu,
            "stages_ms": summarise_stages(burst.timelines),
            "per_second": {
                "uploaded": per_second((u.done for u in burst.uploader.results), burst.start),
                "captured": per_second(captured_times, burst.start),
            },
            **burst.accounting.as_dict(),
        },
        "upload_errors": sum(1 for u in [*steady.uploader.results, *burst.uploader.results] if not u.ok),
        "decision_receive_errors": collector.errors,
        "poller_restarts": restarts,
        "stack_processes": sorted(pids),
        "cpu_count": os.cpu_count(),
        "concurrency": dict(config.concurrency),
        # The machine's 1-minute load average at the start and the end: other work skews every figure.
        "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    result["targets"] = targets(result)
    for line in render_table(result):
        echo(line)
    if plot_path is not None:
        if plot(result, latency, plot_path):
            echo(f"plot: {plot_path}")
        else:
            echo("matplotlib is not installed (the `bench` extra): no plot")
    if as_json:
        emit_json(result)
