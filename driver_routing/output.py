"""What the commands print: one JSON object on the last line for scripts, and one line per decision."""

from __future__ import annotations

import json
from typing import Any

import click

from shared.contracts import CaptureRecord, RoutingDecision


def emit_json(payload: dict[str, Any]) -> None:
    """Scripts read the last line of stdout: one JSON object."""
    click.echo(json.dumps(payload, default=str, sort_keys=True))


def destination(route_bay: str | None, radius_km: float | None, reason: str | None) -> str:
    """Where a photo sent its driver: `bay B-near, 3 km`, or the reason it went nowhere."""
    if route_bay:
        return f"bay {route_bay}, {radius_km or 0:g} km"
    return reason or ""


def describe_decision(decision: RoutingDecision) -> str:
    confidence = f" ({decision.vehicle_class} {decision.confidence:.2f})" if decision.vehicle_class else ""
    where = destination(decision.bay, decision.radius_km, decision.reason)
    return (
        f"{decision.decided_at:%H:%M:%S} {decision.driver_id:<12} {decision.route:<13} "
        f"{where}{confidence}  {decision.photo.key}"
    )


def describe_record(record: CaptureRecord) -> str:
    where = destination(record.bay, record.radius_km, record.reason)
    return (
        f"{record.decided_at:%Y-%m-%d %H:%M:%S} {record.driver_id:<12} {record.route:<13} "
        f"{where:<22} {record.photo_key}"
    )
