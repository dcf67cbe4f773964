"""What the services need from the outside world, as `typing.Protocol`s.

The services are written against these; the boto3 adapters beside this module satisfy them in
production and the in-memory fakes in the tests. Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from shared.contracts import CaptureRecord, PhotoRef, Probabilities, RoutingDecision
from shared.upload_tickets import IssuedUpload


@dataclass(frozen=True)
class EndpointAnswer:
    probabilities: Probabilities
    model_version: str | None


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    # The file name the uploader gave (the object's `original-name` metadata), when it gave one.
    original_name: str | None = None
    # The object's whole size: more than len(data) when only its first bytes were read.
    size: int | None = None
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
