"""The API's use cases, on ports (records, photo links, topic) that the composition root provides.

Each refuses in the domain's words (`services.api.errors`); the handler maps those to HTTP. A
dispatcher sees and reviews only their own depot's photos; a driver only their own uploads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from services.api.access import DepotAccess
from services.api.board import BadCursor, Cursor, build_board, window
from services.api.errors import AlreadyReceived, Invalid, NotFound, NotYours, TooLarge
from services.api.identity import Caller
from services.api.models import (
    Board,
    PhotoLink,
    UploadList,
    UploadRequest,
    UploadStatus,
    UploadTicket,
)
from services.api.review_desk import ReviewDesk
from services.api.settings import ApiSettings
from services.api.uploads import UploadId, status_of
from services.router.rules import RoutingRules
from shared.aws.ports import OPEN_REVIEW, DecisionPublisher, PhotoLinks, ReviewRecords, UploadTickets
from shared.contracts import photo_id as photo_id_of
from shared.contracts import utc_now
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
        self._access = DepotAccess(records, rules)
        # Reviews, corrections, leases and the outbox (services/api/review_desk.py).
        self.desk = ReviewDesk(
            records=records,
            topic=topic,
            rules=rules,
            logger=logger,
            metrics=metrics,
            correction_window=timedelta(hours=settings.correction_window_h),
            clock=clock,
        )

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
        return self._access.depot_of(caller)

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
        # Every open review, whatever its age, in every answer: the sparse index holds only those.
        waiting = self._records.open_items(OPEN_REVIEW, depot_id=depot_id)
        depot = self._rules.depot(depot_id)
        bay_names = {bay.bay: bay.name for bay in depot[1].bays.values()} if depot else {}
        return build_board(records, waiting, now, seen, overlap, depot_id=depot_id, bay_names=bay_names)

    def photo_link(self, caller: Caller, photo_id: str) -> PhotoLink:
        record = self._access.record(caller, photo_id)
        ttl = self._settings.photo_url_ttl_s
        url = self._links.download_url(record.photo_key, record.photo.version_id, ttl)
        return PhotoLink(photo_id=photo_id, url=url, expires_at=self._clock() + timedelta(seconds=ttl))
