"""Lambda entry point: predictions and rejections on the route queue → decisions on the SNS topic."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from services.router.rules import load_rules
from services.router.service import Router
from shared.aws.clients import client
from shared.aws.messaging import DecisionTopic
from shared.contracts import Assessment
from shared.idempotency import PhotoIdempotency
from shared.observability import powertools, reports_failures
from shared.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
logger, metrics, tracer = powertools("router")
assessment_adapter: TypeAdapter[Any] = TypeAdapter(Assessment)


class App:
    def __init__(self) -> None:
        settings = get_settings()
        self.idempotency = PhotoIdempotency(settings, client("dynamodb", settings.aws_region))
        service = Router(
            rules=load_rules(settings.rules_path),
            topic=DecisionTopic(client("sns", settings.aws_region), settings.routing_topic_arn),
            logger=logger,
        )
        self.route = self.idempotency.once_per_photo(
            service.route, argument="assessment", key_prefix="router"
        )


@lru_cache(maxsize=1)
def app() -> App:
    return App()


@tracer.capture_method
@reports_failures(logger)
def record_handler(record: SQSRecord) -> None:
    app().route(assessment=assessment_adapter.validate_json(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    app().idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
