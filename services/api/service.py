"""The API's use cases, on ports (records, photo links, topic) that the composition root provides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ServiceError,
    ServiceUnavailableError,
)
from aws_lambda_powertools.metrics import MetricUnit

from services.api.board import BadCursor, Cursor, build_board, window
from services.api.identity import Caller, Group
from services.api.models import (
    Board,
    PhotoLink,
    ReviewRequest,
    ReviewResult,
    UploadRequest,
    UploadStatus,
    UploadTicket,
)
from services.api.photo_links import PhotoLinks
from services.api.reviews import reviewed_decision, reviewed_record
from services.api.settings import ApiSettings
from services.api.uploads import Tickets, UploadId, status_of
from services.router.rules import RoutingRules
from shared.contracts import CaptureRecord, Review, RoutingDecision, utc_now
from shared.formats import extension_for
from shared.upload_tickets import IssuedUpload


class Records(Protocol):
    def get(self, photo_id: str) -> CaptureRecord | None: ...
    def find_by_key_prefix(self, driver_id: str, key_prefix: str) -> CaptureRecord | None: ...
    def in_window(self, since: datetime, until: datetime) -> list[CaptureRecord]: ...
    def put_review(self, reviewed: CaptureRecord) -> bool: ...
    def undo_review(self, original: CaptureRecord, reviewed: CaptureRecord) -> bool: ...


class Topic(Protocol):
    def publish(self, decision: RoutingDecision) -> None: ...


class Conflict(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


class DispatchApi:
    def __init__(
        self,
        *,
        settings: ApiSettings,
        records: Records,
        links: PhotoLinks,
        topic: Topic,
        rules: RoutingRules,
        logger: Logger,
        metrics: Metrics,
        tickets: Tickets,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._metrics = metrics
        self._settings = settings
        self._records = records
        self._links = links
        self._topic = topic
        self._rules = rules
        self._logger = logger
        self._clock = clock

    # --- drivers ---------------------------------------------------------------------------------

    def start_upload(self, caller: Caller, request: UploadRequest) -> UploadTicket:
        driver_id = caller.require_driver()
        limit = self._settings.max_photo_bytes
        if request.size > limit:
            raise ServiceError(422, f"size: a photo may be at most {limit} bytes")
        self._tickets.start(driver_id, self._settings.driver_uploads_per_minute)  # 429 over the limit
        upload_id = UploadId.new(driver_id)
        key = upload_id.key(extension_for(request.content_type))
        ttl = self._settings.upload_url_ttl_s
        expires_at = self._clock() + timedelta(seconds=ttl)
        issued = IssuedUpload(str(upload_id), driver_id, key, request.content_type, request.size)
        self._tickets.issue(issued)  # what ingest checks the object against
        url, fields = self._links.upload_form(issued, ttl)
        self._logger.info("upload started", extra={"driver_id": driver_id, "photo_key": key})
        self._metrics.add_metric(name="UploadStarted", unit=MetricUnit.Count, value=1)
        return UploadTicket(upload_id=str(upload_id), key=key, url=url, fields=fields, expires_at=expires_at)

    def upload_status(self, caller: Caller, upload_id_text: str) -> UploadStatus:
        driver_id = caller.require_driver()
        upload_id = UploadId.parse(upload_id_text)
        if upload_id is None:
            raise NotFoundError("no such upload")
        if upload_id.driver_id != driver_id:
            raise ForbiddenError("this upload is another driver's")
        record = self._records.find_by_key_prefix(driver_id, upload_id.key_prefix)
        if record is None and not self._links.exists(upload_id.key_prefix):
            raise NotFoundError("no photo has arrived for this upload")
        return status_of(upload_id, record)

    # --- dispatchers -----------------------------------------------------------------------------

    def board(self, caller: Caller, cursor: str | None) -> Board:
        caller.require(Group.DISPATCHERS)
        now = self._clock()
        try:
            seen = Cursor.parse(cursor) if cursor else None
        except BadCursor as error:
            raise BadRequestError(str(error)) from None
        since, until = window(now, seen)
        overlap = timedelta(seconds=self._settings.board_overlap_s)
        return build_board(self._records.in_window(since, until), now, seen, overlap)

    def photo_link(self, caller: Caller, photo_id: str) -> PhotoLink:
        caller.require(Group.DISPATCHERS)
        record = self._records.get(photo_id)
        if record is None:
            raise NotFoundError("no such photo")
        ttl = self._settings.photo_url_ttl_s
        url = self._links.download_url(record.photo_key, record.photo.version_id, ttl)
        return PhotoLink(photo_id=photo_id, url=url, expires_at=self._clock() + timedelta(seconds=ttl))

    def review(self, caller: Caller, photo_id: str, request: ReviewRequest) -> ReviewResult:
        """Route a manual-review photo by a dispatcher's label, once.

        The conditional write of the record is the claim (a second review is refused there, 409);
        the decision is published after it, and a failed publish gives the claim back (503, try again).
        """
        caller.require(Group.DISPATCHERS)
        record = self._records.get(photo_id)
        if record is None:
            raise NotFoundError("no such photo")
        now = self._clock()
        review = Review(reviewer=caller.username, label=request.label, note=request.note, reviewed_at=now)
        reviewed = reviewed_record(record, review, self._rules, now)
        if record.review is not None or not self._records.put_review(reviewed):
            self._metrics.add_metric(name="ReviewConflict", unit=MetricUnit.Count, value=1)
            raise Conflict("this photo has already been decided")
        decision = reviewed_decision(reviewed)
        try:
            self._topic.publish(decision)
        except Exception:
            self._records.undo_review(record, reviewed)
            self._logger.exception("review not published; review undone", extra={"photo_id": photo_id})
            raise ServiceUnavailableError("the decision could not be published; try again") from None
        self._metrics.add_metric(name="ReviewPublished", unit=MetricUnit.Count, value=1)
        self._logger.info(
            "review published",
            extra={"photo_id": photo_id, "label": review.label.value, "route": decision.route.value},
        )
        return ReviewResult(
            photo_id=photo_id,
            route=decision.route,
            bay=decision.bay,
            radius_km=decision.radius_km,
            decided_by=decision.decided_by,
        )
