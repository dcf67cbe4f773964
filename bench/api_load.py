"""`driver-routing bench --api`: a shift starting, against the local API, with Locust.

Each run starts a local stack of its own (free ports, an empty board, full throttle buckets), creates its
drivers and one dispatcher in the local user pool, writes the plan the locustfile reads (the API's URL,
the credentials, the photos) and runs Locust (`bench/locustfile_api.py`) headless in its own venv
(`bench.locust_env`): every driver arrives within `arrival_s`, signs in, sends its photos through the
presigned path and polls each to its final answer, while the dispatcher polls the board. The figures come
from Locust's CSV stats and the locustfile's samples (`bench.locust_stats`), with the load average before
and after the run; the median is over the runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.locust_env import DEFAULT_VENV, LOCUST_VERSION, ensure_locust
from bench.locust_stats import SAMPLES, STATS_PREFIX, THROTTLED, read_run, summarise
from driver_routing.driver_app import DriverAppError, content_type_of
from driver_routing.people import create_user, new_password
from shared.driver_messages import SENT_AS

LOCUSTFILE = Path(__file__).with_name("locustfile_api.py")
STATE_DIR = Path(".driver-routing/bench-api")
PLAN_ENV = "DRIVER_ROUTING_LOAD_PLAN"
POLL_S = 1.0  # the driver's page and the board both poll once a second (static/driver.js, board.js)


@dataclass(frozen=True)
class Shift:
    drivers: int
    photos_per_driver: int
    arrival_s: float
    max_run_s: float


def photo_plan(paths: Sequence[Path]) -> list[dict[str, str]]:
    """The photos the API takes (by extension), with their content types; the others are left out."""
    plan = []
    for path in paths:
        try:
            plan.append({"path": str(path.resolve()), "content_type": content_type_of(path)})
        except DriverAppError:
            continue
    return plan


def _people(stack: Any, shift: Shift, tag: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    from shared.aws.clients import client

    idp = client("cognito-idp", stack.config.region)
    pool = stack.identity.user_pool_id
    drivers = []
    for index in range(shift.drivers):
        username, password = f"load-{tag}-{index:03d}", new_password()
        create_user(idp, pool, username, password, f"load-{tag}-{index:03d}")
        drivers.append({"username": username, "password": password, "index": index})
    dispatcher = {"username": f"load-{tag}-dispatcher", "password": new_password()}
    create_user(idp, pool, dispatcher["username"], dispatcher["password"], None)
    return drivers, dispatcher


def run_once(
    shift: Shift, photos: list[dict[str, str]], locust: Path, folder: Path, echo: Callable[[str], None]
) -> dict[str, Any]:
    """One shift on a fresh local stack: its figures, with the load average before and after."""
    from local.processes import free_port
    from local.stack import LocalStack, StackConfig
    from shared.aws import clients

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = StackConfig(
        aws_port=free_port(), endpoint_port=free_port(), api_port=free_port(), state_dir=STATE_DIR
    )
    with LocalStack(config) as stack:
        os.environ.update(stack.client_environment())
        clients.client.cache_clear()
        drivers, dispatcher = _people(stack, shift, uuid.uuid4().hex[:6])
        plan = {
            "api_url": stack.api_url,
            "drivers": drivers,
            "dispatcher": dispatcher,
            "photos": photos,
            "photos_per_driver": shift.photos_per_driver,
            "poll_s": POLL_S,
            "board_poll_s": POLL_S,
            "final_timeout_s": 120.0,
            "samples": str((folder / SAMPLES).resolve()),
            "throttled_error": THROTTLED,
        }
        plan_path = folder / "plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {PLAN_ENV: str(plan_path)}
        command = [
            str(locust),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(shift.drivers + 1),
            "--spawn-rate",
            str(max(1.0, shift.drivers / shift.arrival_s)),
            "--run-time",
            f"{int(shift.max_run_s)}s",
            "--stop-timeout",
            "5",
            "--csv",
            str(folder / STATS_PREFIX),
            "--only-summary",
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "WARNING",
        ]
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        with (folder / "locust.log").open("w", encoding="utf-8") as log:
            finished = subprocess.run(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=shift.max_run_s + 60,
                check=False,
            )
        seconds = time.monotonic() - started
        load_after = os.getloadavg()[0]
    if finished.returncode != 0:
        tail = (folder / "locust.log").read_text(encoding="utf-8").strip().splitlines()[-3:]
        raise RuntimeError(f"locust exited with {finished.returncode}: {' | '.join(tail)}")
    result = read_run(folder, expected_photos=shift.drivers * shift.photos_per_driver)
    result["load_average"] = [round(load_before, 2), round(load_after, 2)]
    result["seconds"] = round(seconds, 1)
    echo(f"  {result['answered']} photos answered in {seconds:.0f} s; Locust's log: {folder / 'locust.log'}")
    return result


def run_api_bench(
    shift: Shift,
    photo_paths: Sequence[Path],
    *,
    runs: int,
    echo: Callable[[str], None] = print,
    venv: Path = DEFAULT_VENV,
) -> dict[str, Any]:
    """`runs` shifts, each on its own stack; the summary (`bench.locust_stats.summarise`)."""
    photos = photo_plan(photo_paths)
    if not photos:
        raise ValueError(f"no photo the API takes among the given ones: send photos as {SENT_AS}")
    locust = ensure_locust(venv, echo)
    results = []
    for number in range(1, runs + 1):
        echo(
            f"run {number} of {runs}: {shift.drivers} drivers x {shift.photos_per_driver} photos "
            f"and the board, on a fresh local stack ..."
        )
        results.append(run_once(shift, photos, locust, STATE_DIR / f"run-{number}", echo))
    summary = summarise(results)
    summary["shift"] = {
        "drivers": shift.drivers,
        "photos_per_driver": shift.photos_per_driver,
        "arrival_s": shift.arrival_s,
        "dispatchers": 1,
        "poll_s": POLL_S,
        "locust": LOCUST_VERSION,
    }
    return summary
