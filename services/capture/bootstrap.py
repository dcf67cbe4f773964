"""Composition root of capture: the DynamoDB capture table in production, or the table passed."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from services.capture.service import Capture
from services.capture.settings import CaptureSettings
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.aws.ports import CaptureWriter
from shared.observability import NAMESPACE


def build_capture(
    settings: CaptureSettings,
    *,
    table: CaptureWriter | None = None,
    logger: Logger | None = None,
    metrics: Metrics | None = None,
) -> Capture:
    """No idempotency guard: the table's conditional put already keeps one item per photo."""
    return Capture(
        table=table
        if table is not None
        else CaptureTable(client("dynamodb", settings.aws_region), settings.capture_table),
        logger=logger if logger is not None else Logger(service="capture"),
        metrics=metrics if metrics is not None else Metrics(namespace=NAMESPACE, service="capture"),
    )
