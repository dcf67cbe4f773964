"""What each decision says about the model, as CloudWatch embedded metrics (Powertools' EMF provider):
the alarms and the dashboard on the review share, the "none" share and the class mix read these.

One EMF line per decision, written by capture (one record per photo, so each photo is counted once,
whatever the router published twice). Two dimension sets keep the series few and fixed: by outcome
(`routed`, `review`, `none`, `rejected`) and by the model's class (its vehicle classes and `none`).
The model version goes with the line as metadata (searchable in the logs, not a dimension).
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from shared.contracts import NONE, Answer, Route
from shared.observability import NAMESPACE

DECISION_METRIC = "ModelDecision"  # 1 per decision
CONFIDENCE_METRIC = "ModelConfidence"  # how sure the model was of what it answered, 0..1
OUTCOME_DIMENSION = "outcome"
CLASS_DIMENSION = "class"
SERVICE = "capture"  # the service that emits them (Powertools' `service` dimension)


class Outcome(StrEnum):
    """A decision as the model's watchers count it: "none" is the manual review of a photo the model
    saw no two-wheeler in, "review" every other manual review."""

    ROUTED = "routed"
    REVIEW = "review"
    NONE = "none"
    REJECTED = "rejected"


def outcome(answer: Answer) -> Outcome:
    if answer.outcome == Route.ROUTED:
        return Outcome.ROUTED
    if answer.outcome == Route.REJECTED:
        return Outcome.REJECTED
    return Outcome.NONE if answer.model_answer == NONE else Outcome.REVIEW


def confidence(answer: Answer) -> float | None:
    """The model's certainty in its own answer: p(none) for `none`, else the likelier vehicle's share."""
    if answer.model_answer == NONE:
        return answer.none_probability
    return answer.confidence


def decision_metrics(answer: Answer, model_version: str | None) -> AmazonCloudWatchEMFProvider:
    """The EMF metric set of one decision, ready to flush."""
    emf = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE)
    emf.add_dimension(name=OUTCOME_DIMENSION, value=outcome(answer).value)
    emf.add_metric(name=DECISION_METRIC, unit=MetricUnit.Count, value=1)
    if answer.model_answer is not None:
        emf.add_dimensions(**{"service": SERVICE, CLASS_DIMENSION: answer.model_answer})
        sure = confidence(answer)
        if sure is not None:
            emf.add_metric(name=CONFIDENCE_METRIC, unit=MetricUnit.NoUnit, value=sure)
    if model_version:
        emf.add_metadata(key="model_version", value=model_version)
    return emf


def record_decision(answer: Answer, model_version: str | None) -> None:
    """Write the decision's metrics to standard output, where Lambda's log stream turns them into
    CloudWatch metrics."""
    decision_metrics(answer, model_version).flush_metrics()
