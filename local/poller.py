"""The functions' execution environments, all in one process: one local event-source mapping each.

Run by the local stack: `python -m local.poller --environment NAME FUNCTION QUEUE_URL QUEUE_ARN ...`,
with the stack's environment. Each environment runs one invocation at a time on its own copy of the
handler's modules (`local.functions`), as a Lambda execution environment would; a process per
environment would cost ~100 MB each for the same modules (pydantic, boto3, Pillow, the X-Ray SDK).

SIGTERM stops it after the batches in flight; SIGKILL loses nothing either: the unacknowledged messages
reappear after the visibility timeout. SIGUSR1 crashes the environments named in the `--crash-requests`
file (one name a line) after their next handler returns, before the delete (`SqsEventSource.crash_next`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import click
from botocore.client import BaseClient

from local.eventsource import SqsEventSource
from local.functions import FUNCTIONS
from shared.aws.clients import client


class CallCounter:
    """Every AWS API call the environments make, by service and operation, written to `path` each
    second: the moto server counts what it serves, this counts the calls it never sees (the endpoint)."""

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._written: dict[str, int] = {}

    def install(self) -> None:
        make_call = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private: botocore's one way in
        counter = self

        def counted(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            with counter._lock:
                counter._counts[f"{client.meta.service_model.service_name}:{operation_name}"] += 1
            return make_call(client, operation_name, api_params)

        setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
        threading.Thread(target=self._run, name="call-counter", daemon=True).start()

    def write(self) -> None:
        with self._lock:
            counts = dict(self._counts)
        if counts != self._written:
            self._path.write_text(json.dumps(counts))
            self._written = counts

    def _run(self) -> None:
        while True:
            threading.Event().wait(self._interval_s)
            self.write()


@click.command()
@click.option(
    "--environment",
    "environments",
    multiple=True,
    required=True,
    type=(str, click.Choice(sorted(FUNCTIONS)), str, str),
    metavar="NAME FUNCTION QUEUE_URL QUEUE_ARN",
    help="One execution environment. Repeatable.",
)
@click.option("--wait-time", default=2, show_default=True, help="Long-poll seconds per receive.")
@click.option(
    "--batching-window",
    default=0.0,
    show_default=True,
    help="Seconds to wait to fill a batch (the template's BatchingWindow).",
)
@click.option("--crash-requests", type=click.Path(path_type=Path), help="Names of environments to crash.")
@click.option("--call-counts", type=click.Path(path_type=Path), help="Where to write the API call counts.")
def main(
    environments: tuple[tuple[str, str, str, str], ...],
    wait_time: int,
    batching_window: float,
    crash_requests: Path | None,
    call_counts: Path | None,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    counter = CallCounter(call_counts) if call_counts is not None else None
    if counter is not None:
        counter.install()
    region = os.environ.get("AWS_REGION", "us-east-1")
    # The template's FunctionTimeout, as the local stack passes it: what each invocation may take.
    function_timeout_s = float(os.environ.get("FUNCTION_TIMEOUT_S", "30"))
    sqs = client("sqs", region)
    sources: dict[str, SqsEventSource] = {}
    for name, function, queue_url, queue_arn in environments:
        sources[name] = SqsEventSource(
            sqs=sqs,
            queue_url=queue_url,
            queue_arn=queue_arn,
            handler=FUNCTIONS[function].load_handler(),
            function_name=function,
            function_timeout_s=function_timeout_s,
            region=region,
            wait_time_s=wait_time,
            batching_window_s=batching_window,
            new_environment=FUNCTIONS[function].load_handler,
        )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def crash(signum: int, frame: FrameType | None) -> None:
        if crash_requests is None or not crash_requests.exists():
            return
        for name in crash_requests.read_text().split():
            if name in sources:
                sources[name].crash_next()
        crash_requests.unlink(missing_ok=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, crash)
    for source in sources.values():
        source.start()
    stopping.wait()
    stoppers = [threading.Thread(target=source.stop) for source in sources.values()]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    if counter is not None:
        counter.write()


if __name__ == "__main__":
    main()
