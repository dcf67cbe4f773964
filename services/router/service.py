"""router: an assessment becomes a routing decision on the SNS topic."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from services.router.domain import decide
from services.router.rules import RoutingRules
from shared.aws.ports import DecisionPublisher
from shared.contracts import Prediction, Rejection
from shared.observability import log_photo


class Router:
    def __init__(self, *, rules: RoutingRules, topic: DecisionPublisher, logger: Logger) -> None:
        self._rules = rules
        self._topic = topic
        self._logger = logger

    def route(self, assessment: Prediction | Rejection) -> dict[str, Any]:
        decision = decide(assessment, self._rules)
        message_id = self._topic.publish(decision)
        log_photo(
            self._logger, "decision published", decision.photo, route=decision.route.value, bay=decision.bay
        )
        return {"route": decision.route.value, "message_id": message_id}
