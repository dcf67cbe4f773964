"""The one way a decision is said to people: what the system decided and why, with the number the rule
compared and the rule's threshold, so that a reader can check any route from its line.

    bicycle, 99.72% sure (needs 98.49%) → bay B-NEAR-01, 3 km
    no two-wheeler seen (93.10%, from 50.00%) → a dispatcher looks
    unsure: bicycle 71.00% / motorcycle 29.00% (needs 98.49%) → a dispatcher looks
    pat (dispatcher): motorcycle → bay M-FAR-01, 12 km
    rejected: corrupt-image

Every surface (the board, the driver's status, `upload --wait`, `watch`, `query`, the demo, `drive`, the
logs) prints these lines. Percentages are cut, never rounded, to hundredths, so a number under its
threshold never reads as reaching it.
"""

from __future__ import annotations

import math

from shared.contracts import NONE, NOT_A_VEHICLE, Answer, Route

ARROW = "→"
A_PERSON_LOOKS = "a dispatcher looks"


def percent(value: float) -> str:
    """`0.99729` → `99.72%`: cut to hundredths of a percent, so 0.98489 never shows as 98.49%."""
    return f"{math.floor(round(value * 10_000, 6)) / 100:.2f}%"


def class_name(name: str | None) -> str:
    """How people read a class name: `cargo-bike` → `cargo bike`."""
    if name == NONE:
        return "no two-wheeler"
    if name == NOT_A_VEHICLE:
        return "not a vehicle"
    return (name or "unknown").replace("-", " ")


def destination(answer: Answer) -> str:
    if answer.outcome == Route.ROUTED:
        return f"bay {answer.bay}, {answer.radius_km or 0:g} km"
    if answer.outcome == Route.MANUAL_REVIEW:
        return A_PERSON_LOOKS
    return f"rejected: {answer.reason}"


def model_view(answer: Answer) -> str:
    """What the model said, and the rule that read it: the part before the arrow (kept on a review)."""
    compared, threshold = answer.compared, answer.threshold
    if answer.model_answer == NONE and answer.none_probability is not None:
        bar = f", from {percent(threshold)}" if threshold is not None else ""
        return f"no two-wheeler seen ({percent(answer.none_probability)}{bar})"
    if answer.model_answer is None or compared is None or threshold is None:
        # rejected before the model looked, or a class these rules have no threshold for
        return f"{class_name(answer.model_answer)}: no rule for this class" if answer.model_answer else ""
    needs = f" (needs {percent(threshold)})"
    if compared < threshold and answer.probabilities:
        total = sum(answer.probabilities.values()) or 1.0
        ranked = sorted(answer.probabilities.items(), key=lambda item: -item[1])
        shares = " / ".join(f"{class_name(name)} {percent(p / total)}" for name, p in ranked)
        return f"unsure: {shares}{needs}"
    return f"{class_name(answer.model_answer)}, {percent(compared)} sure{needs}"


def answer_line(answer: Answer) -> str:
    """One line: what was decided and why."""
    if answer.outcome == Route.REJECTED and answer.review is None:
        return destination(answer)
    if answer.review is not None:
        label = class_name(answer.review.label)
        said = model_view(answer)
        model = f" (the model: {said})" if said else ""
        return f"{answer.review.reviewer} (dispatcher): {label} {ARROW} {destination(answer)}{model}"
    return f"{model_view(answer)} {ARROW} {destination(answer)}"
