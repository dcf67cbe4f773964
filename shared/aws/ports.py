"""What the services need from the outside world, as `typing.Protocol`s.

The services are written against these; the boto3 adapters beside this module satisfy them in
production and the in-memory fakes in the tests. Nothing here imports boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from shared.contracts import CaptureRecord, PhotoRef, Probabilities, RoutingDecision


@dataclass(frozen=True)
class EndpointAnswer:
    probabilities: Probabilities
    model_version: str | None


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    # The file name the uploader gave (the object's `original-name` metadata), when it gave one.
    original_name: str | None = None


class PhotoReader(Protocol):
    def read(self, photo: PhotoRef, *, max_bytes: int) -> StoredPhoto:
        """The photo's bytes and metadata while it is still the object the event named.

        Raises `PhotoRejected` (object-missing, too-large) for what no retry can fix."""
        ...


class MessageSender(Protocol):
    def send(self, message: BaseModel) -> str:
        """Queue the contract; the message id."""
        ...


class DecisionPublisher(Protocol):
    def publish(self, decision: RoutingDecision) -> str:
        """Publish the decision to every subscriber; the message id."""
        ...


class CaptureWriter(Protocol):
    def put_once(self, record: CaptureRecord) -> bool:
        """Write the record unless its photo already has one; False when it had."""
        ...


class VehicleClassifier(Protocol):
    @property
    def name(self) -> str: ...

    def classify(self, jpeg: bytes) -> EndpointAnswer:
        """Probabilities for one JPEG. Raises `PhotoRejected` (endpoint-rejected) when the model refuses
        the image; any other error is transient and propagates."""
        ...
