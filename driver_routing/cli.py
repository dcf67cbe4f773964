"""`driver-routing`: the local stack and each thing users do with the chain."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from driver_routing.commands import LazyGroup
from driver_routing.output import describe_decision, describe_record, emit_json
from driver_routing.stack_outputs import DEFAULT_STACK_NAME, StackResources
from shared.contracts import Route

STATE_FILE = Path(".driver-routing") / "stack.json"


def use_local_stack_if_running() -> None:
    """From another terminal: with no AWS endpoint set, use the local stack `up` left a note about."""
    if "AWS_ENDPOINT_URL" in os.environ or not STATE_FILE.exists():
        return
    state = json.loads(STATE_FILE.read_text())
    for name, value in state["environment"].items():
        os.environ.setdefault(name, value)
    click.echo(f"using the local stack at {os.environ['AWS_ENDPOINT_URL']} ({STATE_FILE})", err=True)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def connect(stack_name: str) -> StackResources:
    from driver_routing.stack_outputs import describe_stack

    use_local_stack_if_running()
    return describe_stack(stack_name, region=region())


def aws_client(service: str) -> Any:
    from shared.aws.clients import client

    return client(service, region())


def parse_time(value: str) -> datetime:
    """ISO 8601, or a duration before now: `90s`, `15m`, `2h`, `7d`."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if value and value[-1] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


stack_option = click.option(
    "--stack-name", default=DEFAULT_STACK_NAME, show_default=True, envvar="DRIVER_ROUTING_STACK"
)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Driver routing: a vehicle photo in S3 becomes a loading bay, an order radius and a record."""


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--driver-id", required=True, help="The driver the photos belong to.")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def upload(photos: tuple[Path, ...], driver_id: str, stack_name: str, as_json: bool) -> None:
    """Put PHOTOS (files or folders) into the photo bucket, as the driver app does."""
    from driver_routing.uploads import collect_photos, upload_photos

    resources = connect(stack_name)
    uploads = upload_photos(aws_client("s3"), resources.bucket, collect_photos(photos), driver_id)
    for item in uploads:
        click.echo(f"{item.path} -> s3://{resources.bucket}/{item.key}")
    if as_json:
        emit_json({"uploaded": len(uploads), "keys": [u.key for u in uploads]})


@main.command()
@stack_option
@click.option(
    "--route",
    "routes",
    multiple=True,
    type=click.Choice([r.value for r in Route]),
    help="Only these routes (an SNS filter policy). Repeatable.",
)
@click.option("--count", type=int, default=None, help="Stop after this many decisions.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="One JSON decision per line.")
def watch(
    stack_name: str, routes: tuple[str, ...], count: int | None, timeout: float | None, as_json: bool
) -> None:
    """Subscribe to the routing topic and print each decision as it arrives."""
    from driver_routing.subscription import DecisionSubscription

    resources = connect(stack_name)
    seen = 0
    deadline = time.monotonic() + timeout if timeout else None
    with DecisionSubscription(
        aws_client("sqs"), aws_client("sns"), resources.topic_arn, routes=[Route(r) for r in routes] or None
    ) as subscription:
        click.echo(f"watching {resources.topic_arn} (Ctrl-C to stop)", err=True)
        try:
            while (count is None or seen < count) and (deadline is None or time.monotonic() < deadline):
                for decision in subscription.receive(wait_s=1):
                    seen += 1
                    click.echo(decision.model_dump_json() if as_json else describe_decision(decision))
        except KeyboardInterrupt:
            pass


@main.command()
@click.option("--driver-id", help="All decisions for this driver, newest first.")
@click.option("--since", help="Window start: ISO 8601 or a duration ago (15m, 2h, 7d).")
@click.option("--until", help="Window end (default: now).")
@click.option("--limit", type=int, default=None)
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def query(
    driver_id: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    stack_name: str,
    as_json: bool,
) -> None:
    """Read the capture table: by driver, or by time window."""
    from shared.aws.capture_table import CaptureTable

    if bool(driver_id) == bool(since):
        raise click.UsageError("give --driver-id, or --since [--until]")
    resources = connect(stack_name)
    table = CaptureTable(aws_client("dynamodb"), resources.capture_table)
    if driver_id:
        records = table.for_driver(driver_id, limit=limit)
    else:
        end = parse_time(until) if until else datetime.now(UTC)
        records = table.in_window(parse_time(since or ""), end)[:limit]
    for record in records:
        click.echo(describe_record(record))
    if as_json:
        emit_json({"count": len(records), "records": [json.loads(r.model_dump_json()) for r in records]})


@main.command()
@stack_option
@click.option("--json", "as_json", is_flag=True)
def status(stack_name: str, as_json: bool) -> None:
    """Depth of every queue and DLQ, and the age of the oldest message."""
    from driver_routing.operations import queue_status

    resources = connect(stack_name)
    rows = queue_status(aws_client("sqs"), aws_client("cloudwatch"), resources)
    click.echo(f"{'queue':<14} {'visible':>8} {'in flight':>10} {'oldest':>10}")
    for row in rows:
        age = f"{row.oldest_age_s:.0f} s" if row.oldest_age_s is not None else "-"
        click.echo(f"{row.name:<14} {row.visible:>8} {row.in_flight:>10} {age:>10}")
    if as_json:
        emit_json(
            {
                "queues": {
                    r.name: {"visible": r.visible, "in_flight": r.in_flight, "oldest_age_s": r.oldest_age_s}
                    for r in rows
                }
            }
        )


@main.command()
@click.argument("queue", type=click.Choice(["ingest", "classify", "route", "capture"]))
@stack_option
@click.option("--json", "as_json", is_flag=True)
def redrive(queue: str, stack_name: str, as_json: bool) -> None:
    """Move the messages in QUEUE's DLQ back to QUEUE."""
    from driver_routing.operations import redrive as move

    resources = connect(stack_name)
    moved = move(aws_client("sqs"), resources.queues[queue])
    click.echo(f"moved {moved} message(s) from {queue}-dlq to {queue}")
    if as_json:
        emit_json({"queue": queue, "moved": moved})


if __name__ == "__main__":
    sys.exit(main())
