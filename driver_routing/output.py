"""What the commands print: one JSON object on the last line for scripts, and one line per decision."""

from __future__ import annotations

import json
from datetime import datetime
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


def describe_history(record: CaptureRecord) -> list[str]:
    """The photo's reviews and corrections, oldest first, one line each (the last is the decision)."""
    lines = []
    for review in record.reviews:
        replaces = f", replaces review {review.replaces}" if review.replaces else ""
        note = f'  "{review.note}"' if review.note else ""
        lines.append(
            f"  review {review.number}{replaces}: {review.reviewed_at:%Y-%m-%d %H:%M:%S} "
            f"{review.reviewer}: {review.label}{note}"
        )
    return lines


def waited(seconds: float) -> str:
    """A wait as a person says it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def describe_open_review(record: CaptureRecord, now: datetime) -> str:
    name = f" ({record.original_name})" if record.original_name else ""
    wait = waited((now - record.uploaded_at).total_seconds())
    return f"{record.driver_id:<12} {record.depot_id or '-':<10} waiting {wait}  {record.photo_key}{name}"
