"""In-memory stand-ins for the ports in shared/aws/ports.py, and for the idempotency table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from local.eventsource import LocalLambdaContext
from shared.aws.ports import EndpointAnswer, StoredPhoto
from shared.contracts import CaptureRecord, PhotoRef, Probabilities, RejectionReason, RoutingDecision
from shared.imaging import PhotoRejected


@dataclass
class FakePhotoStore:
    """Photos by key. Like S3 with If-Match: a photo whose ETag changed since the event is missing."""

    photos: dict[str, tuple[str, StoredPhoto]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def put(self, photo: PhotoRef, data: bytes, *, original_name: str | None = None) -> None:
        self.photos[photo.key] = (photo.etag, StoredPhoto(data, original_name))

    def read(self, photo: PhotoRef, *, max_bytes: int) -> StoredPhoto:
        self.reads.append(photo.key)
        etag, stored = self.photos.get(photo.key, ("", StoredPhoto(b"")))
        if etag != photo.etag:
            raise PhotoRejected(RejectionReason.OBJECT_MISSING, f"NoSuchKey for {photo.key}")
        if len(stored.data) > max_bytes:
            raise PhotoRejected(RejectionReason.TOO_LARGE, f"{len(stored.data)} bytes > {max_bytes}")
        return stored


@dataclass
class FakeQueue:
    sent: list[BaseModel] = field(default_factory=list)
    failure: Exception | None = None

    def send(self, message: BaseModel) -> str:
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)
        return f"m-{len(self.sent)}"


@dataclass
class FakeTopic:
    published: list[RoutingDecision] = field(default_factory=list)
    failure: Exception | None = None

    def publish(self, decision: RoutingDecision) -> str:
        if self.failure is not None:
            raise self.failure
        self.published.append(decision)
        return f"sns-{len(self.published)}"


@dataclass
class FakeCaptureTable:
    """The conditional put on `photo_id`: the first record of a photo wins."""

    records: dict[str, CaptureRecord] = field(default_factory=dict)

    def put_once(self, record: CaptureRecord) -> bool:
        if record.photo_id in self.records:
            return False
        self.records[record.photo_id] = record
        return True


@dataclass
class FakeEndpoint:
    """Answers each call with the next of `answers`: probabilities, or an exception to raise."""

    answers: list[Probabilities | Exception] = field(default_factory=list)
    model_version: str | None = "test-model"
    name: str = "vehicle-classifier-test"
    payloads: list[bytes] = field(default_factory=list)

    def classify(self, jpeg: bytes) -> EndpointAnswer:
        self.payloads.append(jpeg)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return EndpointAnswer(answer, self.model_version)


class InMemoryPersistence(BasePersistenceLayer):
    """Powertools' idempotency records in a dict, with the DynamoDB layer's conditional write: a put
    fails while a completed record lives or an INPROGRESS one has not reached its in-progress expiry."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError(idempotency_key) from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and self._still_holds(existing):
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)

    @staticmethod
    def _still_holds(record: DataRecord) -> bool:
        if record.status == STATUS_CONSTANTS["EXPIRED"]:
            return False
        if record.status == STATUS_CONSTANTS["INPROGRESS"] and record.in_progress_expiry_timestamp:
            return record.in_progress_expiry_timestamp >= int(time.time() * 1000)
        return True


def photo_at(key: str, *, etag: str = "etag-1", bucket: str = "photos", size: int = 1) -> PhotoRef:
    return PhotoRef(bucket=bucket, key=key, etag=etag, size=size, uploaded_at=datetime.now(UTC))


def lambda_context(function_name: str, timeout_s: float = 30) -> LambdaContext:
    """The local event source's context, typed as the Lambda one Powertools expects."""
    return cast(LambdaContext, LocalLambdaContext(function_name, timeout_s))
