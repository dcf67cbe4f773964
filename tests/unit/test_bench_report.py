"""bench.report: the JSON result of a known run, its targets, the table printed from it, the plot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.load import Sample, Uploaded, Uploader
from bench.phases import Chain, Phase, timelines
from bench.probes import Seen
from bench.report import build_result, latency_curves, plot, render_table
from bench.stats import account
from shared.contracts import CaptureRecord
from tests import bench_samples

SAMPLES = [Sample("a.jpg", b"jpeg", ".jpg", "image/jpeg")]
MODEL = {"limit_images_per_s": 40.0, "images_per_s": {"preprocess_and_infer_batch_1": 40.0}}

ACCOUNTING_KEYS = {
    "uploaded",
    "decided",
    "captured",
    "lost",
    "no_decision",
    "no_record",
    "duplicated",
    "lost_keys",
    "duplicated_keys",
}


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def record(key: str, captured: float) -> CaptureRecord:
    return bench_samples.record(
        key, uploaded_at=at(captured - 0.05), decided_at=at(captured - 0.01), captured_at=at(captured)
    )


def phase(
    prefix: str,
    uploads: list[tuple[float, float]],
    captured: list[float],
    decisions: dict[int, int],
    *,
    requests: dict[str, int] | None = None,
    rate: float | None = None,
    moto_requests: int = 0,
) -> Phase:
    """A phase whose i-th photo was put over uploads[i], captured at captured[i] and decided
    decisions.get(i, 1) times."""
    uploader = Uploader(None, "bucket", SAMPLES, prefix)
    uploader.results = [Uploaded(f"{prefix}/{i}", start, done) for i, (start, done) in enumerate(uploads)]
    keys = uploader.keys()
    records = {key: record(key, t) for key, t in zip(keys, captured, strict=True)}
    counts = {key: decisions.get(i, 1) for i, key in enumerate(keys)}
    seen = {key: Seen(count=counts[key], first_at=records[key].decided_at.timestamp()) for key in keys}
    return Phase(
        uploader=uploader,
        count=len(uploads),
        start=uploads[0][0],
        uploads_end=max(done for _, done in uploads),
        records=records,
        wait_end=max(captured) + 1.0,
        cpu={"moto": 0.5},
        accounting=account(keys, counts, records),
        timelines=timelines(uploader.results, records, seen),
        requests=requests or {},
        rate_per_s=rate,
        moto_requests=moto_requests,
    )


def known_chain() -> Chain:
    # Latency run: 2 photos, 200 ms and 400 ms from upload to record, uploads over 0.5 s.
    steady = phase("lat", [(900.0, 900.1), (900.3, 900.5)], [900.3, 900.9], {}, rate=4.0)
    # Sweep: at 8/s both photos within 1 s; at 16/s one photo takes 1.5 s, so the sweep stopped there.
    sweep = [
        phase("s0", [(950.0, 950.1), (950.1, 950.2)], [950.5, 950.6], {}, rate=8.0),
        phase("s1", [(960.0, 960.1), (960.1, 960.2)], [960.5, 961.7], {}, rate=16.0),
    ]
    # Throughput run: 4 photos put within 0.4 s, the last record 2 s after the start; photo 1 decided twice.
    burst = phase(
        "tput",
        [(1000.0, 1000.1), (1000.0, 1000.2), (1000.1, 1000.3), (1000.1, 1000.4)],
        [1000.5, 1001.0, 1001.5, 1002.0],
        {1: 2},
        requests={"s3:GetObject": 4, "sqs:ReceiveMessage": 18},
        moto_requests=30,
    )
    return Chain(
        steady=steady,
        sweep=sweep,
        burst=burst,
        peak_rss_mb=250.04,
        peak_rss_by_process_mb={"moto": 150.04, "endpoint": 100.0},
        decision_receive_errors=0,
        poller_restarts={"ingest": 0},
        stack_processes=["endpoint", "moto"],
    )


def known_result() -> dict[str, Any]:
    return build_result(
        MODEL, known_chain(), offered_rate=4.0, concurrency={"ingest": 2}, load_average=(0.5, 1.25)
    )


def test_result_has_the_json_keys_scripts_read() -> None:
    # GIVEN / WHEN
    result = known_result()

    # THEN the top level, the latency and the throughput keys are the ones `--json` has always printed
    assert set(result) == {
        "model_images_per_s",
        "chain_photos_per_s",
        "ratio",
        "requests_per_photo",
        "requests_per_photo_by_operation",
        "requests_per_photo_at_rate",
        "cpu_ms_per_photo",
        "cpu_ms_per_photo_at_rate",
        "max_rate_p99_under_1s",
        "sweep",
        "latency_ms",
        "decision_latency_ms",
        "lost",
        "duplicated",
        "peak_rss_mb",
        "peak_rss_by_process_mb",
        "stages_ms",
        "model",
        "latency",
        "throughput",
        "upload_errors",
        "decision_receive_errors",
        "poller_restarts",
        "stack_processes",
        "cpu_count",
        "concurrency",
        "load_average",
        "starved",
        "cpu_burners",
        "targets",
    }
    per_phase = {
        "cpu_cores_by_process",
        "cpu_ms_per_photo",
        "requests_per_photo",
        "requests_per_photo_by_operation",
        "moto_requests_per_photo",
        "moto_cpu_ms_per_request",
    }
    assert set(result["latency"]) == {"offered_rate", "photos", "achieved_rate"} | per_phase | ACCOUNTING_KEYS
    assert (
        set(result["throughput"])
        == {
            "photos",
            "seconds",
            "upload_seconds",
            "upload_photos_per_s",
            "stages_ms",
            "per_second",
        }
        | per_phase
        | ACCOUNTING_KEYS
    )


def test_result_of_a_known_run() -> None:
    # GIVEN / WHEN
    result = known_result()

    # THEN throughput runs from the first upload to the last record: 4 photos in 2 s
    assert result["throughput"]["seconds"] == 2.0
    assert result["chain_photos_per_s"] == 2.0
    assert result["ratio"] == 0.05
    assert result["throughput"]["upload_photos_per_s"] == 10.0
    assert result["throughput"]["per_second"] == {"uploaded": [4], "captured": [1, 2, 1]}
    # latency from the upload's return to the record, over the latency run only
    assert result["latency_ms"] == {"p50": 300.0, "p95": 390.0, "p99": 398.0}
    assert result["latency"]["achieved_rate"] == 4.0
    # the duplicate of the throughput run is counted, and nothing is lost
    assert (result["lost"], result["duplicated"]) == (0, 1)
    assert result["throughput"]["duplicated_keys"] == ["tput/1"]
    assert result["peak_rss_mb"] == 250.0
    assert result["peak_rss_by_process_mb"] == {"endpoint": 100.0, "moto": 150.0}
    assert result["load_average"] == [0.5, 1.25]
    # 4 photos of the throughput run cost 22 requests; the highest rate with p99 under 1 s was 8/s
    assert result["requests_per_photo"] == 5.5
    assert result["requests_per_photo_by_operation"] == {"s3:GetObject": 1.0, "sqs:ReceiveMessage": 4.5}
    assert result["max_rate_p99_under_1s"] == 8.0
    # moto at 0.5 cores over the 3 s from the first upload to the end of the wait, for 4 photos
    assert result["throughput"]["cpu_ms_per_photo"] == {"moto": 375.0, "total": 375.0}
    # moto served 30 requests in those 3 s (the bench's own included): 1,500 ms of CPU, 50 ms each
    assert result["throughput"]["moto_requests_per_photo"] == 7.5
    assert result["throughput"]["moto_cpu_ms_per_request"] == 50.0
    assert result["latency"]["moto_cpu_ms_per_request"] is None  # no request counted: no figure
    assert [row["p99_under_1s"] for row in result["sweep"]] == [True, False]


def test_targets_of_a_known_run() -> None:
    # GIVEN / WHEN
    targets = known_result()["targets"]

    # THEN
    assert {name: row["met"] for name, row in targets.items()} == {
        "chain_photos_per_s": False,
        "requests_per_photo": True,
        "lost_and_duplicated": False,
        "p99_upload_to_record_ms": True,
        "peak_rss_mb": True,
        "requests_per_photo_at_rate": True,
        "cpu_ms_per_photo": False,
    }
    # 4 photos over 3 s of a stack using half a core: 375 ms each
    assert targets["cpu_ms_per_photo"]["value"] == 375.0
    assert targets["lost_and_duplicated"]["value"] == "0 / 1"
    assert targets["p99_upload_to_record_ms"]["target"] == "<= 1000 at 4/s"


def test_throughput_without_any_record_lasts_until_the_wait_ended() -> None:
    # GIVEN a throughput run where nothing was decided nor captured
    chain = known_chain()
    chain.burst.records = {}
    chain.burst.accounting = account(chain.burst.uploader.keys(), {}, [])

    # WHEN
    result = build_result(MODEL, chain, offered_rate=4.0, concurrency={}, load_average=(0.0, 0.0))

    # THEN the run is timed to the end of the wait, not reported as instant
    assert result["throughput"]["seconds"] == round(chain.burst.wait_end - chain.burst.start, 2)
    assert result["chain_photos_per_s"] == 0.0
    assert result["lost"] == 4


def test_table_of_a_known_run() -> None:
    # GIVEN / WHEN
    lines = render_table(known_result())

    # THEN
    assert "chain                 2.0 photos/s   (4 photos in 2.0 s; uploads at 10/s)" in lines
    assert "ratio               0.050" in lines
    assert "lost/duplicated     0 / 1" in lines
    assert "  upload_to_record            300.0    390.0    398.0    400.0      2" in lines
    assert "latency at 4 photos/s offered (4/s achieved, 2 photos), ms:" in lines
    saturated = lines[lines.index("under the throughput run (saturated), ms:") + 1]
    assert saturated.split() == ["decided_to_captured", "10.0", "10.0", "10.0", "10.0"]
    assert "max rate, p99<1s      8.0 photos/s   sweep: 8/s p99 400.0, 16/s p99 1489.0" in lines
    assert lines[-7:] == [
        "  chain_photos_per_s         >= 60                  2.0            NOT MET",
        "  requests_per_photo         <= 6                   5.5            met",
        "  lost_and_duplicated        0 / 0                  0 / 1          NOT MET",
        "  p99_upload_to_record_ms    <= 1000 at 4/s         398.0          met",
        "  peak_rss_mb                <= 600                 250.0          met",
        "  requests_per_photo_at_rate <= 6 at 4/s            0.0            met",
        "  cpu_ms_per_photo           <= 30                  375.0          NOT MET",
    ]


def test_latency_curves_are_the_latency_run_per_photo() -> None:
    # GIVEN / WHEN
    curves = latency_curves(known_chain())

    # THEN
    assert curves["upload_to_record"] == [pytest.approx(200.0, abs=0.01), pytest.approx(400.0, abs=0.01)]
    assert len(curves["upload_to_decision"]) == 2


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    # GIVEN a known run
    chain = known_chain()
    path = tmp_path / "bench.png"

    # WHEN
    plot(known_result(), latency_curves(chain), path)

    # THEN
    assert path.read_bytes().startswith(b"\x89PNG")
