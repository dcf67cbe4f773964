"""In-memory stand-ins for the ports in shared/aws/ports.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from local.eventsource import LocalLambdaContext
from shared.aws.ports import StoredPhoto
from shared.contracts import (
    CaptureRecord,
    EndpointAnswer,
    PhotoRef,
    PhotoRejected,
    Probabilities,
    RejectionReason,
    RoutingDecision,
)
from shared.upload_tickets import IssuedUpload, UploadReused


@dataclass
class FakePhotoStore:
    """Photos by key. Like S3 with If-Match: a photo whose ETag changed since the event is missing."""

    photos: dict[str, tuple[str, StoredPhoto]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    # (key, first_bytes) of every read: None for a whole read
    ranges: list[tuple[str, int | None]] = field(default_factory=list)

    def put(
        self,
        photo: PhotoRef,
        data: bytes,
        *,
        original_name: str | None = None,
        depot_id: str | None = None,
        content_type: str | None = None,
        upload_id: str | None = None,
    ) -> None:
        stored = StoredPhoto(
            data, original_name, len(data), depot_id=depot_id, content_type=content_type, upload_id=upload_id
        )
        self.photos[photo.key] = (photo.etag, stored)

    def read(self, photo: PhotoRef, *, max_bytes: int, first_bytes: int | None = None) -> StoredPhoto:
        self.reads.append(photo.key)
        self.ranges.append((photo.key, first_bytes))
        etag, stored = self.photos.get(photo.key, ("", StoredPhoto(b"")))
        if etag != photo.etag:
            raise PhotoRejected(RejectionReason.OBJECT_MISSING, f"NoSuchKey for {photo.key}")
        if len(stored.data) > max_bytes:
            raise PhotoRejected(RejectionReason.TOO_LARGE, f"{len(stored.data)} bytes > {max_bytes}")
        data = stored.data[:first_bytes] if first_bytes else stored.data
        return StoredPhoto(
            data,
            stored.original_name,
            len(stored.data),
            depot_id=stored.depot_id,
            content_type=stored.content_type,
            upload_id=stored.upload_id,
        )


@dataclass
class FakeUploadTickets:
    """The uploads table's claims: the tickets issued, and which photo used each."""

    issued: dict[str, IssuedUpload] = field(default_factory=dict)
    used_by: dict[str, str] = field(default_factory=dict)

    def claim(self, upload_id: str, photo_identity: str) -> IssuedUpload | None:
        ticket = self.issued.get(upload_id)
        if ticket is None:
            return None
        if self.used_by.setdefault(upload_id, photo_identity) != photo_identity:
            raise UploadReused(upload_id, self.used_by[upload_id])
        return ticket


@dataclass
class FakeQueue:
    sent: list[BaseModel] = field(default_factory=list)
    failure: Exception | None = None

    def send(self, message: BaseModel) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)


@dataclass
class FakeTopic:
    published: list[RoutingDecision] = field(default_factory=list)
    failure: Exception | None = None

    def publish(self, decision: RoutingDecision) -> None:
        if self.failure is not None:
            raise self.failure
        self.published.append(decision)


@dataclass
class FakeCaptureTable:
    """The conditional put on `photo_id`: the first record of a photo wins."""

    records: dict[str, CaptureRecord] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def put_once(self, record: CaptureRecord) -> bool:
        if record.photo_id in self.records:
            return False
        self.records[record.photo_id] = record
        return True

    def has_record(self, photo_id: str) -> bool:
        self.lookups.append(photo_id)
        return photo_id in self.records


@dataclass
class FakeEndpoint:
    """Answers each image with the next of `answers`: probabilities, a `PhotoRejected` for that image,
    or another exception, which fails the whole call."""

    answers: list[Probabilities | Exception] = field(default_factory=list)
    model_version: str | None = "test-model"
    name: str = "vehicle-classifier-test"
    batch_limit: int = 10
    payloads: list[bytes] = field(default_factory=list)
    calls: int = 0

    def send_batch(self, jpegs: Sequence[bytes]) -> list[EndpointAnswer | Exception]:
        self.calls += 1
        self.payloads.extend(jpegs)
        results: list[EndpointAnswer | Exception] = []
        for _ in jpegs:
            answer = self.answers.pop(0)
            if isinstance(answer, PhotoRejected):
                results.append(answer)
            elif isinstance(answer, Exception):
                raise answer
            else:
                results.append(EndpointAnswer(answer, self.model_version))
        return results


def photo_at(key: str, *, etag: str = "etag-1", bucket: str = "photos", size: int = 1) -> PhotoRef:
    return PhotoRef(bucket=bucket, key=key, etag=etag, size=size, uploaded_at=datetime.now(UTC))


def lambda_context(function_name: str, timeout_s: float = 30) -> LambdaContext:
    """The local event source's context, typed as the Lambda one Powertools expects."""
    return cast(LambdaContext, LocalLambdaContext(function_name, timeout_s))
