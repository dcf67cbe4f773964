"""The API's use cases, on ports (records, photo links, topic) that the composition root provides.

Each refuses in the domain's words (`services.api.errors`); the handler maps those to HTTP. A
dispatcher sees and reviews only their own depot's photos; a driver only their own uploads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from services.api.board import BadCursor, Cursor, build_board, window
from services.api.errors import (
    AlreadyDecided,
    AlreadyReceived,
    Invalid,
    NotFound,
    NotYours,
    TooLarge,
    Unavailable,
)
from services.api.identity import Caller, Group
from services.api.models import (
    Board,
    PhotoLink,
    ReviewRequest,
    ReviewResult,
    UploadList,
    UploadRequest,
    UploadStatus,
    UploadTicket,
)
from services.api.settings import ApiSettings
from services.api.uploads import UploadId, status_of
from services.router.domain import UnknownLabel, decide_review
from services.router.rules import RoutingRules
from shared.answers import answer_line
from shared.aws.ports import DecisionPublisher, PhotoLinks, ReviewRecords, UploadTickets
from shared.contracts import CaptureRecord, Review, Route, utc_now
from shared.contracts import photo_id as photo_id_of
from shared.formats import extension_for
from shared.upload_tickets import IssuedUpload

# A shift's uploads; a driver sending more than this in a day sees the newest.
TODAYS_UPLOADS = 50


class DispatchApi:
    def __init__(
        self,
        *,
        settings: ApiSettings,
        records: ReviewRecords,
        links: PhotoLinks,
        topic: DecisionPublisher,
        rules: RoutingRules,
        logger: Logger,
        metrics: Metrics,
        tickets: UploadTickets,
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
            raise TooLarge(f"size: a photo may be at most {limit} bytes")
        upload_id = UploadId.chosen(driver_id, request.upload_token)
        if request.upload_token and self._links.exists(upload_id.key_prefix):
            # A retry whose photo has arrived gets no second form: a second object would be a second photo.
            raise AlreadyReceived(f"this upload's photo has arrived: read GET /uploads/{upload_id}")
        self._tickets.start(driver_id, self._settings.driver_uploads_per_minute)  # 429 over the limit
        key = upload_id.key(extension_for(request.content_type))
        ttl = self._settings.upload_url_ttl_s
        expires_at = self._clock() + timedelta(seconds=ttl)
        # The driver's depot rides on the object, pinned by the form's policy: ingest reads it there.
        issued = IssuedUpload(
            str(upload_id), driver_id, key, request.content_type, request.size, depot_id=caller.depot_id
        )
        self._tickets.issue(issued)  # what ingest checks the object against
        url, fields = self._links.upload_form(issued, ttl)
        self._logger.info("upload started", extra={"driver_id": driver_id, "photo_key": key})
        self._metrics.add_metric(name="UploadStarted", unit=MetricUnit.Count, value=1)
        return UploadTicket(upload_id=str(upload_id), key=key, url=url, fields=fields, expires_at=expires_at)

    def upload_status(self, caller: Caller, upload_id_text: str) -> UploadStatus:
        driver_id = caller.require_driver()
        upload_id = UploadId.parse(upload_id_text)
        if upload_id is None:
            raise NotFound("no such upload")
        if upload_id.driver_id != driver_id:
            raise NotYours("this upload is another driver's")
        # The phone reads this several times a second while the chain decides: by key only, never a
        # read that grows with the driver's history. Ingest claims the ticket for the photo before it
        # decides anything, so the claim names the record (its id is the photo's), and an unclaimed
        # ticket has none yet. Only an upload whose ticket has expired is looked for in the index.
        use = self._tickets.use_of(str(upload_id))
        if use.photo_identity is not None:
            return status_of(upload_id, self._records.get(photo_id_of(use.photo_identity)))
        record = None if use.issued else self._records.find_by_key_prefix(driver_id, upload_id.key_prefix)
        if record is None and not self._links.exists(upload_id.key_prefix):
            raise NotFound("no photo has arrived for this upload")
        return status_of(upload_id, record)

    def todays_uploads(self, caller: Caller) -> UploadList:
        """The driver's own decided uploads of today (UTC), newest first: the index read from the
        start of the day, so yesterday's records are not read at all."""
        driver_id = caller.require_driver()
        midnight = datetime.combine(self._clock().astimezone(UTC).date(), time(), UTC)
        statuses = [
            status_of(upload_id, record)
            for record in self._records.for_driver(driver_id, limit=TODAYS_UPLOADS, since=midnight)
            if (upload_id := UploadId.of_key(record.photo_key))
        ]
        return UploadList(uploads=statuses)

    # --- dispatchers -----------------------------------------------------------------------------

    def depot_of(self, caller: Caller) -> str:
        """The depot a dispatcher works at: their claim, or the rules' default depot."""
        caller.require(Group.DISPATCHERS)
        return caller.depot_id or self._rules.default_depot

    def board(self, caller: Caller, cursor: str | None) -> Board:
        depot_id = self.depot_of(caller)
        now = self._clock()
        try:
            seen = Cursor.parse(cursor) if cursor else None
        except BadCursor as error:
            raise Invalid(str(error)) from None
        since, until = window(now, seen)
        overlap = timedelta(seconds=self._settings.board_overlap_s)
        records = self._records.in_window(since, until, depot_id=depot_id)
        return build_board(records, now, seen, overlap, depot_id=depot_id)

    def _depot_record(self, caller: Caller, photo_id: str) -> CaptureRecord:
        depot_id = self.depot_of(caller)
        record = self._records.get(photo_id)
        if record is None:
            raise NotFound("no such photo")
        if (record.depot_id or self._rules.default_depot) != depot_id:
            raise NotYours("this photo is another depot's")
        return record

    def photo_link(self, caller: Caller, photo_id: str) -> PhotoLink:
        record = self._depot_record(caller, photo_id)
        ttl = self._settings.photo_url_ttl_s
        url = self._links.download_url(record.photo_key, record.photo.version_id, ttl)
        return PhotoLink(photo_id=photo_id, url=url, expires_at=self._clock() + timedelta(seconds=ttl))

    def review(self, caller: Caller, photo_id: str, request: ReviewRequest) -> ReviewResult:
        """Route a manual-review photo by a dispatcher's label, once.

        The router's rules decide (`decide_review`); the conditional write of the record is the claim
        (a second review is refused there, 409); the decision is published after it, and a failed
        publish gives the claim back (503, try again).
        """
        record = self._depot_record(caller, photo_id)
        if record.outcome != Route.MANUAL_REVIEW or record.review is not None:
            raise AlreadyDecided("this photo has already been decided")
        now = self._clock()
        review = Review(reviewer=caller.username, label=request.label, note=request.note, reviewed_at=now)
        try:
            decision = decide_review(record.decision(), review, self._rules)
        except UnknownLabel as error:
            raise Invalid(str(error)) from None
        reviewed = CaptureRecord.from_decision(decision).model_copy(update={"captured_at": now})
        if not self._records.put_review(reviewed):
            self._metrics.add_metric(name="ReviewConflict", unit=MetricUnit.Count, value=1)
            raise AlreadyDecided("this photo has already been decided")
        try:
            self._topic.publish(decision)
        except Exception:
            self._records.undo_review(record, reviewed)
            self._logger.exception("review not published; review undone", extra={"photo_id": photo_id})
            raise Unavailable("the decision could not be published; try again") from None
        self._metrics.add_metric(name="ReviewPublished", unit=MetricUnit.Count, value=1)
        answer = answer_line(decision)
        self._logger.info("review published", extra={"photo_id": photo_id, "answer": answer})
        return ReviewResult(
            photo_id=photo_id,
            outcome=decision.outcome,
            bay=decision.bay,
            radius_km=decision.radius_km,
            decided_by=decision.decided_by,
            answer=answer,
        )
