"""What the commands print: one JSON object on the last line for scripts, and one line per decision."""

from __future__ import annotations

import json
from typing import Any

import click

from shared.answers import answer_line
from shared.contracts import CaptureRecord, RoutingDecision


def emit_json(payload: dict[str, Any]) -> None:
    """Scripts read the last line of stdout: one JSON object."""
    click.echo(json.dumps(payload, default=str, sort_keys=True))


def describe_decision(decision: RoutingDecision) -> str:
    return (
        f"{decision.decided_at:%H:%M:%S} {decision.driver_id:<12} {decision.depot_id or '-':<10} "
        f"{answer_line(decision)}  {decision.photo.key}"
    )


def describe_record(record: CaptureRecord) -> str:
    return (
        f"{record.decided_at:%Y-%m-%d %H:%M:%S} {record.driver_id:<12} {record.depot_id or '-':<10} "
        f"{answer_line(record)}  {record.photo_key}"
    )
