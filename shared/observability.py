"""Powertools logger, metrics and tracer for one service, and the one way a rejection is recorded."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shared.contracts import PhotoRef, Rejection

NAMESPACE = "DriverRouting"


def powertools(service: str) -> tuple[Logger, Metrics, Tracer]:
    return Logger(service=service), Metrics(namespace=NAMESPACE, service=service), Tracer(service=service)


def record_rejection(logger: Logger, rejection: Rejection) -> None:
    """A structured log line and a metric with the reason as its dimension. Never the photo's bytes."""
    logger.warning(
        "photo rejected",
        extra={
            "reason": rejection.reason.value,
            "detail": rejection.detail,
            "photo_key": rejection.photo.key,
            "driver_id": rejection.driver_id,
        },
    )
    with single_metric(name="PhotoRejected", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="reason", value=rejection.reason.value)


def log_photo(logger: Logger, message: str, photo: PhotoRef, **fields: object) -> None:
    logger.info(message, extra={"photo_key": photo.key, "photo_id": photo.photo_id, **fields})
