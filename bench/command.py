"""`driver-routing bench`: how fast the chain is against the model alone, and what each stage adds.

One run, on a local stack of its own (free ports, like the demo):
1. the model alone (`bench.model_alone`): the limit the chain is measured against;
2. latency at a rate the chain sustains (default 20 photos/s, open loop): upload -> decision on the
   topic and upload -> record, p50/p95/p99, and the time each stage adds (from the contracts' timestamps);
3. a sweep of short runs at rising offered rates, until p99 upload -> record passes 1 s: the highest
   rate that stayed under it (`max_rate_p99_under_1s`);
4. sustained throughput: N photos uploaded as fast as a thread pool can, until the last record lands;
   lost (no decision or no record) and duplicated (more than one decision on the topic) per photo;
5. the chain's AWS requests per photo by service and operation (what the moto server served to the
   functions, plus their endpoint calls), and the CPU milliseconds each process spent per photo;
6. peak RSS of the whole stack (moto, endpoint, the functions' process), sampled every 0.5 s.

This module only reads the options and runs the phases (`bench.phases`) in order; the figures come
from `bench.stats` and are printed by `bench.report`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

import click

from bench.load import load_samples
from bench.model_alone import bench_model
from bench.phases import measure_chain
from bench.profile import ProfilerMissing, StackProfiler, py_spy
from bench.report import build_result, latency_curves, plot, plot_available, render_table
from bench.traced import traced_duplicates
from driver_routing.output import emit_json

# The CPU burners of `--starve` stop by themselves after this long, whatever becomes of the bench.
STARVE_MAX_S = 1800.0


def parse_concurrency(specs: Iterable[str]) -> dict[str, int]:
    """`ingest=4` pairs into {function: threads}."""
    parsed = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value.isdigit() or int(value) < 1:
            raise ValueError(f"--concurrency {spec!r}: expected FUNCTION=N with N >= 1")
        parsed[name] = int(value)
    return parsed


@click.command()
@click.option("--photos", "count", default=2000, show_default=True, help="Photos in the throughput run.")
@click.option("--rate", "offered_rate", default=20.0, show_default=True, help="Photos/s in the latency run.")
@click.option(
    "--sweep",
    "sweep_spec",
    default="30,40,50,60,70,80",
    show_default=True,
    help="Rising offered rates (photos/s), a short run each, until p99 upload -> record passes 1 s.",
)
@click.option("--sweep-seconds", default=8.0, show_default=True, help="Seconds of each sweep run.")
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
@click.option(
    "--starve",
    is_flag=True,
    help="Run the chain beside one CPU-burning process per core (each stops by itself).",
)
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every message moto sends, receives, deletes and publishes here (JSON lines), and explain "
    "each duplicated photo from it.",
)
@click.option(
    "--profile",
    "profile_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sample every stack process with py-spy for the whole run, the raw samples in this folder; a "
    "summary per process under `profile`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG.")
@click.option(
    "--api",
    is_flag=True,
    help="Instead: a shift starting against the local API, with Locust (bench.api_load): --drivers drivers "
    "send --driver-photos photos each through the presigned path while a dispatcher polls the board.",
)
@click.option("--drivers", default=50, show_default=True, help="With --api: simulated drivers.")
@click.option("--driver-photos", default=5, show_default=True, help="With --api: photos per driver.")
@click.option("--arrival", default=5.0, show_default=True, help="With --api: seconds to arrive in.")
@click.option("--runs", default=3, show_default=True, help="With --api: runs (median), each fresh.")
def bench(
    count: int,
    offered_rate: float,
    sweep_spec: str,
    sweep_seconds: float,
    duration: float,
    data_dir: Path | None,
    model_images: int,
    workers: int,
    timeout: float,
    concurrency_specs: tuple[str, ...],
    starve: bool,
    trace_path: Path | None,
    profile_dir: Path | None,
    as_json: bool,
    plot_path: Path | None,
    api: bool,
    drivers: int,
    driver_photos: int,
    arrival: float,
    runs: int,
) -> None:
    """Benchmark the chain on the local stack: the model alone, latency at a fixed rate, sustained
    throughput, lost and duplicated photos, and the stack's peak memory (or, with --api, the API under
    a shift's start)."""
    if api:
        bench_api(data_dir, drivers, driver_photos, arrival, runs, timeout, as_json)
        return
    from local.demo import data_root, default_samples
    from local.processes import free_port
    from local.stack import LocalStack, StackConfig
    from local.starvation import CpuBurners

    if count < 1 or offered_rate <= 0 or duration <= 0:
        raise click.UsageError("--photos, --rate and --duration must be positive")
    try:
        sweep_rates = [float(r) for r in sweep_spec.split(",") if r.strip()]
    except ValueError:
        raise click.UsageError(f"--sweep {sweep_spec!r}: expected rates like 30,40,50") from None
    try:
        concurrency = parse_concurrency(concurrency_specs)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    # Before the run, not after it: minutes of benchmark must not end in "no plot".
    if plot_path is not None and not plot_available():
        raise click.ClickException(
            "--plot needs the 'bench' extra (matplotlib is not installed): "
            "pip install 'driver-routing[bench]'"
        )
    if profile_dir is not None:
        try:
            py_spy()
        except ProfilerMissing as error:
            raise click.ClickException(str(error)) from None
    sources = [data_dir] if data_dir else default_samples()
    if not sources:
        raise click.UsageError(f"no --data given and no sample data under {data_root()}")
    samples = load_samples(sources)
    if not samples:
        raise click.UsageError(f"no JPEG or PNG photos under {[str(s) for s in sources]}")

    click.echo(f"{len(samples)} distinct photos; the model alone on {model_images} images ...")
    model = bench_model(samples, images=model_images)
    click.echo(f"  {model['images_per_s']}")

    config = StackConfig(
        aws_port=free_port(),
        endpoint_port=free_port(),
        state_dir=Path(".driver-routing/bench"),
        moto_trace=trace_path.resolve() if trace_path else None,
    )
    config.concurrency = {**config.concurrency, **concurrency}
    if trace_path is not None:
        trace_path.unlink(missing_ok=True)
    burners = CpuBurners(count=(os.cpu_count() or 1) if starve else 0, max_s=STARVE_MAX_S)
    if starve:
        click.echo(f"starving the stack: {burners.count} CPU-burning processes beside it")
    load_before = os.getloadavg()
    click.echo(f"starting the local stack (moto :{config.aws_port}, endpoint :{config.endpoint_port}) ...")
    started = time.monotonic()
    profiler: StackProfiler | None = None
    with burners, LocalStack(config) as stack:
        click.echo(f"stack ready in {time.monotonic() - started:.1f} s")
        profiler = StackProfiler(stack.process_ids, profile_dir) if profile_dir else None
        with profiler or contextlib.nullcontext():
            chain = measure_chain(
                stack,
                samples,
                offered_rate=offered_rate,
                latency_count=max(1, int(offered_rate * duration)),
                count=count,
                workers=workers,
                timeout_s=timeout,
                echo=click.echo,
                sweep_rates=sweep_rates,
                sweep_s=sweep_seconds,
            )

    result = build_result(
        model,
        chain,
        offered_rate=offered_rate,
        concurrency=config.concurrency,
        load_average=(load_before[0], os.getloadavg()[0]),
        cpu_burners=burners.count,
        duplicates_traced=traced_duplicates(trace_path, chain) if trace_path else None,
        profile=profiler.summary() if profiler else None,
    )
    for line in render_table(result):
        click.echo(line)
    if plot_path is not None:
        plot(result, latency_curves(chain), plot_path)
        click.echo(f"plot: {plot_path}")
    if as_json:
        emit_json(result)


def bench_api(
    data_dir: Path | None,
    drivers: int,
    driver_photos: int,
    arrival: float,
    runs: int,
    timeout: float,
    as_json: bool,
) -> None:
    """`bench --api`: the shift's runs (bench.api_load), printed by bench.locust_stats."""
    from bench.api_load import Shift, run_api_bench
    from bench.locust_env import LocustEnvError
    from bench.locust_stats import render
    from driver_routing.uploads import collect_photos
    from local.demo import data_root

    if drivers < 1 or driver_photos < 1 or runs < 1 or arrival <= 0:
        raise click.UsageError("--drivers, --driver-photos, --runs and --arrival must be positive")
    source = data_dir or data_root() / "photos"
    if not source.is_dir() and not source.is_file():
        raise click.UsageError(f"no --data given and no sample photos under {source}")
    shift = Shift(drivers, driver_photos, arrival_s=arrival, max_run_s=timeout)
    try:
        summary = run_api_bench(shift, collect_photos([source]), runs=runs, echo=click.echo)
    except (LocustEnvError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for line in render(summary):
        click.echo(line)
    if as_json:
        emit_json(summary)
