"""The API's request and response bodies (validated by Powertools' event handler with pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.answers import answer_line
from shared.contracts import CLASS_NAME, CaptureRecord, Route
from shared.formats import UPLOAD_CONTENT_TYPES

UPLOAD_TOKEN = r"^[0-9a-f]{32}$"


def _accepted(content_type: str) -> str:
    if content_type not in UPLOAD_CONTENT_TYPES:
        raise ValueError(f"must be one of {', '.join(UPLOAD_CONTENT_TYPES)}")
    return content_type


# What ingest decodes (shared.formats), so an upload the API allows is one the chain can read.
ImageType = Annotated[str, AfterValidator(_accepted)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadRequest(Body):
    content_type: ImageType
    # The upper bound is the settings' MAX_PHOTO_BYTES, checked by the service (it is configurable).
    size: int = Field(gt=0, description="bytes the phone will send")
    # Chosen by the phone and kept with the photo until it is sent: a retry names the same upload.
    upload_token: str | None = Field(
        default=None, pattern=UPLOAD_TOKEN, description="32 hex digits the phone chose (a UUID's)"
    )


class UploadTicket(Body):
    upload_id: str
    key: str
    url: str
    fields: dict[str, str]
    expires_at: datetime


UploadState = Literal["pending", "routed", "manual-review", "rejected"]


class UploadStatus(Body):
    upload_id: str
    status: UploadState
    outcome: Route | None = None
    answer: str | None = Field(default=None, description="what was decided and why, in one line")
    bay: str | None = None
    radius_km: float | None = None
    vehicle_class: str | None = None
    decided_by: str | None = None
    reason: str | None = None
    message: str | None = Field(default=None, description="one sentence for the driver")
    decided_at: datetime | None = None


class UploadList(Body):
    uploads: list[UploadStatus] = Field(description="the driver's decided uploads today, newest first")


class BoardItem(Body):
    photo_id: str
    driver_id: str
    outcome: Route
    answer: str = Field(description="what was decided and why, in one line (shared.answers)")
    bay: str | None
    radius_km: float | None
    vehicle_class: str | None = Field(description="the class the driver is routed as")
    model_answer: str | None = Field(description="the model's class, or none (no two-wheeler)")
    confidence: float | None
    reason: str | None
    original_name: str | None
    decided_at: datetime
    decided_by: str
    review_label: str | None = None

    @classmethod
    def of(cls, record: CaptureRecord) -> BoardItem:
        return cls(
            photo_id=record.photo_id,
            driver_id=record.driver_id,
            outcome=record.outcome,
            answer=answer_line(record),
            bay=record.bay,
            radius_km=record.radius_km,
            vehicle_class=record.vehicle_class,
            model_answer=record.model_answer,
            confidence=record.confidence,
            reason=record.reason,
            original_name=record.original_name,
            decided_at=record.decided_at,
            decided_by=record.decided_by,
            review_label=record.review.label if record.review else None,
        )


class Board(Body):
    depot_id: str = Field(description="the depot whose photos these are (the dispatcher's own)")
    day: str
    cursor: str = Field(description="send it back as ?cursor= to get only what changed")
    full: bool = Field(description="true when this is the whole board, not a change since a cursor")
    bays: dict[str, list[BoardItem]] = Field(description="today's routed decisions by bay, newest first")
    manual_review: list[BoardItem] = Field(description="open manual-review items, oldest first")
    rejected: list[BoardItem] = Field(description="today's rejections, newest first")


class PhotoLink(Body):
    photo_id: str
    url: str
    expires_at: datetime


class ReviewRequest(Body):
    label: str = Field(pattern=CLASS_NAME, description="a vehicle class of the rules, or not-a-vehicle")
    note: str = Field(default="", max_length=500)


class ReviewResult(Body):
    photo_id: str
    outcome: Route
    bay: str | None
    radius_km: float | None
    decided_by: str
    answer: str


class ReviewChoice(Body):
    label: str = Field(description="what to send as a review's label")
    text: str = Field(description="what the button says")


class BoardConfig(Body):
    """What the pages need to sign a person in with Cognito (public: ids, no secret), and the
    review choices the rules allow."""

    region: str
    cognito_endpoint: str
    client_id: str
    review_choices: list[ReviewChoice]
    default_depot: str = Field(default="", description="a user's depot when their token names none")
    gallery_depots: list[str] = Field(
        default_factory=list, description="depots whose drivers may pick a photo from the gallery"
    )
    upload_types: dict[str, str] = Field(
        default_factory=dict, description="a photo file's extension and the content type it is sent as"
    )
