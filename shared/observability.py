"""Powertools logger, metrics and tracer for one service, and the one way a rejection is recorded."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

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


R = TypeVar("R")


def reports_failures(
    logger: Logger, metrics: Metrics
) -> Callable[[Callable[[SQSRecord], R]], Callable[[SQSRecord], R]]:
    """Count every record (`RecordsProcessed`, `RecordsFailed`) and log why one failed before the batch
    processor reports it back to SQS.

    Powertools' batch processor keeps the exception to itself; an operator reading the logs of a
    message that ended in a DLQ needs its reason and how often it was received. The counts are what a
    dashboard plots per stage, and they give every invocation a metric to flush (no empty-metrics
    warning per invocation).
    """

    def decorate(record_handler: Callable[[SQSRecord], R]) -> Callable[[SQSRecord], R]:
        @functools.wraps(record_handler)
        def handle(record: SQSRecord) -> R:
            try:
                result = record_handler(record)
            except Exception as error:
                metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=1)
                fields = {
                    "message_id": record.message_id,
                    "receive_count": record.attributes.approximate_receive_count,
                    "error": type(error).__name__,
                    "detail": str(error)[:300],
                }
                logger.exception("record failed; SQS will redeliver it", extra=fields)
                raise
            metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=1)
            return result

        return handle

    return decorate


def reports_send_failures(logger: Logger, metrics: Metrics) -> Callable[[str, Exception], None]:
    """For `Outbox`: a record whose messages did not go out after the batch is logged and counted as
    failed, like a record whose handler raised (SQS redelivers it)."""

    def report(message_id: str, error: Exception) -> None:
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=1)
        logger.error(
            "record's messages not sent; SQS will redeliver it",
            extra={"message_id": message_id, "error": type(error).__name__, "detail": str(error)[:300]},
        )

    return report
