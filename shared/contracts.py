"""The messages that travel between the four services, each defined once.

The photo's identity (bucket, key, ETag or version id) is the idempotency key all the way down:
every message carries the `PhotoRef` it is about.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The model's answer (shared.probabilities) is part of the contracts, and imported from here too.
from shared.probabilities import CLASS_NAME as CLASS_NAME
from shared.probabilities import NONE as NONE
from shared.probabilities import EndpointAnswer as EndpointAnswer
from shared.probabilities import Probabilities as Probabilities
from shared.probabilities import Probability

SCHEMA_VERSION = "2.0"
# The routing topic's messages: 1.2 adds fields only (the outcome, the depot, the number the rule
# compared and its threshold, the model's own answer), so a 1.x reader that ignores unknown fields reads
# every decision as before: the same `route`, bay, radius, class, confidence and vehicle probabilities.
DECISION_SCHEMA_VERSION = "1.2"


def utc_now() -> datetime:
    return datetime.now(UTC)


# What a dispatcher says of a photo that shows no vehicle; any other review label is a vehicle class.
NOT_A_VEHICLE = "not-a-vehicle"


class Route(StrEnum):
    """What happened to a photo: routed to a bay, sent to a person, or turned away."""

    ROUTED = "routed"
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
    # A dispatcher looked at the photo and saw no vehicle.
    NOT_A_VEHICLE = NOT_A_VEHICLE
    # A file we know and do not read (SVG, PDF, TIFF, RAW, video): the driver is told what to send.
    UNSUPPORTED_FORMAT = "unsupported-format"
    # The photo names a depot the routing rules do not know: nobody's bays to send the driver to.
    UNKNOWN_DEPOT = "unknown-depot"
    # An upload the API issued, whose object is not what was declared (size, type, key, upload id).
    UPLOAD_MISMATCH = "upload-mismatch"
    # A second object under an upload id already used: logged and counted, never decided.
    UPLOAD_REUSED = "upload-reused"


class PhotoRejected(Exception):
    """A photo the service will never route: the reason goes on the record, the batch goes on."""

    def __init__(self, reason: RejectionReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class ReviewReason(StrEnum):
    """Why a photo went to manual review rather than to a bay (a decision's `reason`)."""

    LOW_CONFIDENCE = "low-confidence"  # the likeliest class is under its threshold
    NO_TWO_WHEELER = "no-two-wheeler"  # the model sees no two-wheeler at all
    UNKNOWN_CLASS = "unknown-class"  # the model answered a class the rules give no bay


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
    # Not part of the identity: the depot the driver loads at (the object's `depot-id` metadata);
    # None routes by the rules' default depot.
    depot_id: str | None = None

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


class Prediction(Contract):
    """classifier → router: what the model said about one photo."""

    kind: Literal["prediction"] = "prediction"
    schema_version: str = SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    probabilities: Probabilities
    vehicle_class: str = Field(pattern=CLASS_NAME)
    confidence: Probability
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


class Review(Contract):
    """A dispatcher's decision on a photo: a vehicle class the rules know, or `not-a-vehicle`."""

    reviewer: str = Field(min_length=1, description="the dispatcher's user name")
    label: str = Field(pattern=CLASS_NAME)
    note: str = Field(default="", max_length=500)
    reviewed_at: datetime = Field(default_factory=utc_now)
    # A photo's reviews are numbered from 1 (the first review); each correction names the one it replaces.
    number: int = Field(default=1, ge=1, description="1 for the first review, then one more per correction")
    replaces: int | None = Field(default=None, ge=1, description="the number of the review it corrects")


class Claim(Contract):
    """A dispatcher looking at a photo: nobody else decides it until the lease ends or is released."""

    by: str = Field(min_length=1, description="the dispatcher's user name")
    until: datetime


MODEL_DECIDER = "model"


class Answer(Contract):
    """What a decision or a record says about the photo, shared by both (`shared.answers` reads it)."""

    route: str = Field(description="1.x: the class's order radius when routed, else the outcome")
    outcome: Route
    depot_id: str | None = None
    bay: str | None = None
    radius_km: float | None = None
    vehicle_class: str | None = Field(default=None, description="the class the driver is routed as")
    model_answer: str | None = Field(default=None, description="the model's class, or `none`")
    confidence: float | None = Field(default=None, description="the likeliest class's share")
    probabilities: dict[str, float] | None = Field(default=None, description="vehicle classes")
    none_probability: float | None = None
    compared: float | None = Field(default=None, description="the number the rule compared")
    threshold: float | None = Field(default=None, description="what the rule compared it with")
    reason: str | None = Field(default=None, description="why the outcome is manual-review or rejected")
    decided_by: str = MODEL_DECIDER
    review: Review | None = None

    @model_validator(mode="after")
    def _routed_answers_have_a_bay(self) -> Answer:
        routed = self.outcome == Route.ROUTED
        if routed and (self.bay is None or self.radius_km is None or self.vehicle_class is None):
            raise ValueError("a routed photo needs a bay, a radius and a vehicle class")
        if not routed and self.reason is None:
            raise ValueError(f"outcome {self.outcome} needs a reason")
        return self

    @property
    def is_routed(self) -> bool:
        return self.outcome == Route.ROUTED


class RoutingDecision(Answer):
    """router or a dispatcher's review → SNS routing topic: where the driver loads, which orders they get.

    Subscribers read it as a tolerant reader: a later minor version may add optional fields.
    """

    # Unlike the internal messages, the topic has subscribers outside this code base, on any version.
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: str = DECISION_SCHEMA_VERSION
    photo: PhotoRef
    driver_id: str
    endpoint_name: str | None = None
    model_version: str | None = None
    rules_version: str
    # When each stage finished, for latency per hop: ingest, classifier (or the rejecting stage), router.
    ingested_at: datetime | None = None
    assessed_at: datetime | None = None
    decided_at: datetime = Field(default_factory=utc_now)

    @property
    def deduplication_id(self) -> str:
        """What a FIFO topic deduplicates on: one decision per photo identity within its window, one
        first review of it and one per correction (a dispatcher's decision about the same photo is a
        decision of its own, and so is each correction of it)."""
        if self.review is None:
            return self.photo.photo_id
        if self.review.number == 1:
            return f"{self.photo.photo_id}-reviewed"
        return f"{self.photo.photo_id}-review-{self.review.number}"

    def message_attributes(self) -> dict[str, str]:
        """What SNS subscribers filter on (`route` as in 1.x, so 1.x filter policies keep working)."""
        attributes = {
            "route": self.route,
            "outcome": self.outcome.value,
            "schema_version": self.schema_version,
            "driver_id": self.driver_id,
            "decided_by": self.decided_by,
        }
        optional = {"depot_id": self.depot_id, "vehicle_class": self.vehicle_class, "bay": self.bay}
        attributes.update({name: value for name, value in optional.items() if value is not None})
        return attributes


class CaptureRecord(Answer):
    """capture → DynamoDB: one item per photo, keyed on the photo's identity."""

    schema_version: str = SCHEMA_VERSION
    photo_id: str
    photo_identity: str
    bucket: str
    photo_key: str
    original_name: str | None = None
    driver_id: str
    endpoint_name: str | None = None
    model_version: str | None = None
    rules_version: str
    uploaded_at: datetime
    ingested_at: datetime | None = None
    assessed_at: datetime | None = None
    decided_at: datetime
    captured_at: datetime = Field(default_factory=utc_now)
    photo_etag: str | None = None
    photo_version_id: str | None = None
    photo_size: int | None = None
    # Every review and correction, oldest first, appended and never rewritten; `review` is the last.
    history: tuple[Review, ...] = ()
    # Who is looking at it now (the table's lease, not part of the decision).
    claim: Claim | None = None

    @property
    def reviews(self) -> tuple[Review, ...]:
        """The photo's reviews, oldest first (a record reviewed before histories were kept: its one)."""
        if self.history:
            return self.history
        return (self.review,) if self.review is not None else ()

    @property
    def is_open_review(self) -> bool:
        """Waiting for a dispatcher: sent to manual review, and nobody has decided it yet."""
        return self.outcome == Route.MANUAL_REVIEW and self.review is None

    @model_validator(mode="before")
    @classmethod
    def _read_1x_records(cls, data: Any) -> Any:
        """Records written before 2.0 (still in the table) read as 2.0: their per-class `p_<class>`
        fields become the probabilities, their route names the outcome."""
        if not isinstance(data, dict) or "outcome" in data:
            return data
        data = dict(data)
        legacy = {name[2:]: data.pop(name) for name in list(data) if name.startswith("p_")}
        probabilities = {name: p for name, p in legacy.items() if p is not None}
        if probabilities:
            data.setdefault("probabilities", probabilities)
        route = data.get("route")
        data["outcome"] = route if route in (Route.MANUAL_REVIEW, Route.REJECTED) else Route.ROUTED
        review = data.get("review")
        model_class = data.get("vehicle_class")
        if isinstance(review, dict) and review.get("label") != NOT_A_VEHICLE:
            data["vehicle_class"] = review.get("label")
        elif data["outcome"] != Route.ROUTED:
            data["vehicle_class"] = None  # the class the driver is routed as: none
        no_two_wheeler = data.get("reason") == ReviewReason.NO_TWO_WHEELER
        data.setdefault("model_answer", NONE if no_two_wheeler else model_class)
        return data

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
            depot_id=self.depot_id,
        )

    @property
    def decision_day(self) -> str:
        """The time-window index's partition: one per UTC day of decision."""
        return self.decided_at.astimezone(UTC).strftime("%Y-%m-%d")

    @property
    def depot_day(self) -> str:
        """The depot board's partition: one per depot and UTC day of decision."""
        return f"{self.depot_id or ''}#{self.decision_day}"

    @classmethod
    def from_decision(cls, decision: RoutingDecision) -> CaptureRecord:
        return cls(
            **decision.model_dump(include=set(Answer.model_fields)),
            photo_id=decision.photo.photo_id,
            photo_identity=decision.photo.identity,
            bucket=decision.photo.bucket,
            photo_key=decision.photo.key,
            original_name=decision.photo.original_name,
            driver_id=decision.driver_id,
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
        )

    def decision(self) -> RoutingDecision:
        """The decision this record holds, as it went on the topic."""
        return RoutingDecision(
            **self.model_dump(include=set(Answer.model_fields)),
            photo=self.photo,
            driver_id=self.driver_id,
            endpoint_name=self.endpoint_name,
            model_version=self.model_version,
            rules_version=self.rules_version,
            ingested_at=self.ingested_at,
            assessed_at=self.assessed_at,
            decided_at=self.decided_at,
        )
