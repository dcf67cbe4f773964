"""Lambda entry point: S3 notifications on the ingest queue → jobs on the classify queue."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.ingest.domain import photos_in_notification
from services.ingest.service import Ingest
from shared.aws.clients import client
from shared.aws.messaging import MessageQueue
from shared.aws.photo_store import PhotoStore
from shared.idempotency import IN_PHOTO, PhotoIdempotency
from shared.observability import powertools, reports_failures
from shared.settings import get_settings

# Report every failure item by item, even when the whole batch failed: SQS retries just those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
logger, metrics, tracer = powertools("ingest")


class App:
    """Composition root: clients, adapters and the idempotent use case, built once per process."""

    def __init__(self) -> None:
        settings = get_settings()
        sqs = client("sqs", settings.aws_region)
        self.idempotency = PhotoIdempotency(settings, client("dynamodb", settings.aws_region))
        service = Ingest(
            settings=settings,
            store=PhotoStore(client("s3", settings.aws_region)),
            classify_queue=MessageQueue(sqs, settings.classify_queue_url),
            route_queue=MessageQueue(sqs, settings.route_queue_url),
            logger=logger,
        )
        self.ingest = self.idempotency.once_per_photo(
            service.ingest, argument="photo", key_prefix="ingest", identity=IN_PHOTO
        )


@lru_cache(maxsize=1)
def app() -> App:
    return App()


@tracer.capture_method
@reports_failures(logger)
def record_handler(record: SQSRecord) -> None:
    for photo in photos_in_notification(record.body):
        app().ingest(photo=photo)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    app().idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
