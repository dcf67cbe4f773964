"""One image's answer in an evaluation, whichever way it was obtained (endpoint call or whole chain)."""

from __future__ import annotations

from dataclasses import dataclass

from model.dataset import Sample


@dataclass
class Outcome:
    sample: Sample
    probs: list[float]
    latency_ms: float
    server_ms: float | None
