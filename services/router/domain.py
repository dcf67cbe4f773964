"""Where a driver loads and which orders they get: one pure function of the assessment and the rules."""

from __future__ import annotations

from services.router.rules import RoutingRules
from shared.contracts import Prediction, Rejection, Route, RoutingDecision


def decide(assessment: Prediction | Rejection, rules: RoutingRules) -> RoutingDecision:
    if isinstance(assessment, Rejection):
        return RoutingDecision(
            photo=assessment.photo,
            driver_id=assessment.driver_id,
            route=Route.REJECTED,
            reason=assessment.reason.value,
            rules_version=rules.version,
            assessed_at=assessment.rejected_at,
        )
    rule = rules.classes[assessment.vehicle_class]
    common = {
        "photo": assessment.photo,
        "driver_id": assessment.driver_id,
        "vehicle_class": assessment.vehicle_class,
        "confidence": assessment.confidence,
        "probabilities": assessment.probabilities.vehicles(),
        "endpoint_name": assessment.endpoint_name,
        "model_version": assessment.model_version,
        "rules_version": rules.version,
        "ingested_at": assessment.ingested_at,
        "assessed_at": assessment.predicted_at,
    }
    neither = rules.neither
    other = assessment.probabilities.other
    if other is not None and other >= neither.min_probability:
        # Neither a bicycle nor a motorcycle: a person looks, and the driver is asked for the vehicle.
        return RoutingDecision(route=Route.MANUAL_REVIEW, reason=neither.reason, **common)
    if assessment.confidence < rule.min_confidence:
        # Never a silently wrong bay: an unsure call goes to a person.
        return RoutingDecision(route=Route.MANUAL_REVIEW, reason=rules.manual_review_reason, **common)
    return RoutingDecision(route=rule.route, bay=rule.bay, radius_km=rule.radius_km, **common)
