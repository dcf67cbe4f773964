"""The routing rules file, validated once when loaded."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import CLASS_ORDER, OTHER_CLASS, ReviewReason, Route, VehicleClass

ANSWER_CLASSES = (*(c.value for c in CLASS_ORDER), OTHER_CLASS)

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")


class ClassRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    route: Route
    bay: str = Field(min_length=1)
    radius_km: float = Field(gt=0)
    min_confidence: float = Field(ge=0.5, le=1.0)


class NeitherRule(BaseModel):
    """A photo whose p(other) reaches `min_probability` shows neither class: manual review, never a bay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_probability: float = Field(gt=0.0, le=1.0)
    reason: str = ReviewReason.NO_TWO_WHEELER.value


class RoutingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    manual_review_reason: str = ReviewReason.LOW_CONFIDENCE.value
    # The endpoint's answer order, as SageMaker's built-in algorithm names its classes; a model that
    # answers two numbers fills the first two.
    answer_classes: tuple[str, ...] = ANSWER_CLASSES
    classes: dict[VehicleClass, ClassRule]
    # Required: with a three-class model, rules that ignored p(other) would route a car to a bay.
    neither: NeitherRule

    @model_validator(mode="after")
    def _every_class_is_routed(self) -> RoutingRules:
        missing = set(VehicleClass) - set(self.classes)
        if missing:
            raise ValueError(f"no rule for {sorted(c.value for c in missing)}")
        for vehicle_class, rule in self.classes.items():
            if rule.route not in (Route.SHORT_RADIUS, Route.LONG_RADIUS):
                raise ValueError(f"{vehicle_class.value} must route to a bay, not {rule.route.value}")
        if self.answer_classes != ANSWER_CLASSES:
            # the contract reads the answer in this order (shared.contracts.CLASS_ORDER)
            raise ValueError(
                f"answer_classes must be {list(ANSWER_CLASSES)}, got {list(self.answer_classes)}"
            )
        return self


@lru_cache(maxsize=4)
def load_rules(path: str = "") -> RoutingRules:
    return RoutingRules.model_validate(yaml.safe_load(Path(path or DEFAULT_RULES).read_text()))
