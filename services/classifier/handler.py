"""Lambda entry point: jobs on the classify queue → predictions on the route queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.classifier.bootstrap import build_classifier
from services.classifier.settings import ClassifierSettings
from shared.batching import Outbox
from shared.contracts import PhotoJob
from shared.observability import powertools, reports_failures, reports_send_failures
from shared.wiring import BuiltOnce

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
logger, metrics, tracer = powertools("classifier")
outbox = Outbox(on_failure=reports_send_failures(logger, metrics))
classifier = BuiltOnce(lambda: build_classifier(ClassifierSettings(), outbox=outbox, logger=logger))


@tracer.capture_method
@reports_failures(logger, metrics)
def record_handler(record: SQSRecord) -> None:
    classifier.get().classify(PhotoJob.model_validate_json(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return outbox.process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
