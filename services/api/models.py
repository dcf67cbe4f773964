"""The API's request and response bodies (validated by Powertools' event handler with pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.answers import answer_line
from shared.contracts import CLASS_NAME, CaptureRecord, Claim, Route
from shared.driver_messages import sentence_for
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
    review_number: int | None = Field(default=None, description="the latest review's; a correction names it")
    reviewer: str | None = None
    note: str | None = Field(default=None, description="what the latest reviewer wrote")
    reason_text: str | None = Field(default=None, description="a rejection's reason as a sentence")
    uploaded_at: datetime
    waiting_s: float | None = Field(
        default=None, description="an open review: how long the driver has waited"
    )
    claim: Claim | None = Field(default=None, description="who is looking at it, until when")

    @classmethod
    def of(cls, record: CaptureRecord, now: datetime | None = None) -> BoardItem:
        review = record.review
        open_claim = record.claim if record.claim and now and record.claim.until > now else None
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
            review_label=review.label if review else None,
            review_number=review.number if review else None,
            reviewer=review.reviewer if review else None,
            note=review.note if review and review.note else None,
            reason_text=sentence_for(record.reason) if record.outcome == Route.REJECTED else None,
            uploaded_at=record.uploaded_at,
            waiting_s=(now - record.uploaded_at).total_seconds() if now and record.is_open_review else None,
            claim=open_claim,
        )


class Board(Body):
    depot_id: str = Field(description="the depot whose photos these are (the dispatcher's own)")
    day: str
    cursor: str = Field(description="send it back as ?cursor= to get only what changed")
    full: bool = Field(description="true when this is the whole board, not a change since a cursor")
    bays: dict[str, list[BoardItem]] = Field(description="today's routed decisions by bay, newest first")
    manual_review: list[BoardItem] = Field(
        description="every open manual-review item, whatever its age, longest-waiting first (in every answer)"
    )
    rejected: list[BoardItem] = Field(description="today's rejections, newest first")
    oldest_waiting_s: float | None = Field(default=None, description="the longest a driver has waited")
    bay_names: dict[str, str] = Field(default_factory=dict, description="each bay's name in the rules")


class PhotoLink(Body):
    photo_id: str
    url: str
    expires_at: datetime


class ReviewRequest(Body):
    label: str = Field(pattern=CLASS_NAME, description="a vehicle class of the rules, or not-a-vehicle")
    note: str = Field(default="", max_length=500)


class CorrectionRequest(ReviewRequest):
    replaces: int = Field(ge=1, description="the number of the review this corrects: the latest one")


class ReviewResult(Body):
    photo_id: str
    outcome: Route
    bay: str | None
    radius_km: float | None
    decided_by: str
    answer: str
    number: int = Field(description="this review's number: 1, then one more per correction")
    published: bool = Field(
        description="on the topic already; false: recorded, and published by the outbox's next sweep"
    )


class ClaimResult(Body):
    photo_id: str
    by: str
    until: datetime


class HistoryEntry(Body):
    number: int
    reviewer: str
    reviewed_at: datetime
    label: str
    label_text: str = Field(description="the label as the board says it")
    bay: str | None = Field(description="the bay the label routes to at the photo's depot")
    note: str
    replaces: int | None


class ReviewHistory(Body):
    photo_id: str
    driver_id: str
    original_name: str | None
    model_answer: str | None = Field(description="the model's class, or none")
    answer: str = Field(description="the current decision, in one line")
    reviews: list[HistoryEntry] = Field(description="every review and correction, oldest first")
    claim: Claim | None = None


class SweepResult(Body):
    published: int = Field(description="decisions taken from the outbox and published")
    open_reviews: int
    oldest_waiting_s: float | None


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
