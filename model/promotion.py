"""`driver-routing promote CANDIDATE`: the gate a retrained model passes before it serves.

The candidate and the served model answer the same images, each set scored apart: the CIFAR test
split (corrected labels), perturbed copies of it (one of each kind of phone damage in
`model.training.perturb`, the same copies for both models), the real photos, and the reviewed photos
every added dataset held back from training (`holdout`, the dispatchers' labels). Each answer is
decided by the router's own rules (`services.router.domain.decide`, at the deployment's thresholds), so
"wrong bay" and "review" mean what they mean to a driver. The candidate passes only if, for both, it is
no worse in total (no more wrong bays, no more reviews, on the very same images) and on no set above
the served model's 95% Wilson upper bound.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.stats import wilson
from model.dataset import CLASSES, OTHER, Sample, load_samples
from services.router.domain import decide
from services.router.rules import RoutingRules
from shared.contracts import PhotoRef, Prediction, Probabilities, Route, utc_now

METRICS = ("wrong_bay", "review")
HOLDOUT = "holdout"
REVIEW_OTHER = "other"  # a dispatcher's "not a vehicle" in a review dataset
PERTURB_SEED = 2024  # the gate's perturbed copies: the same ones at every promotion


@dataclass(frozen=True)
class GateImage:
    """One image both models answer: the file a phone would send (made when scored) and its label."""

    read: Callable[[], bytes]
    label: int  # index into CLASSES, or OTHER


def as_sent(samples: Iterable[Sample]) -> list[GateImage]:
    return [GateImage(sample.path.read_bytes, sample.label) for sample in samples]


def _perturbed_file(path: Path, kind: str, index: int) -> bytes:
    from PIL import Image

    from model.training.perturb import perturbed_bytes, seeded

    with Image.open(path) as img:
        return perturbed_bytes(img.convert("RGB"), kind, seeded(PERTURB_SEED, index, kind))


def perturbed_copies(samples: Sequence[Sample]) -> list[GateImage]:
    """One copy of each kind of each sample, as a phone would send it: the same bytes at every call."""
    from model.training.perturb import KINDS

    return [
        GateImage(partial(_perturbed_file, sample.path, kind, index), sample.label)
        for index, sample in enumerate(samples)
        for kind in KINDS
    ]


@dataclass(frozen=True)
class Tally:
    """One model on one set: images, wrong bays, reviews."""

    n: int
    wrong_bay: int
    review: int

    def count(self, metric: str) -> int:
        return int(getattr(self, metric))

    def interval(self, metric: str) -> tuple[float, float]:
        return wilson(self.count(metric), self.n)

    def figures(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **{
                m: {"k": self.count(m), "low": round(lo, 4), "high": round(hi, 4)}
                for m in METRICS
                for lo, hi in [self.interval(m)]
            },
        }


def holdout_samples(dataset: Path) -> list[Sample]:
    """The reviewed photos a review dataset held back from training, with the dispatchers' labels."""
    with (dataset / "manifest.csv").open(newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["split"] == HOLDOUT]
    samples = []
    for row in rows:
        label = row["class"]
        index = CLASSES.index(label) if label in CLASSES else OTHER if label == REVIEW_OTHER else None
        if index is not None:
            samples.append(Sample(dataset / HOLDOUT / label / row["filename"], index))
    return samples


def gate_sets(
    data: Path | None, photos: Path | None, reviews: Sequence[Path], *, perturbed: bool = True
) -> dict[str, list[GateImage]]:
    """The images both models are scored on, by set."""
    sets: dict[str, list[GateImage]] = {}
    if data is not None:
        test = load_samples(data, "test")
        sets["cifar-test"] = as_sent(test)
        if perturbed:
            sets["cifar-test-perturbed"] = perturbed_copies(test)
    if photos is not None:
        sets["photos"] = as_sent(load_samples(photos))
    held = [sample for dataset in reviews for sample in holdout_samples(dataset)]
    if held:
        sets["reviews-holdout"] = as_sent(held)
    return sets


def tally(model_dir: Path, images: Iterable[GateImage], rules: RoutingRules) -> Tally:
    """The model's answers on `images`, each decided by the router's rules."""
    from model.evaluation.evaluate import classifier_payload
    from model.serving.inference import Predictor

    predictor = Predictor(model_dir)
    n = wrong = review = 0
    for index, image in enumerate(images):
        scores, _ = predictor.classify(classifier_payload(image.read()))
        answer = Probabilities.from_endpoint(predictor.labels, scores)
        vehicle_class, confidence = answer.top
        photo = PhotoRef(bucket="gate", key=f"gate/{index}.png", etag="-", size=0, uploaded_at=utc_now())
        decision = decide(
            Prediction(
                photo=photo,
                driver_id="gate",
                probabilities=answer,
                vehicle_class=vehicle_class,
                confidence=confidence,
                endpoint_name="gate",
                model_version=predictor.version,
            ),
            rules,
        )
        truth = CLASSES[image.label] if image.label != OTHER else None
        n += 1
        wrong += decision.outcome == Route.ROUTED and decision.vehicle_class != truth
        review += decision.outcome == Route.MANUAL_REVIEW
    return Tally(n, wrong, review)


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: list[str]  # why not, empty when it passes


def judge(served: dict[str, Tally], candidate: dict[str, Tally]) -> Verdict:
    """No worse in total on the same images, and on no set beyond the served model's upper bound."""
    if not served or set(served) != set(candidate):
        return Verdict(False, ["no common set of images to score both models on"])
    reasons = []
    for metric in METRICS:
        before = sum(t.count(metric) for t in served.values())
        after = sum(t.count(metric) for t in candidate.values())
        if after > before:
            reasons.append(f"{metric.replace('_', ' ')}: {after} against {before} on the same images")
        for name, tally_ in candidate.items():
            high = served[name].interval(metric)[1]
            share = tally_.count(metric) / tally_.n if tally_.n else 0.0
            if share > high:
                reasons.append(
                    f"{metric.replace('_', ' ')} on {name}: {share:.1%}, over the served model's "
                    f"95% upper bound {high:.1%}"
                )
    return Verdict(not reasons, reasons)


def format_scores(served: dict[str, Tally], candidate: dict[str, Tally]) -> str:
    def cell(t: Tally, metric: str) -> str:
        low, high = t.interval(metric)
        return f"{t.count(metric)}/{t.n} ({low:.1%}-{high:.1%})"

    lines = [f"{'set':<16} {'model':<10} {'wrong bay (95% CI)':<24} {'review (95% CI)':<24}"]
    for name in served:
        for who, tallies in (("served", served), ("candidate", candidate)):
            t = tallies[name]
            lines.append(f"{name:<16} {who:<10} {cell(t, 'wrong_bay'):<24} {cell(t, 'review'):<24}")
    return "\n".join(lines)
