"""The review desk's use cases: review, correct, claim, release, a photo's history, and the sweep.

A decision is recorded with its publish still to do (the record's outbox mark, in the same conditional
write), then published, then unmarked. If the function dies between the write and the publish, or the
publish fails, the sweep (scheduled, `services.api.handler`) publishes what the outbox holds: each
decision's deduplication id is its own (photo and review number), so the FIFO topic takes it once
however often it is published within its window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from services.api.access import DepotAccess
from services.api.errors import AlreadyDecided, Claimed, Invalid, NotFound
from services.api.identity import Caller
from services.api.models import (
    ClaimResult,
    CorrectionRequest,
    HistoryEntry,
    ReviewHistory,
    ReviewRequest,
    ReviewResult,
    SweepResult,
)
from services.api.reviews import LEASE, check_claim, correction, first_review, reviewed_record, waiting_since
from services.router.domain import UnknownLabel, decide_review
from services.router.rules import RoutingRules
from shared.answers import answer_line, class_name
from shared.aws.ports import OPEN_REVIEW, UNPUBLISHED, DecisionPublisher, ReviewRecords
from shared.contracts import CaptureRecord, Review, utc_now


class ReviewDesk:
    def __init__(
        self,
        *,
        records: ReviewRecords,
        topic: DecisionPublisher,
        rules: RoutingRules,
        logger: Logger,
        metrics: Metrics,
        correction_window: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._records = records
        self._topic = topic
        self._rules = rules
        self._logger = logger
        self._metrics = metrics
        self._window = correction_window
        self._clock = clock
        self._access = DepotAccess(records, rules)

    def review(self, caller: Caller, photo_id: str, request: ReviewRequest) -> ReviewResult:
        """The first review of a photo waiting for one (409 once it has one, or while another holds it)."""
        record = self._access.record(caller, photo_id)
        now = self._clock()
        review = first_review(record, caller.username, request.label, request.note, now)
        return self._decide(record, review, now)

    def correct(self, caller: Caller, photo_id: str, request: CorrectionRequest) -> ReviewResult:
        """A correction of the photo's latest review, by any dispatcher of its depot, within the shift."""
        record = self._access.record(caller, photo_id)
        now = self._clock()
        review = correction(
            record, caller.username, request.label, request.note, request.replaces, now, self._window
        )
        return self._decide(record, review, now)

    def _decide(self, record: CaptureRecord, review: Review, now: datetime) -> ReviewResult:
        check_claim(record, review.reviewer, now)
        try:
            decision = decide_review(record.decision(), review, self._rules)
        except UnknownLabel as error:
            raise Invalid(str(error)) from None
        reviewed = reviewed_record(record, decision, now)
        if not self._records.put_decision(reviewed):
            self._metrics.add_metric(name="ReviewConflict", unit=MetricUnit.Count, value=1)
            # Someone else got there between the read and the write: say who, as the rules would.
            current = self._records.get(record.photo_id) or record
            check_claim(current, review.reviewer, now)
            if review.replaces is None:
                first_review(current, review.reviewer, review.label, review.note, now)
            else:
                correction(
                    current, review.reviewer, review.label, review.note, review.replaces, now, self._window
                )
            raise AlreadyDecided("this photo has just been decided by someone else")
        published = self._publish(reviewed)
        answer = answer_line(decision)
        self._logger.info(
            "review recorded",
            extra={
                "photo_id": record.photo_id,
                "answer": answer,
                "number": review.number,
                "published": published,
            },
        )
        return ReviewResult(
            photo_id=record.photo_id,
            outcome=decision.outcome,
            bay=decision.bay,
            radius_km=decision.radius_km,
            decided_by=decision.decided_by,
            answer=answer,
            number=review.number,
            published=published,
        )

    def _publish(self, reviewed: CaptureRecord) -> bool:
        """Publish a recorded decision and take it out of the outbox; False leaves it for the sweep."""
        assert reviewed.review is not None
        try:
            self._topic.publish(reviewed.decision())
        except Exception:
            self._logger.exception(
                "review not published yet; the sweep will", extra={"photo_id": reviewed.photo_id}
            )
            self._metrics.add_metric(name="ReviewPublishDeferred", unit=MetricUnit.Count, value=1)
            return False
        self._records.mark_published(reviewed.photo_id, reviewed.review.number)
        self._metrics.add_metric(name="ReviewPublished", unit=MetricUnit.Count, value=1)
        return True

    def claim(self, caller: Caller, photo_id: str) -> ClaimResult:
        """Take or renew the lease on a photo waiting for a review, or reviewed (to correct it)."""
        record = self._access.record(caller, photo_id)
        if not record.is_open_review and record.review is None:
            raise AlreadyDecided("the model decided this photo: there is no review to look at")
        now = self._clock()
        holder = self._records.claim(photo_id, caller.username, now + LEASE, now)
        if holder is None:
            raise NotFound("no such photo")
        if holder.by != caller.username:
            check_claim(record.model_copy(update={"claim": holder}), caller.username, now)
            raise Claimed(f"{holder.by} is looking at this photo")
        return ClaimResult(photo_id=photo_id, by=holder.by, until=holder.until)

    def release(self, caller: Caller, photo_id: str) -> None:
        self._access.record(caller, photo_id)
        self._records.release(photo_id, caller.username)

    def history(self, caller: Caller, photo_id: str) -> ReviewHistory:
        record = self._access.record(caller, photo_id)
        depot = self._rules.depot(record.depot_id)
        bays = depot[1].bays if depot else {}
        entries = [
            HistoryEntry(
                number=r.number,
                reviewer=r.reviewer,
                reviewed_at=r.reviewed_at,
                label=r.label,
                label_text=class_name(r.label),
                bay=bays[r.label].bay if r.label in bays else None,
                note=r.note,
                replaces=r.replaces,
            )
            for r in record.reviews
        ]
        now = self._clock()
        claim = record.claim if record.claim and record.claim.until > now else None
        return ReviewHistory(
            photo_id=photo_id,
            driver_id=record.driver_id,
            original_name=record.original_name,
            model_answer=record.model_answer,
            answer=answer_line(record),
            reviews=entries,
            claim=claim,
        )

    def sweep(self) -> SweepResult:
        """Publish what the outbox holds, and say how long the longest-waiting driver has waited (the
        metric the template's alarm watches: nothing waits unseen)."""
        published = 0
        for record in self._records.open_items(UNPUBLISHED):
            if self._publish(record):
                published += 1
        open_reviews = self._records.open_items(OPEN_REVIEW)
        now = self._clock()
        oldest = max(((now - waiting_since(r)).total_seconds() for r in open_reviews), default=None)
        self._metrics.add_metric(name="OpenReviews", unit=MetricUnit.Count, value=len(open_reviews))
        self._metrics.add_metric(name="OldestOpenReviewAge", unit=MetricUnit.Seconds, value=oldest or 0.0)
        if published:
            self._logger.warning("outbox published", extra={"published": published})
        return SweepResult(published=published, open_reviews=len(open_reviews), oldest_waiting_s=oldest)
