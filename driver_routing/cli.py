"""`driver-routing`: the local stack and each thing users do with the chain."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from driver_routing.accounts import users
from driver_routing.commands import LazyGroup
from driver_routing.connection import aws_client, connect
from driver_routing.output import (
    describe_decision,
    describe_history,
    describe_open_review,
    describe_record,
    emit_json,
    waited,
)
from driver_routing.people import add_user, drive, sign_in_command
from driver_routing.stack_outputs import DEFAULT_STACK_NAME, QUEUE_OUTPUTS
from shared.contracts import Route

# `status` lists this many open reviews, the longest-waiting first; the board shows them all.
OPEN_REVIEWS_SHOWN = 10


def parse_time(value: str, option: str) -> datetime:
    """ISO 8601, or a duration before now: `90s`, `15m`, `2h`, `7d`."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if value and value[-1] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a time (2026-11-25T06:00) nor a duration ago (90s, 15m, 2h, 7d)",
            param_hint=option,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


stack_option = click.option(
    "--stack-name", default=DEFAULT_STACK_NAME, show_default=True, envvar="DRIVER_ROUTING_STACK"
)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="driver-routing", prog_name="driver-routing")
def main() -> None:
    """Driver routing: a vehicle photo in S3 becomes a loading bay, an order radius and a record."""


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--driver-id", required=True, help="The driver the photos belong to (1-64 of A-Z a-z 0-9 _ -).")
@click.option("--depot", "depot_id", default=None, help="The driver's depot (default: the rules' default).")
@click.option("--wait", is_flag=True, help="Print each photo's decision as it arrives, then a summary.")
@click.option("--timeout", default=120.0, show_default=True, help="With --wait: seconds to wait in all.")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def upload(
    photos: tuple[Path, ...],
    driver_id: str,
    depot_id: str | None,
    wait: bool,
    timeout: float,
    stack_name: str,
    as_json: bool,
) -> None:
    """Put PHOTOS (files or folders) into the photo bucket, as the driver app does."""
    from driver_routing.uploads import UploadError, check_upload, upload_and_wait, upload_photos

    try:
        paths = check_upload(photos, driver_id)
    except UploadError as error:
        raise click.UsageError(str(error)) from None
    resources = connect(stack_name)
    if wait:
        summary = upload_and_wait(
            aws_client("s3"),
            aws_client("sqs"),
            aws_client("sns"),
            resources,
            paths,
            driver_id,
            timeout,
            depot_id=depot_id,
        )
        if as_json:
            emit_json(summary)
        if summary["undecided"]:
            raise SystemExit(1)
        return
    uploads = upload_photos(aws_client("s3"), resources.bucket, paths, driver_id, depot_id=depot_id)
    for item in uploads:
        click.echo(f"{item.path} -> s3://{resources.bucket}/{item.key}")
    if as_json:
        emit_json({"uploaded": len(uploads), "keys": [u.key for u in uploads]})


