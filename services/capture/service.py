"""capture: every decision on the topic becomes exactly one record in the capture table."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.aws.ports import CaptureWriter
from shared.contracts import CaptureRecord, RoutingDecision
from shared.model_metrics import record_decision
from shared.observability import log_photo


class Capture:
    def __init__(self, *, table: CaptureWriter, logger: Logger, metrics: Metrics) -> None:
        self._table = table
        self._logger = logger
        self._metrics = metrics

    def capture(self, decision: RoutingDecision) -> bool:
        """True when the record was written; False when this photo already had one.

        Capture writes the model's decisions; a dispatcher's review is recorded by the API, in the same
        conditional write that makes it happen once, and the capture subscription's filter policy
        (`decided_by: model`) keeps reviewed decisions from reaching this function at all.
        """
        record = CaptureRecord.from_decision(decision)
        written = self._table.put_once(record)
        if written:
            log_photo(self._logger, "decision captured", decision.photo, outcome=decision.outcome.value)
            self._metrics.add_metric(name="DecisionCaptured", unit=MetricUnit.Count, value=1)
            self._latencies(record)
            # Counted here, where a photo is written once: the model's live outcome, class and confidence.
            record_decision(decision, decision.model_version)
        else:
            log_photo(self._logger, "duplicate decision ignored", decision.photo)
            self._metrics.add_metric(name="DuplicateDecision", unit=MetricUnit.Count, value=1)
        return written

    def _latencies(self, record: CaptureRecord) -> None:
        """What each stage added, from the timestamps the contracts carry: the dashboard's per-stage
        latency (one value per photo, once: a duplicate is not timed)."""
        hops = {
            "IngestLatency": (record.uploaded_at, record.ingested_at),
            "ClassifyLatency": (record.ingested_at, record.assessed_at),
            "RouteLatency": (record.assessed_at, record.decided_at),
            "CaptureLatency": (record.decided_at, record.captured_at),
            "UploadToRecordLatency": (record.uploaded_at, record.captured_at),
        }
        for name, (start, end) in hops.items():
            if start is not None and end is not None:
                self._metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=_ms(start, end))


def _ms(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() * 1000, 1)
