"""The routing rules file, validated once when loaded."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import Route, VehicleClass

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")


class ClassRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    route: Route
    bay: str = Field(min_length=1)
    radius_km: float = Field(gt=0)
    min_confidence: float = Field(ge=0.5, le=1.0)


class RoutingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    manual_review_reason: str = "low-confidence"
    classes: dict[VehicleClass, ClassRule]

    @model_validator(mode="after")
    def _every_class_is_routed(self) -> RoutingRules:
        missing = set(VehicleClass) - set(self.classes)
        if missing:
            raise ValueError(f"no rule for {sorted(c.value for c in missing)}")
        for vehicle_class, rule in self.classes.items():
            if rule.route not in (Route.SHORT_RADIUS, Route.LONG_RADIUS):
                raise ValueError(f"{vehicle_class.value} must route to a bay, not {rule.route.value}")
        return self


@lru_cache(maxsize=4)
def load_rules(path: str = "") -> RoutingRules:
    return RoutingRules.model_validate(yaml.safe_load(Path(path or DEFAULT_RULES).read_text()))
