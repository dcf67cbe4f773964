"""The review desk's rules, pure: a photo's history of reviews, corrections and leases.

A photo's reviews are appended, never rewritten: the first review (number 1) of a photo waiting for
one, then corrections, each naming the review it replaces, which must be the latest (a correction of a
correction that someone has already corrected is stale). The record's decision is its latest review's.
A dispatcher who opens a photo holds a lease on it: nobody else decides it until the lease ends or is
released.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.api.errors import AlreadyDecided, Claimed, Stale
from shared.contracts import CaptureRecord, Review, RoutingDecision

# How long opening a card keeps it for one dispatcher; the board renews it while the card is open.
LEASE = timedelta(minutes=2)


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


def first_review(record: CaptureRecord, reviewer: str, label: str, note: str, now: datetime) -> Review:
    """Review 1 of a photo waiting for a dispatcher."""
    if not record.is_open_review:
        latest = record.review
        by = f" by {latest.reviewer} (review {latest.number}): correct it instead" if latest else ""
        raise AlreadyDecided(f"this photo has already been decided{by}")
    return Review(reviewer=reviewer, label=label, note=note, reviewed_at=now)


def correction(
    record: CaptureRecord,
    reviewer: str,
    label: str,
    note: str,
    replaces: int,
    now: datetime,
    window: timedelta,
) -> Review:
    """The review that replaces review `replaces`, which must be the latest, within `window` (a shift)
    of the photo's first review."""
    latest = record.review
    if latest is None:
        raise AlreadyDecided("this photo has no review to correct")
    if replaces != latest.number:
        raise Stale(
            f"review {replaces} is no longer the latest: {latest.reviewer} made review {latest.number} "
            f"at {_clock(latest.reviewed_at)}; look at it again"
        )
    first = record.reviews[0]
    if now - first.reviewed_at > window:
        raise AlreadyDecided(f"reviews may be corrected for {window} after the first; this one is older")
    return Review(
        reviewer=reviewer,
        label=label,
        note=note,
        reviewed_at=now,
        number=latest.number + 1,
        replaces=latest.number,
    )


def check_claim(record: CaptureRecord, dispatcher: str, now: datetime) -> None:
    """Refuse a decision while another dispatcher's lease holds."""
    claim = record.claim
    if claim is not None and claim.by != dispatcher and claim.until > now:
        raise Claimed(f"{claim.by} is looking at this photo (until {_clock(claim.until)})")


def reviewed_record(record: CaptureRecord, decision: RoutingDecision, now: datetime) -> CaptureRecord:
    """The record after the decision's review: that decision, what the record knew, and its history
    with the review appended."""
    assert decision.review is not None
    return CaptureRecord.from_decision(decision).model_copy(
        update={
            "captured_at": now,
            "original_name": record.original_name,
            "history": (*record.reviews, decision.review),
        }
    )


def waiting_since(record: CaptureRecord) -> datetime:
    """Since when the driver has waited: the photo's upload."""
    return record.uploaded_at
