"""`driver-routing evaluate --reviews`: how the model does on live photos, judged by dispatchers.

From the capture table: the model's answer (a class, or `none`: no two-wheeler) against the dispatcher's
label (a class, or `not-a-vehicle`, which is the same answer as `none`), as a confusion matrix over the
classes; how often they agree; which of the model's answers the reviews overturned; and the share of
routed drivers the model routed versus a dispatcher. Only photos the rules sent to a person reach a
dispatcher, so this is the model on its hardest cases, not on all traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from shared.answers import class_name
from shared.contracts import NONE, NOT_A_VEHICLE, CaptureRecord, Route


def same_answer(label: str) -> str:
    """A dispatcher's label in the model's terms: "not a vehicle" is the model's `none`."""
    return NONE if label == NOT_A_VEHICLE else label


def live_accuracy(records: Iterable[CaptureRecord]) -> dict[str, Any]:
    reviewed = agreed = 0
    confusion: Counter[tuple[str, str]] = Counter()
    overturned: Counter[tuple[str, str]] = Counter()
    by_model = by_dispatcher = waiting = 0
    for record in records:
        if record.review is not None:
            reviewed += 1
            model = record.model_answer or "unknown"
            label = same_answer(record.review.label)
            confusion[(model, label)] += 1
            if model == label:
                agreed += 1
            else:
                overturned[(model, label)] += 1
        if record.is_routed:
            if record.review is None:
                by_model += 1
            else:
                by_dispatcher += 1
        elif record.outcome == Route.MANUAL_REVIEW and record.review is None:
            waiting += 1
    routed = by_model + by_dispatcher
    classes = sorted({name for pair in confusion for name in pair})
    return {
        "reviewed": reviewed,
        "agreed": agreed,
        "agreement": round(agreed / reviewed, 4) if reviewed else None,
        "routed": routed,
        "routed_by_model": by_model,
        "routed_by_dispatcher": by_dispatcher,
        "share_routed_by_model": round(by_model / routed, 4) if routed else None,
        "share_routed_by_dispatcher": round(by_dispatcher / routed, 4) if routed else None,
        "waiting_for_review": waiting,
        "classes": classes,
        # model answer -> dispatcher label -> count, every cell of the matrix
        "confusion": {model: {label: confusion[(model, label)] for label in classes} for model in classes},
        "overturned": {f"{model} -> {label}": n for (model, label), n in sorted(overturned.items())},
    }


def format_live_accuracy(summary: dict[str, Any]) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    lines = [
        f"reviewed photos: {summary['reviewed']}; the model's answer and the dispatcher's agreed on "
        f"{summary['agreed']} ({share(summary['agreement'])})",
        f"routed drivers: {summary['routed']}; by the model {summary['routed_by_model']} "
        f"({share(summary['share_routed_by_model'])}), by a dispatcher {summary['routed_by_dispatcher']} "
        f"({share(summary['share_routed_by_dispatcher'])}); "
        f"waiting for review: {summary['waiting_for_review']}",
    ]
    classes = summary["classes"]
    if classes:
        width = max(len(class_name(name)) for name in classes) + 2
        lines.append(
            "model \\ dispatcher".ljust(width + 6) + "".join(class_name(c).rjust(width) for c in classes)
        )
        for model in classes:
            row = summary["confusion"][model]
            lines.append(
                f"  {class_name(model)}".ljust(width + 6) + "".join(str(row[c]).rjust(width) for c in classes)
            )
    for pair, n in summary["overturned"].items():
        model, label = pair.split(" -> ")
        lines.append(
            f"  overturned: the model said {class_name(model)}, the dispatcher {class_name(label)}: {n}"
        )
    lines.append(
        "(only photos the rules sent to a person are reviewed: this is the model on its hardest cases)"
    )
    return "\n".join(lines)
