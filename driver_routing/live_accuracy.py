"""`driver-routing evaluate --reviews`: how the model does on live photos, judged by dispatchers.

From the capture table: the model's accuracy on the photos a dispatcher reviewed (its class against
the dispatcher's label; "not a vehicle" counts as a miss), and the share of routed drivers the model
routed versus a dispatcher. Only photos under the confidence threshold reach a dispatcher, so the
accuracy is the model's on its hardest cases, not on all traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from shared.contracts import CaptureRecord, Route

ROUTED = (Route.SHORT_RADIUS, Route.LONG_RADIUS)


def live_accuracy(records: Iterable[CaptureRecord]) -> dict[str, Any]:
    reviewed = 0
    correct = 0
    confusion: Counter[tuple[str, str]] = Counter()
    by_model = by_dispatcher = waiting = 0
    for record in records:
        if record.review is not None:
            reviewed += 1
            predicted = record.vehicle_class.value if record.vehicle_class else "none"
            confusion[(predicted, record.review.label.value)] += 1
            correct += predicted == record.review.label.value
        if record.route in ROUTED:
            if record.review is None:
                by_model += 1
            else:
                by_dispatcher += 1
        elif record.route == Route.MANUAL_REVIEW and record.review is None:
            waiting += 1
    routed = by_model + by_dispatcher
    return {
        "reviewed": reviewed,
        "model_correct": correct,
        "model_accuracy_on_reviewed": round(correct / reviewed, 4) if reviewed else None,
        "routed": routed,
        "routed_by_model": by_model,
        "routed_by_dispatcher": by_dispatcher,
        "share_routed_by_model": round(by_model / routed, 4) if routed else None,
        "share_routed_by_dispatcher": round(by_dispatcher / routed, 4) if routed else None,
        "waiting_for_review": waiting,
        "confusion": {f"{model} -> {label}": n for (model, label), n in sorted(confusion.items())},
    }


def format_live_accuracy(summary: dict[str, Any]) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    lines = [
        f"reviewed photos: {summary['reviewed']}; the model agreed with the dispatcher on "
        f"{summary['model_correct']} ({share(summary['model_accuracy_on_reviewed'])})",
        f"routed drivers: {summary['routed']}; by the model {summary['routed_by_model']} "
        f"({share(summary['share_routed_by_model'])}), by a dispatcher {summary['routed_by_dispatcher']} "
        f"({share(summary['share_routed_by_dispatcher'])}); "
        f"waiting for review: {summary['waiting_for_review']}",
    ]
    lines += [f"  model {pair}: {n}" for pair, n in summary["confusion"].items()]
    lines.append(
        "(only photos under the confidence threshold are reviewed: this is the model on its hardest cases)"
    )
    return "\n".join(lines)


def report(stack_name: str, since: str | None, as_json: bool) -> None:
    """Read the stack's capture table (all of it, or decisions since `since`) and print the summary."""
    from datetime import UTC, datetime, timedelta

    import click

    from driver_routing.cli import parse_time
    from driver_routing.connection import aws_client, connect
    from driver_routing.output import emit_json
    from shared.aws.capture_table import CaptureTable

    resources = connect(stack_name)
    table = CaptureTable(aws_client("dynamodb"), resources.capture_table)
    if since:
        records = table.in_window(parse_time(since, "--since"), datetime.now(UTC) + timedelta(minutes=5))
    else:
        records = list(table.scan())
    summary = live_accuracy(records)
    click.echo(format_live_accuracy(summary))
    if as_json:
        emit_json(summary)
