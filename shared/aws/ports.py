"""What the services need from the outside world, as `typing.Protocol`s.

The services are written against these; the boto3 adapters beside this module satisfy them in
production and the in-memory fakes in the tests. Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from shared.contracts import CaptureRecord, Claim, EndpointAnswer, PhotoRef, RoutingDecision
from shared.upload_tickets import IssuedUpload, TicketUse

# What the capture table's sparse index `open-items` holds: photos waiting for a dispatcher, and
# reviews recorded but not yet published (the outbox).
OPEN_REVIEW, UNPUBLISHED = "review", "publish"


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    # The file name the uploader gave (the object's `original-name` metadata), when it gave one.
    original_name: str | None = None
    # The object's whole size: more than len(data) when only its first bytes were read.
    size: int | None = None
    # The depot the uploader named (the object's `depot-id` metadata), when it named one.
    depot_id: str | None = None
    # The object's Content-Type, and the upload id the API's form put in its metadata (if any).
    content_type: str | None = None
    upload_id: str | None = None


class PhotoReader(Protocol):
    def read(self, photo: PhotoRef, *, max_bytes: int, first_bytes: int | None = None) -> StoredPhoto:
        """The photo's bytes (only the first `first_bytes` when given) and metadata, while it is still
        the object the event named.

        Raises `PhotoRejected` (object-missing, too-large) for what no retry can fix."""
        ...


class UploadClaims(Protocol):
    def claim(self, upload_id: str, photo_identity: str) -> IssuedUpload | None:
        """The ticket the API issued for this upload id, now used by this photo; None if it issued none.

        Raises `UploadReused` when another object already used it."""
        ...


class MessageSender(Protocol):
    def send(self, message: BaseModel) -> None:
        """Queue the contract (with the invocation's other messages, in one batch call)."""
        ...


class DecisionPublisher(Protocol):
    def publish(self, decision: RoutingDecision) -> None:
        """Publish the decision to every subscriber (with the invocation's other decisions)."""
        ...


class DecisionRecords(Protocol):
    def has_record(self, photo_id: str) -> bool:
        """Whether the capture table holds this photo's decision (so it was published)."""
        ...


class CaptureWriter(Protocol):
    def put_once(self, record: CaptureRecord) -> bool:
        """Write the record unless its photo already has one; False when it had."""
        ...


class VehicleClassifier(Protocol):
    """A `shared.batching.Destination`: the images of one invocation in one call."""

    @property
    def name(self) -> str: ...

    @property
    def batch_limit(self) -> int: ...

    def send_batch(self, jpegs: Sequence[bytes]) -> Sequence[EndpointAnswer | Exception]:
        """Per JPEG, its probabilities, or a `shared.imaging.PhotoRejected` (endpoint-rejected) when the
        model refuses that image (not named here: the router and capture import this module without
        Pillow). Any error of the call as a whole is transient and propagates."""
        ...


class RecordReader(Protocol):
    """What the API reads of the capture table."""

    def get(self, photo_id: str) -> CaptureRecord | None: ...

    def find_by_key_prefix(self, driver_id: str, key_prefix: str) -> CaptureRecord | None:
        """The driver's newest record whose photo key starts with `key_prefix`."""
        ...

    def for_driver(
        self, driver_id: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[CaptureRecord]:
        """The driver's records (decided at `since` or later, when given), newest first."""
        ...

    def in_window(
        self, since: datetime, until: datetime, *, depot_id: str | None = None
    ) -> list[CaptureRecord]:
        """Decisions with since <= decided_at < until (at one depot, when given), oldest first."""
        ...


class ReviewRecords(RecordReader, Protocol):
    """The capture table as the review desk writes it: decisions with their outbox, leases."""

    def put_decision(self, reviewed: CaptureRecord) -> bool:
        """Record a review (or a correction of the review it names) with its publish still to do, in
        one conditional write; False when the photo is not waiting for it, the named review is no
        longer the latest, or another dispatcher's lease holds."""
        ...

    def mark_published(self, photo_id: str, review_number: int) -> None:
        """That review has reached the topic: out of the outbox (unless a later one replaced it)."""
        ...

    def claim(self, photo_id: str, by: str, until: datetime, now: datetime) -> Claim | None:
        """Take or renew `by`'s lease unless another's holds at `now`: the holder's claim (None: no
        such photo)."""
        ...

    def release(self, photo_id: str, by: str) -> None:
        """End `by`'s lease, if they hold it."""
        ...

    def open_items(self, kind: str, *, depot_id: str | None = None) -> list[CaptureRecord]:
        """Open reviews (`review`) or unpublished decisions (`publish`), oldest first, whatever their age."""
        ...


class PhotoLinks(Protocol):
    """Presigned S3 requests: the bucket stays private."""

    def upload_form(self, upload: IssuedUpload, expires_s: int) -> tuple[str, dict[str, str]]:
        """A POST form for exactly this upload: its key, type, size, upload id and depot pinned."""
        ...

    def download_url(self, key: str, version_id: str | None, expires_s: int) -> str: ...

    def exists(self, key_prefix: str) -> bool: ...


class UploadTickets(Protocol):
    """The uploads table as the API writes it (`shared.aws.upload_tickets`)."""

    def start(self, driver_id: str, per_minute: int) -> None:
        """Count a new upload for this driver in this minute; raises `TooManyUploads` over the limit."""
        ...

    def issue(self, upload: IssuedUpload) -> None:
        """Record what the form allows, for ingest to check the object against."""
        ...

    def use_of(self, upload_id: str) -> TicketUse:
        """Whether the API issued this upload, and which photo used it."""
        ...
