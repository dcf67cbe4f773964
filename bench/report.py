"""The benchmark's result: one JSON-ready dict, the table printed from it, the targets and the plot."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.phases import P99_LIMIT_MS, Chain, Phase, p99_under_limit
from bench.stats import per_second, rate, stage_values, summarise, summarise_stages

# Targets for this 2-core machine.
TARGET_CHAIN_PHOTOS_PER_S = 60.0
TARGET_P99_MS = P99_LIMIT_MS
TARGET_PEAK_RSS_MB = 600.0
TARGET_REQUESTS_PER_PHOTO = 6.0
TARGET_CPU_MS_PER_PHOTO = 30.0

SATURATED_STAGES = (
    "s3_event_to_ingested",
    "ingested_to_assessed",
    "assessed_to_decided",
    "decided_to_captured",
)
LATENCY_CURVES = ("upload_to_decision", "upload_to_record")


def _percentiles(stages: Mapping[str, Any], name: str) -> dict[str, Any]:
    row = stages.get(name, summarise([]))
    return {k: row[k] for k in ("p50", "p95", "p99")}


def requests_per_photo(phase: Phase) -> float:
    return round(sum(phase.requests.values()) / phase.count, 2) if phase.count else 0.0


def cpu_ms_per_photo(phase: Phase) -> dict[str, float]:
    """CPU milliseconds each process spent per photo of the phase, and their total: on a machine of
    N cores the chain cannot go faster than N * 1000 / total photos per second."""
    if not phase.count:
        return {}
    seconds = phase.wait_end - phase.start
    per_process = {name: round(cores * seconds * 1000 / phase.count, 1) for name, cores in phase.cpu.items()}
    return {**per_process, "total": round(sum(per_process.values()), 1)}


def moto_cpu_ms_per_request(phase: Phase) -> float | None:
    """moto's CPU milliseconds per request it served in the phase (every caller's)."""
    if not phase.moto_requests or "moto" not in phase.cpu:
        return None
    return round(phase.cpu["moto"] * (phase.wait_end - phase.start) * 1000 / phase.moto_requests, 2)


def _phase_figures(phase: Phase) -> dict[str, Any]:
    return {
        "cpu_cores_by_process": phase.cpu,
        "cpu_ms_per_photo": cpu_ms_per_photo(phase),
        "moto_requests_per_photo": round(phase.moto_requests / phase.count, 2) if phase.count else None,
        "moto_cpu_ms_per_request": moto_cpu_ms_per_request(phase),
        "requests_per_photo": requests_per_photo(phase),
        "requests_per_photo_by_operation": {
            name: round(n / phase.count, 3) for name, n in sorted(phase.requests.items())
        },
        **phase.accounting.as_dict(),
    }


def _sweep_row(phase: Phase) -> dict[str, Any]:
    return {
        "offered_rate": phase.rate_per_s,
        "latency_ms": _percentiles(summarise_stages(phase.timelines), "upload_to_record"),
        "lost": phase.accounting.lost,
        "requests_per_photo": requests_per_photo(phase),
        "p99_under_1s": p99_under_limit(phase),
    }


def max_rate_p99_under_1s(chain: Chain) -> float | None:
    """The highest offered rate whose p99 upload -> record stayed under 1 s, over the latency run and
    the sweep (which stops at the first rate that fails)."""
    passing = [p.rate_per_s for p in (chain.steady, *chain.sweep) if p.rate_per_s and p99_under_limit(p)]
    return max(passing) if passing else None


def build_result(
    model: Mapping[str, Any],
    chain: Chain,
    *,
    offered_rate: float,
    concurrency: Mapping[str, int],
    load_average: tuple[float, float],
    cpu_burners: int = 0,
    duplicates_traced: list[dict[str, Any]] | None = None,
    profile: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything `--json` prints; the table and the plot read only this."""
    steady, burst = chain.steady, chain.burst
    captured_times = [r.captured_at.timestamp() for r in burst.records.values()]
    tput_end = max(captured_times) if captured_times else burst.wait_end
    tput_seconds = tput_end - burst.start
    chain_rate = rate(burst.accounting.captured, tput_seconds)
    limit = model["limit_images_per_s"]
    lat_stages = summarise_stages(steady.timelines)
    result: dict[str, Any] = {
        "model_images_per_s": limit,
        "chain_photos_per_s": chain_rate,
        "ratio": round(chain_rate / limit, 3) if limit else None,
        "requests_per_photo": requests_per_photo(burst),
        "requests_per_photo_by_operation": _phase_figures(burst)["requests_per_photo_by_operation"],
        "requests_per_photo_at_rate": requests_per_photo(steady),
        # CPU of the whole stack per photo: sustained (the throughput run) and at the offered rate.
        "cpu_ms_per_photo": cpu_ms_per_photo(burst).get("total"),
        "cpu_ms_per_photo_at_rate": cpu_ms_per_photo(steady).get("total"),
        "latency_ms": _percentiles(lat_stages, "upload_to_record"),
        "decision_latency_ms": _percentiles(lat_stages, "upload_to_decision"),
        "max_rate_p99_under_1s": max_rate_p99_under_1s(chain),
        "sweep": [_sweep_row(phase) for phase in chain.sweep],
        "lost": sum(p.accounting.lost for p in (burst, steady, *chain.sweep)),
        "duplicated": sum(len(p.accounting.duplicated) for p in (burst, steady, *chain.sweep)),
        "peak_rss_mb": round(chain.peak_rss_mb, 1),
        "peak_rss_by_process_mb": {k: round(v, 1) for k, v in sorted(chain.peak_rss_by_process_mb.items())},
        "stages_ms": lat_stages,
        "model": dict(model),
        "latency": {
            "offered_rate": offered_rate,
            "photos": steady.count,
            "achieved_rate": rate(len(steady.uploader.results), steady.uploads_end - steady.start),
            **_phase_figures(steady),
        },
        "throughput": {
            "photos": burst.count,
            "seconds": round(tput_seconds, 2),
            "upload_seconds": round(burst.uploads_end - burst.start, 2),
            "upload_photos_per_s": rate(len(burst.uploader.results), burst.uploads_end - burst.start),
            "stages_ms": summarise_stages(burst.timelines),
            "per_second": {
                "uploaded": per_second((u.done for u in burst.uploader.results), burst.start),
                "captured": per_second(captured_times, burst.start),
            },
            **_phase_figures(burst),
        },
        "upload_errors": sum(1 for u in [*steady.uploader.results, *burst.uploader.results] if not u.ok),
        "decision_receive_errors": chain.decision_receive_errors,
        "poller_restarts": dict(chain.poller_restarts),
        "stack_processes": list(chain.stack_processes),
        "cpu_count": os.cpu_count(),
        "concurrency": dict(concurrency),
        # The machine's 1-minute load average at the start and the end: other work skews every figure.
        "load_average": [round(load_average[0], 2), round(load_average[1], 2)],
        # `--starve`: CPU-burning processes beside the stack (0: a run on whatever else the host runs).
        "starved": cpu_burners > 0,
        "cpu_burners": cpu_burners,
    }
    if duplicates_traced is not None:
        result["duplicates_traced"] = duplicates_traced
    if profile is not None:
        result["profile"] = dict(profile)
    result["targets"] = targets(result)
    return result


