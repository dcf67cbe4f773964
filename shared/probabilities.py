"""What the model says about one photo: a probability per class it knows, in its own order, and `none`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import ConfigDict, Field, RootModel, field_validator

# The model's answer for "no two-wheeler in this photo", beside its vehicle classes. Which vehicle
# classes there are, and in which order, is the model's to say (model/artifacts/metadata.json): the
# endpoint names them with every answer, the routing rules name the same ones.
NONE = "none"
CLASS_NAME = r"^[a-z][a-z0-9-]{0,39}$"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Probabilities(RootModel[dict[str, Probability]]):
    """What the model said: a probability per class it knows, in the order it names them, and `none`
    (no two-wheeler) when the model has that answer. Serialised as a plain JSON object."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _names(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(not re.fullmatch(CLASS_NAME, name) for name in value):
            raise ValueError(f"class names must match {CLASS_NAME}, got {list(value)}")
        if set(value) == {NONE}:
            raise ValueError("a model's answer names at least one vehicle class")
        return value

    @classmethod
    def from_endpoint(cls, labels: Sequence[str], scores: Sequence[float]) -> Probabilities:
        """Pair the endpoint's scores with the class names it answered them in."""
        if len(labels) != len(scores) or len(set(labels)) != len(labels):
            raise ValueError(f"{len(scores)} probabilities for the classes {list(labels)}")
        return cls({label: float(p) for label, p in zip(labels, scores, strict=True)})

    @property
    def none(self) -> float | None:
        """p(no two-wheeler), from a model that answers it."""
        return self.root.get(NONE)

    def vehicles(self) -> dict[str, float]:
        """The vehicle classes alone, in the model's order (a decision's `probabilities`)."""
        return {name: p for name, p in self.root.items() if name != NONE}

    def shares(self) -> dict[str, float]:
        """Each vehicle class's share of all vehicle probability: how likely each class is, given that
        the photo shows a two-wheeler at all. The confidence rule reads these; "none" is judged on
        its own, so a car's photo never reads as a sure motorcycle or a sure bicycle."""
        vehicles = self.vehicles()
        total = sum(vehicles.values())
        if total <= 0.0:
            return {name: 1.0 / len(vehicles) for name in vehicles}
        return {name: min(1.0, p / total) for name, p in vehicles.items()}

    @property
    def top(self) -> tuple[str, float]:
        """The likeliest vehicle class and its share (the first named wins a tie)."""
        shares = self.shares()
        best = max(shares, key=lambda name: shares[name])
        return best, shares[best]


@dataclass(frozen=True)
class EndpointAnswer:
    """What the model endpoint answered for one image."""

    probabilities: Probabilities
    model_version: str | None
