"""router: an assessment becomes a routing decision on the SNS topic, once per photo.

The topic deduplicates on the photo (FIFO, `MessageDeduplicationId`) for five minutes after the first
publish: a redelivery inside that window, even one after a crash between the publish and the delete,
is dropped by SNS. A photo uploaded longer ago than that (a redrive from a DLQ, a backlog) may have been
published before the window opened again: the capture table is asked first, and a photo that already
has its record is not published again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from services.router.domain import decide
from services.router.rules import RoutingRules
from shared.answers import answer_line
from shared.aws.ports import DecisionPublisher, DecisionRecords
from shared.contracts import Prediction, Rejection, utc_now
from shared.observability import log_photo


class Router:
    def __init__(
        self,
        *,
        rules: RoutingRules,
        topic: DecisionPublisher,
        records: DecisionRecords,
        logger: Logger,
        check_after: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._rules = rules
        self._topic = topic
        self._records = records
        self._logger = logger
        self._check_after = check_after
        self._clock = clock

    def route(self, assessment: Prediction | Rejection) -> dict[str, Any]:
        decision = decide(assessment, self._rules)
        photo = decision.photo
        late = self._clock() - photo.uploaded_at > self._check_after
        if late and self._records.has_record(photo.photo_id):
            log_photo(self._logger, "decision already published and captured; not published again", photo)
            return {"outcome": decision.outcome.value, "published": False}
        self._topic.publish(decision)
        log_photo(
            self._logger,
            "decision published",
            photo,
            outcome=decision.outcome.value,
            bay=decision.bay,
            depot_id=decision.depot_id,
            answer=answer_line(decision),
        )
        return {"outcome": decision.outcome.value, "published": True}
