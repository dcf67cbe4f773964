"""The routing rules file, validated once when loaded: the one place that says which classes a
deployment routes, how sure the model must be, and each depot's bays."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import CLASS_NAME, NONE, NOT_A_VEHICLE, ReviewReason

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
DEPOT_ID = r"^[a-z0-9][a-z0-9-]{0,31}$"


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassRule(Rule):
    """How sure the model must be of this class, and the order radius 1.x subscribers read as its route."""

    route: str = Field(min_length=1, description="the order radius's name, a decision's 1.x `route`")
    min_confidence: float = Field(ge=0.5, le=1.0)


class Bay(Rule):
    bay: str = Field(min_length=1)
    name: str = Field(min_length=1, description="what dispatchers and drivers call the bay")
    radius_km: float = Field(gt=0)


class Depot(Rule):
    name: str = Field(min_length=1)
    bays: dict[str, Bay]


class NeitherRule(Rule):
    """A photo whose p(none) reaches `min_probability` shows no two-wheeler: manual review, never a bay."""

    min_probability: float = Field(gt=0.0, le=1.0)
    reason: str = ReviewReason.NO_TWO_WHEELER.value


class RoutingRules(Rule):
    version: str
    manual_review_reason: str = ReviewReason.LOW_CONFIDENCE.value
    # Required: with a model that answers "none", rules that ignored it would route a car to a bay.
    neither: NeitherRule
    classes: dict[str, ClassRule]
    default_depot: str
    depots: dict[str, Depot]

    @model_validator(mode="after")
    def _every_depot_routes_every_class(self) -> RoutingRules:
        for name in self.classes:
            if name in (NONE, NOT_A_VEHICLE) or not re.fullmatch(CLASS_NAME, name):
                raise ValueError(f"{name!r} cannot name a vehicle class")
        for depot_id, depot in self.depots.items():
            if not re.fullmatch(DEPOT_ID, depot_id):
                raise ValueError(f"depot id {depot_id!r} must match {DEPOT_ID}")
            missing = set(self.classes) - set(depot.bays)
            unknown = set(depot.bays) - set(self.classes)
            if missing or unknown:
                raise ValueError(
                    f"depot {depot_id}: no bay for {sorted(missing)}; bays for unknown {sorted(unknown)}"
                )
        if self.default_depot not in self.depots:
            raise ValueError(f"default_depot {self.default_depot!r} is not among the depots")
        return self

    def depot(self, depot_id: str | None) -> tuple[str, Depot] | None:
        """The depot a photo routes by (the default one when it names none); None for an unknown id."""
        chosen = depot_id or self.default_depot
        found = self.depots.get(chosen)
        return (chosen, found) if found is not None else None

    @property
    def review_labels(self) -> tuple[str, ...]:
        """What a dispatcher may say a photo shows: a vehicle class, or not a vehicle."""
        return (*self.classes, NOT_A_VEHICLE)


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> RoutingRules:
    """The rules file at `path`, or the one shipped beside the router."""
    return RoutingRules.model_validate(yaml.safe_load(Path(path or DEFAULT_RULES).read_text()))