def latency_curves(chain: Chain) -> dict[str, list[float]]:
    """Per photo of the latency run, upload -> decision and upload -> record, for the plot."""
    return {name: stage_values(chain.steady.timelines, name) for name in LATENCY_CURVES}


def targets(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    p99 = result["latency_ms"].get("p99")
    return {
        "chain_photos_per_s": {
            "target": f">= {TARGET_CHAIN_PHOTOS_PER_S:g}",
            "value": result["chain_photos_per_s"],
            "met": result["chain_photos_per_s"] >= TARGET_CHAIN_PHOTOS_PER_S,
        },
        "requests_per_photo": {
            "target": f"<= {TARGET_REQUESTS_PER_PHOTO:g}",
            "value": result["requests_per_photo"],
            "met": result["requests_per_photo"] <= TARGET_REQUESTS_PER_PHOTO,
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
        "requests_per_photo_at_rate": {
            "target": f"<= {TARGET_REQUESTS_PER_PHOTO:g} at {result['latency']['offered_rate']:g}/s",
            "value": result["requests_per_photo_at_rate"],
            "met": result["requests_per_photo_at_rate"] <= TARGET_REQUESTS_PER_PHOTO,
        },
        "cpu_ms_per_photo": {
            "target": f"<= {TARGET_CPU_MS_PER_PHOTO:g}",
            "value": result["cpu_ms_per_photo"],
            "met": result["cpu_ms_per_photo"] is not None
            and result["cpu_ms_per_photo"] <= TARGET_CPU_MS_PER_PHOTO,
        },
    }


def _stage_row(name: str, row: Mapping[str, Any], *, count: bool) -> str:
    line = f"  {name:<24} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f}"
    return f"{line} {row['count']:>6}" if count else line


def render_table(result: Mapping[str, Any]) -> list[str]:
    tput, lat = result["throughput"], result["latency"]
    lines = [
        "",
        f"model alone      {result['model_images_per_s']:>8.1f} images/s   {result['model']['images_per_s']}",
        f"chain            {result['chain_photos_per_s']:>8.1f} photos/s   ({tput['photos']} "
        f"photos in {tput['seconds']:.1f} s; uploads at {tput['upload_photos_per_s']:.0f}/s)",
        f"ratio            {result['ratio']:>8.3f}",
        f"requests/photo   {result['requests_per_photo']:>8.2f}   "
        f"{result['requests_per_photo_by_operation']}",
        f"max rate, p99<1s {result['max_rate_p99_under_1s']!s:>8} photos/s   sweep: "
        + ", ".join(f"{r['offered_rate']:g}/s p99 {r['latency_ms']['p99']}" for r in result["sweep"]),
        f"concurrency      {result['concurrency']}; load average {result['load_average']}"
        + (f"; starved by {result['cpu_burners']} CPU burners" if result["starved"] else ""),
        f"lost/duplicated  {result['lost']:>4} / {result['duplicated']}",
        f"peak RSS         {result['peak_rss_mb']:>8.1f} MB   {result['peak_rss_by_process_mb']}",
        f"CPU cores, latency run     {lat['cpu_cores_by_process']}",
        f"CPU cores, throughput run  {tput['cpu_cores_by_process']}",
        f"CPU ms per photo, throughput run  {tput['cpu_ms_per_photo']}",
        f"CPU ms per photo, latency run     {lat['cpu_ms_per_photo']}",
        "",
        f"latency at {lat['offered_rate']:g} photos/s offered "
        f"({lat['achieved_rate']:g}/s achieved, {lat['photos']} photos), ms:",
        f"  {'stage':<24} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'count':>6}",
    ]
    lines += [_stage_row(name, row, count=True) for name, row in result["stages_ms"].items() if row["count"]]
    lines += ["", "under the throughput run (saturated), ms:"]
    for name in SATURATED_STAGES:
        row = tput["stages_ms"].get(name)
        if row and row["count"]:
            lines.append(_stage_row(name, row, count=False))
    for traced in result.get("duplicates_traced", []):
        lines += ["", f"duplicated {traced['key']}: {traced['cause']}"]
    lines += ["", "targets:"]
    for name, row in result["targets"].items():
        lines.append(
            f"  {name:<26} {row['target']:<22} {row['value']!s:<14} {'met' if row['met'] else 'NOT MET'}"
        )
    return lines


def plot_available() -> bool:
    """Whether `--plot` can work: matplotlib comes with the `bench` extra."""
    return importlib.util.find_spec("matplotlib") is not None


def plot(result: Mapping[str, Any], latencies: Mapping[str, list[float]], path: Path) -> None:
    """Latency CDFs of the latency run and photos per second of the throughput run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

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
