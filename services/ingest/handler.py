"""Lambda entry point: S3 notifications on the ingest queue → jobs on the classify queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.ingest.bootstrap import build_ingest
from services.ingest.settings import IngestSettings
from shared.aws.s3_events import photos_in_notification
from shared.batching import Outbox
from shared.observability import powertools, reports_failures, reports_send_failures
from shared.wiring import BuiltOnce

# Report every failure item by item, even when the whole batch failed: SQS retries just those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
logger, metrics, tracer = powertools("ingest")
outbox = Outbox(on_failure=reports_send_failures(logger, metrics))
ingest = BuiltOnce(lambda: build_ingest(IngestSettings(), outbox=outbox, logger=logger))


@tracer.capture_method
@reports_failures(logger, metrics)
def record_handler(record: SQSRecord) -> None:
    for photo in photos_in_notification(record.body):
        ingest.get().ingest(photo)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return outbox.process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
