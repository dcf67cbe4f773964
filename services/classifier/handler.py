"""Lambda entry point: jobs on the classify queue → predictions on the route queue."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.classifier.service import Classifier
from shared.aws.clients import client, endpoint_client
from shared.aws.endpoint import VehicleEndpoint
from shared.aws.messaging import MessageQueue
from shared.aws.photo_store import PhotoStore
from shared.contracts import PhotoJob
from shared.idempotency import PhotoIdempotency
from shared.observability import powertools, reports_failures
from shared.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
logger, metrics, tracer = powertools("classifier")


class App:
    def __init__(self) -> None:
        settings = get_settings()
        self.idempotency = PhotoIdempotency(settings, client("dynamodb", settings.aws_region))
        runtime = endpoint_client(
            settings.aws_region, settings.endpoint_attempts, settings.endpoint_timeout_s
        )
        service = Classifier(
            settings=settings,
            store=PhotoStore(client("s3", settings.aws_region)),
            endpoint=VehicleEndpoint(runtime, settings.endpoint_name),
            route_queue=MessageQueue(client("sqs", settings.aws_region), settings.route_queue_url),
            logger=logger,
        )
        self.classify = self.idempotency.once_per_photo(
            service.classify, argument="job", key_prefix="classifier"
        )


@lru_cache(maxsize=1)
def app() -> App:
    return App()


@tracer.capture_method
@reports_failures(logger)
def record_handler(record: SQSRecord) -> None:
    app().classify(job=PhotoJob.model_validate_json(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    app().idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
