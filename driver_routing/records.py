"""The reads `driver-routing query` and `status` make of the capture table: a photo, a driver, a time
window, and the photos waiting for a dispatcher."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from driver_routing.stack_outputs import StackResources
from shared.aws.capture_table import CaptureTable
from shared.aws.ports import OPEN_REVIEW
from shared.contracts import CaptureRecord

PHOTO_PREFIX = "photos/"


def find_records(
    dynamodb: Any,
    resources: StackResources,
    *,
    photo: str | None = None,
    driver_id: str | None = None,
    window: tuple[datetime, datetime] | None = None,
    limit: int,
) -> tuple[list[CaptureRecord], bool]:
    """Up to `limit` records, newest first, and whether more matched."""
    table = CaptureTable(dynamodb, resources.capture_table)
    if photo and photo.startswith(PHOTO_PREFIX):
        # The key names its driver (photos/{driver_id}/{name}): one query of the driver's index.
        key_driver = photo.split("/")[1] if photo.count("/") >= 2 else ""
        candidates = table.for_driver(key_driver) if key_driver else []
        matched = [r for r in candidates if r.photo_key == photo]
    else:
        if driver_id:
            candidates = table.for_driver(driver_id)
        elif window:
            candidates = table.in_window(*window)
        else:
            candidates = list(table.scan())
        matched = [r for r in candidates if photo is None or r.original_name == photo]
    if driver_id:
        matched = [r for r in matched if r.driver_id == driver_id]
    if window:
        since, until = window
        matched = [r for r in matched if since <= r.decided_at < until]
    matched.sort(key=lambda r: r.decided_at, reverse=True)
    return matched[:limit], len(matched) > limit


def open_reviews(dynamodb: Any, resources: StackResources) -> list[CaptureRecord]:
    """Every photo waiting for a dispatcher, at every depot, the longest-waiting first (the sparse
    index of open items: no scan, whatever their age)."""
    records = CaptureTable(dynamodb, resources.capture_table).open_items(OPEN_REVIEW)
    return sorted(records, key=lambda r: r.uploaded_at)
