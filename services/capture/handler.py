"""Lambda entry point: decisions on the capture queue (raw SNS delivery) → the capture table."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.capture.bootstrap import build_capture
from services.capture.settings import CaptureSettings
from shared.contracts import RoutingDecision
from shared.observability import powertools, reports_failures
from shared.wiring import BuiltOnce

# The capture queue is FIFO (the routing topic is): a failed record fails the rest of its message group
# in the batch, so a driver's decisions are never captured out of order; other drivers' go on.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
processor.raise_on_entire_batch_failure = False
logger, metrics, tracer = powertools("capture")
capture = BuiltOnce(lambda: build_capture(CaptureSettings(), logger=logger, metrics=metrics))


@tracer.capture_method
@reports_failures(logger, metrics)
def record_handler(record: SQSRecord) -> None:
    # The table's conditional put is the idempotency here: one item per photo, whatever arrives twice.
    capture.get().capture(RoutingDecision.model_validate_json(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