@main.command()
@stack_option
@click.option(
    "--outcome",
    "--route",
    "routes",
    multiple=True,
    type=click.Choice([r.value for r in Route]),
    help="Only these outcomes (an SNS filter policy on `outcome`). Repeatable.",
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
@click.option(
    "--photo", help="One photo, by its key (photos/d-001/....jpg) or the file name it was uploaded as."
)
@click.option(
    "--driver-id", help="Decisions for this driver, newest first (with --since/--until: in that window)."
)
@click.option("--since", help="Window start: ISO 8601 or a duration ago (15m, 2h, 7d).")
@click.option("--until", help="Window end (default: now).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Records at most.")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def query(
    photo: str | None,
    driver_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    stack_name: str,
    as_json: bool,
) -> None:
    """Read the capture table: one photo, a driver's decisions, or a time window."""
    from driver_routing.records import find_records

    if not (photo or driver_id or since):
        raise click.UsageError("give --photo, --driver-id, or --since [--until]")
    if until and not since:
        raise click.UsageError("--until goes with --since")
    window = None
    if since:
        window = (parse_time(since, "--since"), parse_time(until, "--until") if until else datetime.now(UTC))
    resources = connect(stack_name)
    records, more = find_records(
        aws_client("dynamodb"),
        resources,
        photo=photo,
        driver_id=driver_id,
        window=window,
        limit=limit,
    )
    for record in records:
        click.echo(describe_record(record))
        if photo:  # one photo: its reviews and corrections too
            for line in describe_history(record):
                click.echo(line)
    if not records:
        click.echo("no record matched", err=True)
    elif more:
        click.echo(f"showing the first {limit}; --limit shows more", err=True)
    if as_json:
        emit_json(
            {
                "count": len(records),
                "more": more,
                "records": [json.loads(r.model_dump_json()) for r in records],
            }
        )


@main.command()
@stack_option
@click.option("--json", "as_json", is_flag=True)
def status(stack_name: str, as_json: bool) -> None:
    """Depth of every queue and DLQ, the age of the oldest message, and the open reviews."""
    from driver_routing.operations import queue_status
    from driver_routing.records import open_reviews

    resources = connect(stack_name)
    rows = queue_status(aws_client("sqs"), aws_client("cloudwatch"), resources)
    click.echo(f"{'queue':<14} {'visible':>8} {'in flight':>10} {'oldest':>10}")
    for row in rows:
        age = f"{row.oldest_age_s:.0f} s" if row.oldest_age_s is not None else "-"
        click.echo(f"{row.name:<14} {row.visible:>8} {row.in_flight:>10} {age:>10}")
    # The review desk: every photo waiting for a dispatcher, the longest-waiting first.
    waiting = open_reviews(aws_client("dynamodb"), resources)
    now = datetime.now(UTC)
    oldest_s = (now - waiting[0].uploaded_at).total_seconds() if waiting else None
    summary = f", the oldest waiting {waited(oldest_s)}" if oldest_s is not None else ""
    click.echo(f"open reviews: {len(waiting)}{summary}")
    for record in waiting[:OPEN_REVIEWS_SHOWN]:
        click.echo(f"  {describe_open_review(record, now)}")
    if len(waiting) > OPEN_REVIEWS_SHOWN:
        click.echo(f"  and {len(waiting) - OPEN_REVIEWS_SHOWN} more (the board shows them all)")
    if as_json:
        emit_json(
            {
                "queues": {
                    r.name: {"visible": r.visible, "in_flight": r.in_flight, "oldest_age_s": r.oldest_age_s}
                    for r in rows
                },
                "open_reviews": {
                    "count": len(waiting),
                    "oldest_waiting_s": oldest_s,
                    "photos": [r.photo_id for r in waiting],
                },
            }
        )


@main.command()
@click.argument("queue", type=click.Choice(list(QUEUE_OUTPUTS)))
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


# ---------------------------------------------------------------- datasets from the depot's reviews


@main.group()
def dataset() -> None:
    """Labelled datasets made of what the stack has seen."""


@dataset.command("from-reviews")
@click.option("--since", required=True, help="Decisions since (ISO 8601, or 15m, 2h, 7d ago).")
@click.option("--until", default=None, help="Decisions before (default: now).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets"),
    show_default=True,
    help="The folder the versioned dataset folder is written under.",
)
@click.option(
    "--holdout-share",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="Share of the reviewed photos held back from training, for the promotion gate.",
)
@click.option(
    "--qa-share",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Share of the photos the model routed alone sampled for a person's check (never trained on).",
)
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def dataset_from_reviews(
    since: str,
    until: str | None,
    out: Path,
    holdout_share: float,
    qa_share: float,
    stack_name: str,
    as_json: bool,
) -> None:
    """Export the dispatchers' reviewed photos, with their labels, as a versioned dataset folder."""
    from driver_routing.review_dataset import S3Photos, Shares, export_reviews
    from shared.aws.capture_table import CaptureTable

    start = parse_time(since, "--since")
    end = parse_time(until, "--until") if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("must be after --since", param_hint="--until")
    resources = connect(stack_name)
    records = CaptureTable(aws_client("dynamodb"), resources.capture_table).in_window(start, end)
    exported = export_reviews(
        records,
        S3Photos(aws_client("s3")),
        out,
        since=start,
        until=end,
        source=f"stack {stack_name}, table {resources.capture_table}",
        shares=Shares(holdout=holdout_share, qa=qa_share),
    )
    for split, classes in exported.counts.items():
        click.echo(f"{split:<8} " + ", ".join(f"{name} {n}" for name, n in classes.items()))
    if exported.missing:
        click.echo(f"{exported.missing} photo(s) no longer in the bucket, left out")
    click.echo(f"dataset {exported.version} in {exported.path}")
    if as_json:
        emit_json(exported.summary())


for people_command in (add_user, sign_in_command, drive, users):
    main.add_command(people_command)


if __name__ == "__main__":
    sys.exit(main())
