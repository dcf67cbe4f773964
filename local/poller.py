"""One function's local event-source mapping, as its own process (as each Lambda function is its own).

Run by the local stack: `python -m local.poller ingest --queue-url ... --queue-arn ...`, with the
stack's environment. SIGTERM stops it after the batches in flight; SIGKILL loses nothing either: the
unacknowledged messages reappear after the visibility timeout.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from local.eventsource import SqsEventSource
from local.functions import FUNCTIONS
from shared.aws.clients import client
from shared.settings import get_settings


@click.command()
@click.argument("function", type=click.Choice(sorted(FUNCTIONS)))
@click.option("--queue-url", required=True)
@click.option("--queue-arn", required=True)
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    help="Threads that poll and delete; invocations run one at a time.",
)
@click.option("--wait-time", default=2, show_default=True, help="Long-poll seconds per receive.")
def main(function: str, queue_url: str, queue_arn: str, concurrency: int, wait_time: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    source = SqsEventSource(
        sqs=client("sqs", settings.aws_region),
        queue_url=queue_url,
        queue_arn=queue_arn,
        handler=FUNCTIONS[function].load_handler(),
        function_name=function,
        function_timeout_s=settings.function_timeout_s,
        region=settings.aws_region,
        wait_time_s=wait_time,
        concurrency=concurrency,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    source.start()
    stopping.wait()
    source.stop()


if __name__ == "__main__":
    main()
