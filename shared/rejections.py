"""The one way a stage turns a photo away: a `Rejection` on the route queue, a log line and a metric."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.aws.ports import MessageSender
from shared.contracts import PhotoRef, PhotoRejected, Rejection
from shared.observability import record_rejection


def reject(
    route_queue: MessageSender, logger: Logger, photo: PhotoRef, driver_id: str, rejected: PhotoRejected
) -> dict[str, Any]:
    """Send the rejection to the router (the only publisher of decisions) and record why."""
    rejection = Rejection(photo=photo, driver_id=driver_id, reason=rejected.reason, detail=rejected.detail)
    route_queue.send(rejection)
    record_rejection(logger, rejection)
    return {"outcome": "rejected", "reason": rejected.reason.value}
