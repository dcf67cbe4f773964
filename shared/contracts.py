"""The messages that travel between the four services, each defined once.

The photo's identity (bucket, key, ETag or version id) is the idempotency key all the way down:
every message carries the `PhotoRef` it is about.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

SCHEMA_VERSION = "1.0"
# 1.1 adds optional fields only (a decision made by a dispatcher's review, `decided_by`, `review`):
# a 1.0 reader that ignores unknown fields reads it as the same route, bay and driver.
REVIEWED_SCHEMA_VERSION = "1.1"


def utc_now() -> datetime:
    return datetime.now(UTC)


class VehicleClass(StrEnum):
    BICYCLE = "bicycle"
    MOTORCYCLE = "motorcycle"


# The order of the endpoint's answer `[p_bicycle, p_motorcycle]` or `[p_bicycle, p_motorcycle, p_other]`
# (SageMaker's built-in image-classification algorithm: class index 0 = bicycle, 1 = motorcycle,
# 2 = other, a photo that shows neither).
CLASS_ORDER: tuple[VehicleClass, ...] = (VehicleClass.BICYCLE, VehicleClass.MOTORCYCLE)
OTHER_CLASS = "other"


class Route(StrEnum):
    SHORT_RADIUS = "short-radius"
    LONG_RADIUS = "long-radius"
    MANUAL_REVIEW = "manual-review"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    """Why a photo was not routed. Each code is a metric dimension and a capture-record field."""

    BAD_KEY = "bad-key"
    INVALID_DRIVER_ID = "invalid-driver-id"
    EMPTY_OBJECT = "empty-object"
    TOO_LARGE = "too-large"
    UNSUPPORTED_EXTENSION = "unsupported-extension"
    NOT_AN_IMAGE = "not-an-image"
    CORRUPT_IMAGE = "corrupt-image"
    DECOMPRESSION_BOMB = "decompression-bomb"
    EXTENSION_MISMATCH = "extension-mismatch"
    OBJECT_MISSING = "object-missing"
    ENDPOINT_REJECTED = "endpoint-rejected"
    # A dispatcher looked at the photo and saw no bicycle and no motorcycle.
    NOT_A_VEHICLE = "not-a-vehicle"
    # A file we know and do not read (SVG, PDF, TIFF, RAW, video): the driver is told what to send.
    UNSUPPORTED_FORMAT = "unsupported-format"
    # An upload the API issued, whose object is not what was declared (size, type, key, upload id).
    UPLOAD_MISMATCH = "upload-mismatch"
    # A second object under an upload id already used: logged and counted, never decided.
    UPLOAD_REUSED = "upload-reused"


class ReviewReason(StrEnum):
    """Why a photo went to manual review rather than to a bay (a decision's `reason`)."""

    LOW_CONFIDENCE = "low-confidence"
    NO_TWO_WHEELER = "no-two-wheeler"  # the model sees neither a bicycle nor a motorcycle


def photo_identity(bucket: str, key: str, etag: str, version_id: str | None = None) -> str:
    return f"s3://{bucket}/{key}#{version_id or etag}"


def photo_id(identity: str) -> str:
    """A short, stable, key-safe digest of a photo's identity: the capture table's partition key."""
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhotoRef(Contract):
    """Where a photo lives, never its bytes."""

    bucket: str
    key: str
    etag: str = Field(description="ETag from the S3 event, quotes stripped")
    version_id: str | None = None
    size: int = Field(ge=0)
    uploaded_at: datetime
    # Not part of the identity: what the uploader called the file (the object's `original-name`
    # metadata), so that people can find a photo by the name they gave it.
    original_name: str | None = None

    @property
    def identity(self) -> str:
        return photo_identity(self.bucket, self.key, self.etag, self.version_id)

    @property
    def photo_id(self) -> str:
        return photo_id(self.identity)


class PhotoJob(Contract):
    """ingest → classifier: a validated photo waiting for a prediction."""

    kind: Literal["photo-job"] = "photo-job"
    schema_version: str = SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    content_type: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    received_at: datetime = Field(default_factory=utc_now)


class Probabilities(Contract):
    """What the model said. `other` (neither class) only comes from a three-class model; it is left
    out of the message when absent, so a two-class answer serialises exactly as it always has."""

    bicycle: float = Field(ge=0.0, le=1.0)
    motorcycle: float = Field(ge=0.0, le=1.0)
    other: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_serializer(mode="wrap")
    def _leave_out_absent_other(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get(OTHER_CLASS, 0.0) is None:
            del data[OTHER_CLASS]
        return data

    @classmethod
    def from_endpoint(cls, scores: list[float]) -> Probabilities:
        """Read `[p_bicycle, p_motorcycle]` or `[p_bicycle, p_motorcycle, p_other]`."""
        if len(scores) not in (len(CLASS_ORDER), len(CLASS_ORDER) + 1):
            raise ValueError(
                f"expected {len(CLASS_ORDER)} or {len(CLASS_ORDER) + 1} probabilities, got {len(scores)}"
            )
        values = {c.value: float(p) for c, p in zip(CLASS_ORDER, scores, strict=False)}
        other = float(scores[len(CLASS_ORDER)]) if len(scores) > len(CLASS_ORDER) else None
        return cls(**values, other=other)

    def vehicles(self) -> Probabilities:
        """The two vehicle probabilities alone: what a decision carries, in the 1.0 schema's shape, so
        a subscriber of that schema still reads every decision (a "neither" one says so in `reason`)."""
        return Probabilities(bicycle=self.bicycle, motorcycle=self.motorcycle)

    @property
    def top(self) -> tuple[VehicleClass, float]:
        """The likelier vehicle and its probability given that the photo shows one of the two.

        With two probabilities this is the larger one, as before; with three, the vehicle's share of
        `bicycle + motorcycle`, so the confidence bar means the same for both kinds of model and the
        "neither" answer is judged on its own (`other`).
        """
        vehicles = self.bicycle + self.motorcycle
        if self.other is None or vehicles <= 0.0:
            best = max(self.bicycle, self.motorcycle)
        else:
            best = max(self.bicycle, self.motorcycle) / vehicles
        cls = VehicleClass.MOTORCYCLE if self.motorcycle > self.bicycle else VehicleClass.BICYCLE
        return cls, min(1.0, best)


class Prediction(Contract):
    """classifier → router: what the model said about one photo."""

    kind: Literal["prediction"] = "prediction"
    schema_version: str = SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    probabilities: Probabilities
    vehicle_class: VehicleClass
    confidence: float = Field(ge=0.0, le=1.0)
    endpoint_name: str
    model_version: str | None = None
    ingested_at: datetime | None = Field(default=None, description="when ingest queued the job")
    predicted_at: datetime = Field(default_factory=utc_now)


class Rejection(Contract):
    """ingest or classifier → router: a photo that cannot be routed, and why."""

    kind: Literal["rejection"] = "rejection"
    schema_version: str = SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    reason: RejectionReason
    detail: str = ""
    rejected_at: datetime = Field(default_factory=utc_now)


# What the route queue carries: the router decides on either.
Assessment = Annotated[Prediction | Rejection, Field(discriminator="kind")]


class ReviewLabel(StrEnum):
    """What a dispatcher may say a photo shows."""

    BICYCLE = "bicycle"
    MOTORCYCLE = "motorcycle"
    NOT_A_VEHICLE = "not-a-vehicle"


class Review(Contract):
    """A dispatcher's decision on a photo the model was unsure of."""

    reviewer: str = Field(min_length=1, description="the dispatcher's user name")
    label: ReviewLabel
    note: str = Field(default="", max_length=500)
    reviewed_at: datetime = Field(default_factory=utc_now)


MODEL_DECIDER = "model"


class RoutingDecision(Contract):
    """router or a dispatcher's review → SNS routing topic: where the driver loads, which orders they get.

    Subscribers read it as a tolerant reader: a later minor version may add optional fields.
    """

    # Unlike the internal messages, the topic has subscribers outside this code base, on any version.
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: str = SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    route: Route
    bay: str | None = None
    radius_km: float | None = None
    vehicle_class: VehicleClass | None = None
    confidence: float | None = None
    probabilities: Probabilities | None = None
    reason: str | None = Field(default=None, description="why the route is manual-review or rejected")
    endpoint_name: str | None = None
    model_version: str | None = None
    rules_version: str
    # When each stage finished, for latency per hop: ingest, classifier (or the rejecting stage), router.
    ingested_at: datetime | None = None
    assessed_at: datetime | None = None
    decided_at: datetime = Field(default_factory=utc_now)
    # Since 1.1: who decided ("model", or "dispatcher:<user>") and the review behind that decision.
    decided_by: str = MODEL_DECIDER
    review: Review | None = None

    @model_validator(mode="after")
    def _routed_decisions_have_a_bay(self) -> RoutingDecision:
        routed = self.route in (Route.SHORT_RADIUS, Route.LONG_RADIUS)
        if routed and (self.bay is None or self.radius_km is None or self.vehicle_class is None):
            raise ValueError(f"route {self.route} needs a bay, a radius and a vehicle class")
        if not routed and self.reason is None:
            raise ValueError(f"route {self.route} needs a reason")
        return self

    @property
    def deduplication_id(self) -> str:
        """What a FIFO topic deduplicates on: one decision per photo identity within its window, and
        one review of it (a dispatcher's decision about the same photo is a decision of its own)."""
        return self.photo.photo_id if self.review is None else f"{self.photo.photo_id}-reviewed"

    def message_attributes(self) -> dict[str, str]:
        """What SNS subscribers filter on."""
        attributes = {
            "route": self.route.value,
            "schema_version": self.schema_version,
            "driver_id": self.driver_id,
        }
        if self.vehicle_class is not None:
            attributes["vehicle_class"] = self.vehicle_class.value
        if self.bay is not None:
            attributes["bay"] = self.bay
        if self.review is not None:
            attributes["decided_by"] = self.decided_by
        return attributes


class CaptureRecord(Contract):
    """capture → DynamoDB: one item per photo, keyed on the photo's identity."""

    schema_version: str = SCHEMA_VERSION
    photo_id: str
    photo_identity: str
    bucket: str
    photo_key: str
    original_name: str | None = None
    driver_id: str
    route: Route
    bay: str | None = None
    radius_km: float | None = None
    vehicle_class: VehicleClass | None = None
    confidence: float | None = None
    p_bicycle: float | None = None
    p_motorcycle: float | None = None
    reason: str | None = None
    endpoint_name: str | None = None
    model_version: str | None = None
    rules_version: str
    uploaded_at: datetime
    ingested_at: datetime | None = None
    assessed_at: datetime | None = None
    decided_at: datetime
    captured_at: datetime = Field(default_factory=utc_now)
    # Since 1.1: what rebuilds the photo's reference, and the review that decided a manual-review photo.
    photo_etag: str | None = None
    photo_version_id: str | None = None
    photo_size: int | None = None
    decided_by: str = MODEL_DECIDER
    review: Review | None = None

    @property
    def photo(self) -> PhotoRef:
        """The photo's reference; from records older than 1.1, rebuilt from the identity (same photo id)."""
        etag = self.photo_etag or self.photo_identity.rsplit("#", 1)[-1]
        version_id = self.photo_version_id if self.photo_etag else None
        return PhotoRef(
            bucket=self.bucket,
            key=self.photo_key,
            etag=etag,
            version_id=version_id,
            size=self.photo_size or 0,
            uploaded_at=self.uploaded_at,
            original_name=self.original_name,
        )

    @property
    def decision_day(self) -> str:
        """The time-window index's partition: one per UTC day of decision."""
        return self.decided_at.astimezone(UTC).strftime("%Y-%m-%d")

    @classmethod
    def from_decision(cls, decision: RoutingDecision) -> CaptureRecord:
        probabilities = decision.probabilities
        return cls(
            photo_id=decision.photo.photo_id,
            photo_identity=decision.photo.identity,
            bucket=decision.photo.bucket,
            photo_key=decision.photo.key,
            original_name=decision.photo.original_name,
            driver_id=decision.driver_id,
            route=decision.route,
            bay=decision.bay,
            radius_km=decision.radius_km,
            vehicle_class=decision.vehicle_class,
            confidence=decision.confidence,
            p_bicycle=probabilities.bicycle if probabilities else None,
            p_motorcycle=probabilities.motorcycle if probabilities else None,
            reason=decision.reason,
            endpoint_name=decision.endpoint_name,
            model_version=decision.model_version,
            rules_version=decision.rules_version,
            uploaded_at=decision.photo.uploaded_at,
            ingested_at=decision.ingested_at,
            assessed_at=decision.assessed_at,
            decided_at=decision.decided_at,
            photo_etag=decision.photo.etag,
            photo_version_id=decision.photo.version_id,
            photo_size=decision.photo.size,
            decided_by=decision.decided_by,
            review=decision.review,
        )
