"""`driver-routing evaluate --reviews [--plot FILE.png]`: the capture table read, the live accuracy
printed (`live_accuracy`), the dispatchers' week drawn (`review_week`)."""

from __future__ import annotations

from pathlib import Path


def report(stack_name: str, since: str | None, as_json: bool, plot: Path | None = None) -> None:
    """Read the stack's capture table (all of it, or decisions since `since`; with `plot`, the last
    seven days unless `since` says otherwise) and print the summary; draw the week into `plot`."""
    from datetime import UTC, datetime, timedelta

    import click

    from driver_routing.cli import parse_time
    from driver_routing.connection import aws_client, connect
    from driver_routing.live_accuracy import format_live_accuracy, live_accuracy
    from driver_routing.output import emit_json
    from driver_routing.review_week import WEEK, PlotUnavailable, plot_week, require_matplotlib, review_days
    from shared.aws.capture_table import CaptureTable

    if plot is not None:
        try:
            require_matplotlib()  # before anything is read: the one line, at once
        except PlotUnavailable as error:
            raise click.ClickException(str(error)) from None
    now = datetime.now(UTC)
    resources = connect(stack_name)
    table = CaptureTable(aws_client("dynamodb"), resources.capture_table)
    if since or plot is not None:
        start = parse_time(since, "--since") if since else now - timedelta(days=WEEK)
        records = table.in_window(start, now + timedelta(minutes=5))
    else:
        records = list(table.scan())
    summary = live_accuracy(records)
    click.echo(format_live_accuracy(summary))
    if plot is not None:
        plot_week(review_days(records, now.date()), plot)
        click.echo(f"the week's reviews drawn in {plot}")
    if as_json:
        emit_json(summary)
