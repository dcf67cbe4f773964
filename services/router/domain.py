"""Where a driver loads and which orders they get: pure functions of the assessment (and, for a
photo a dispatcher reviewed, the review) and the rules. The one place a photo is decided."""

from __future__ import annotations

from typing import Any

from services.router.rules import RoutingRules
from shared.contracts import (
    DECISION_SCHEMA_VERSION,
    NONE,
    NOT_A_VEHICLE,
    Prediction,
    Rejection,
    RejectionReason,
    Review,
    ReviewReason,
    Route,
    RoutingDecision,
)


class UnknownLabel(ValueError):
    """A review label that names neither a class the rules route nor `not-a-vehicle`."""


def decide(assessment: Prediction | Rejection, rules: RoutingRules) -> RoutingDecision:
    photo = assessment.photo
    depot = rules.depot(photo.depot_id)
    if isinstance(assessment, Rejection) or depot is None:
        reason: RejectionReason = (
            assessment.reason if isinstance(assessment, Rejection) else RejectionReason.UNKNOWN_DEPOT
        )
        assessed_at = assessment.rejected_at if isinstance(assessment, Rejection) else assessment.predicted_at
        return RoutingDecision(
            photo=photo,
            driver_id=assessment.driver_id,
            # the depot whose board shows it: the photo's own, or the default when it names none
            depot_id=depot[0] if depot is not None else photo.depot_id,
            outcome=Route.REJECTED,
            route=Route.REJECTED.value,
            reason=reason.value,
            rules_version=rules.version,
            assessed_at=assessed_at,
        )
    depot_id, bays = depot
    probabilities = assessment.probabilities
    common: dict[str, Any] = {
        "photo": photo,
        "driver_id": assessment.driver_id,
        "depot_id": depot_id,
        "confidence": assessment.confidence,
        "probabilities": probabilities.vehicles(),
        "none_probability": probabilities.none,
        "endpoint_name": assessment.endpoint_name,
        "model_version": assessment.model_version,
        "rules_version": rules.version,
        "ingested_at": assessment.ingested_at,
        "assessed_at": assessment.predicted_at,
    }
    review = {"outcome": Route.MANUAL_REVIEW, "route": Route.MANUAL_REVIEW.value}
    neither = rules.neither
    p_none = probabilities.none
    if p_none is not None and p_none >= neither.min_probability:
        # No two-wheeler: a person looks, and the driver is asked for a photo of the vehicle.
        return RoutingDecision(
            **review,
            **common,
            model_answer=NONE,
            reason=neither.reason,
            compared=p_none,
            threshold=neither.min_probability,
        )
    vehicle_class = assessment.vehicle_class
    rule = rules.classes.get(vehicle_class)
    if rule is None:
        # A class this deployment does not route (a newer model than its rules): a person decides.
        unknown = ReviewReason.UNKNOWN_CLASS.value
        return RoutingDecision(**review, **common, model_answer=vehicle_class, reason=unknown)
    compared = {"compared": assessment.confidence, "threshold": rule.min_confidence}
    if assessment.confidence < rule.min_confidence:
        # Never a silently wrong bay: an unsure call goes to a person.
        return RoutingDecision(
            **review, **common, **compared, model_answer=vehicle_class, reason=rules.manual_review_reason
        )
    bay = bays.bays[vehicle_class]
    return RoutingDecision(
        **common,
        **compared,
        outcome=Route.ROUTED,
        route=rule.route,
        model_answer=vehicle_class,
        vehicle_class=vehicle_class,
        bay=bay.bay,
        radius_km=bay.radius_km,
    )


def decide_review(decision: RoutingDecision, review: Review, rules: RoutingRules) -> RoutingDecision:
    """The decision a dispatcher's review makes of a photo the model decided: the label's bay at the
    photo's depot, or a rejection for "not a vehicle". What the model said stays on it."""
    if review.label != NOT_A_VEHICLE and review.label not in rules.classes:
        raise UnknownLabel(f"label must be one of {', '.join(rules.review_labels)}")
    depot = rules.depot(decision.depot_id)
    if depot is None:
        raise UnknownLabel(f"the photo's depot {decision.depot_id!r} is not in the rules")
    depot_id, bays = depot
    outcome: dict[str, Any]
    if review.label == NOT_A_VEHICLE:
        outcome = {
            "outcome": Route.REJECTED,
            "route": Route.REJECTED.value,
            "bay": None,
            "radius_km": None,
            "vehicle_class": None,
            "reason": RejectionReason.NOT_A_VEHICLE.value,
        }
    else:
        bay = bays.bays[review.label]
        outcome = {
            "outcome": Route.ROUTED,
            "route": rules.classes[review.label].route,
            "bay": bay.bay,
            "radius_km": bay.radius_km,
            "vehicle_class": review.label,
            "reason": None,
        }
    return decision.model_copy(
        update={
            **outcome,
            "depot_id": depot_id,
            "schema_version": DECISION_SCHEMA_VERSION,
            "rules_version": rules.version,
            "decided_at": review.reviewed_at,
            "decided_by": f"dispatcher:{review.reviewer}",
            "review": review,
        }
    )
