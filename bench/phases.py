"""The phases measured on the running stack: a warm-up, latency at a fixed offered rate (open loop),
and sustained throughput; each accounted per photo.

Every wait is bounded twice: by a deadline and by how long nothing may move."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.load import Sample, Uploaded, Uploader, upload
from bench.probes import CaptureProbe, DecisionCollector, RequestProbe, RssSampler, Seen, difference
from bench.stats import Accounting, account, cpu_cores, summarise_stages
from driver_routing.subscription import DecisionSubscription
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import CaptureRecord

if TYPE_CHECKING:
    from local.stack import LocalStack

Echo = Callable[[str], None]

WARM_UP_PHOTOS = 20
P99_LIMIT_MS = 1000.0  # upload -> record
STALL_S = 60.0  # nothing decided or captured for this long: the chain is stuck, stop waiting


@dataclass
class Phase:
    """One upload phase as measured: when it started, what it captured, what it cost."""

    uploader: Uploader
    count: int  # photos asked for
    start: float  # wall clock, first upload began
    uploads_end: float  # wall clock, last upload returned
    wait_end: float  # wall clock, when the wait for decisions and records ended
    records: dict[str, CaptureRecord]
    cpu: dict[str, float]
    accounting: Accounting
    timelines: list[dict[str, Any]]
    # The chain's AWS requests during the phase, by service:Operation (uploads and probes not counted).
    requests: dict[str, int]
    rate_per_s: float | None = None  # offered rate (None: as fast as the upload threads go)
    moto_requests: int = 0  # every request moto served during the phase, whoever made it


@dataclass(frozen=True)
class Chain:
    """What the stack-side phases measured, and what the stack looked like while they ran."""

    steady: Phase  # latency at the offered rate
    sweep: list[Phase]  # short runs at rising offered rates, until p99 passes 1 s
    burst: Phase  # sustained throughput
    peak_rss_mb: float
    peak_rss_by_process_mb: dict[str, float]
    decision_receive_errors: int
    poller_restarts: dict[str, int]
    stack_processes: list[str]
    subscription_queue: str = ""  # the name of the bench's own subscriber queue, as moto's trace has it


def p99_under_limit(phase: Phase) -> bool:
    """Every photo recorded, and upload -> record p99 within P99_LIMIT_MS."""
    p99 = summarise_stages(phase.timelines).get("upload_to_record", {}).get("p99")
    return phase.accounting.lost == 0 and p99 is not None and p99 <= P99_LIMIT_MS


def timelines(
    uploads: Sequence[Uploaded], records: Mapping[str, CaptureRecord], seen: Mapping[str, Seen]
) -> list[dict[str, Any]]:
    """Per upload, the client's clock and the contracts' timestamps (None where nothing came back)."""
    out = []
    for upload_ in uploads:
        record = records.get(upload_.key)
        entry = seen.get(upload_.key)
        out.append(
            {
                "upload_start": upload_.start,
                "upload_done": upload_.done,
                "uploaded_at": record.uploaded_at if record else None,
                "ingested_at": record.ingested_at if record else None,
                "assessed_at": record.assessed_at if record else None,
                "decided_at": record.decided_at if record else None,
                "captured_at": record.captured_at if record else None,
                "decision_seen": entry.first_at if entry else None,
            }
        )
    return out


class Runner:
    """Runs upload phases against one stack, through its probes."""

    def __init__(
        self,
        collector: DecisionCollector,
        capture: CaptureProbe,
        rss: RssSampler,
        requests: RequestProbe | None = None,
        *,
        supervise: Callable[[], object],
        timeout_s: float,
        echo: Echo,
        poll_s: float = 0.5,
        stall_s: float = STALL_S,
    ) -> None:
        self.collector = collector
        self.capture = capture
        self.rss = rss
        self.requests = requests
        self.supervise = supervise  # restarts a poller that died, so a wait can still finish
        self.timeout_s = timeout_s
        self.echo = echo
        self.poll_s = poll_s
        self.stall_s = stall_s

    def wait_for(
        self,
        keys: list[str],
        *,
        baseline_records: int,
        timeout_s: float,
        settled: Callable[[], object] = lambda: None,
    ) -> dict[str, CaptureRecord]:
        """Until every key has a decision and the table has as many new records, the deadline passes,
        or nothing moves for `stall_s`. Polls the table's item count, calls `settled`, then reads the
        records once (a scan of the whole table: the bench's work, not the chain's)."""
        deadline = time.monotonic() + timeout_s
        last_progress, last_state = time.monotonic(), (-1, -1)
        next_echo = time.monotonic() + 5
        while time.monotonic() < deadline:
            decided = self.collector.decided(keys)
            records = self.capture.count() - baseline_records
            if decided >= len(keys) and records >= len(keys):
                break
            if (decided, records) != last_state:
                last_state, last_progress = (decided, records), time.monotonic()
            elif time.monotonic() - last_progress > self.stall_s:
                self.echo(f"  no progress for {self.stall_s:g} s: stopping the wait")
                break
            if time.monotonic() >= next_echo:
                self.echo(f"  ... {decided}/{len(keys)} decided, {records}/{len(keys)} captured")
                next_echo += 5
            self.supervise()
            time.sleep(self.poll_s)
        settled()
        return self.capture.records(keys)

    def warm_up(self, uploader: Uploader) -> None:
        """First calls pay for connections and lazy imports in every process: not part of any figure."""
        upload(uploader, WARM_UP_PHOTOS, rate_per_s=None, workers=4)
        self.wait_for(uploader.keys(), baseline_records=0, timeout_s=120)

    def measure(self, uploader: Uploader, count: int, *, rate_per_s: float | None, workers: int) -> Phase:
        """Upload, wait for every decision and record, then account for each photo and the CPU it took."""
        baseline = self.capture.count()
        requests_before = self.requests.snapshot() if self.requests else {}
        served_before = self.requests.served() if self.requests else 0
        cpu_before, wall_before = self.rss.cpu_snapshot(), time.time()
        start = upload(uploader, count, rate_per_s=rate_per_s, workers=workers)
        uploads_end = max(u.done for u in uploader.results)
        # The phase's CPU and requests end when its last record is counted, before the bench reads them.
        end: dict[str, Any] = {}

        def settled() -> None:
            end.update(cpu=self.rss.cpu_snapshot(), at=time.time())
            end["requests"] = self.requests.snapshot() if self.requests else {}
            end["served"] = self.requests.served() if self.requests else 0

        records = self.wait_for(
            uploader.keys(), baseline_records=baseline, timeout_s=self.timeout_s, settled=settled
        )
        return Phase(
            uploader=uploader,
            count=count,
            start=start,
            uploads_end=uploads_end,
            records=records,
            wait_end=end["at"],
            cpu=cpu_cores(cpu_before, end["cpu"], end["at"] - wall_before),
            accounting=account(uploader.keys(), self.collector.counts(), records),
            timelines=timelines(uploader.results, records, self.collector.snapshot()),
            requests=difference(end["requests"], requests_before),
            rate_per_s=rate_per_s,
            moto_requests=end["served"] - served_before,
        )


def measure_chain(
    stack: LocalStack,
    samples: Sequence[Sample],
    *,
    offered_rate: float,
    latency_count: int,
    count: int,
    workers: int,
    timeout_s: float,
    echo: Echo,
    sweep_rates: Sequence[float] = (),
    sweep_s: float = 8.0,
) -> Chain:
    """Warm-up, then latency at `offered_rate`, then short runs at each of `sweep_rates` until one's p99
    passes `P99_LIMIT_MS`, then `count` photos as fast as `workers` threads go."""
    resources = stack.resources
    assert resources is not None, "the stack is started"
    region = stack.config.region
    os.environ.update(stack.client_environment())  # the clients below find the local endpoints here
    s3 = client("s3", region)
    capture = CaptureProbe(CaptureTable(client("dynamodb", region), resources.capture_table))
    from local.stack import CHAIN_APP_ID

    requests = RequestProbe(stack.aws_url, CHAIN_APP_ID, stack.call_counts)
    with (
        RssSampler(stack.process_ids) as rss,
        DecisionSubscription(client("sqs", region), client("sns", region), resources.topic_arn) as sub,
        DecisionCollector(sub) as collector,
    ):
        runner = Runner(
            collector, capture, rss, requests, supervise=stack.supervise, timeout_s=timeout_s, echo=echo
        )
        runner.warm_up(Uploader(s3, resources.bucket, samples, "warm"))

        echo(f"latency: {latency_count} photos at {offered_rate:g}/s ...")
        steady = runner.measure(
            Uploader(s3, resources.bucket, samples, "lat"),
            latency_count,
            rate_per_s=offered_rate,
            workers=max(8, int(offered_rate // 5)),  # enough threads that a slow put never delays the next
        )

        sweep = []
        for step, rate_per_s in enumerate(sweep_rates):
            echo(f"sweep: {int(rate_per_s * sweep_s)} photos at {rate_per_s:g}/s ...")
            phase = runner.measure(
                Uploader(s3, resources.bucket, samples, f"sweep{step}"),
                max(1, int(rate_per_s * sweep_s)),
                rate_per_s=rate_per_s,
                workers=max(8, int(rate_per_s // 5)),
            )
            sweep.append(phase)
            if not p99_under_limit(phase):
                break

        echo(f"throughput: {count} photos as fast as {workers} upload threads go ...")
        burst = runner.measure(
            Uploader(s3, resources.bucket, samples, "tput"), count, rate_per_s=None, workers=workers
        )
    return Chain(
        steady=steady,
        sweep=sweep,
        burst=burst,
        peak_rss_mb=rss.peak_mb,
        peak_rss_by_process_mb=dict(rss.peak_by_process_mb),
        decision_receive_errors=collector.errors,
        poller_restarts=dict(stack.restarts),
        stack_processes=sorted(stack.process_ids()),
        subscription_queue=sub.queue_url.rsplit("/", 1)[-1],
    )
