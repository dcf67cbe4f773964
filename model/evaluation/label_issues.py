"""Candidates for label errors: the served model's answers against the manifest's labels.

`python -m model.evaluation.label_issues --data DIR [--split train --split test] [--json]` sends every
image through the endpoint as `driver-routing evaluate` does (the classifier's payload, boto3
`invoke_endpoint`, a local server unless `--endpoint-url`) and applies confident learning (Northcutt,
Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021): each class's
threshold is the mean self-confidence of the images labelled with it, and an image is a candidate when
the model's probability of another class reaches that class's threshold (an off-diagonal entry of the
confident joint; cleanlab's `find_label_issues(..., filter_by="confident_learning")`). The rule is a few
lines of numpy here rather than cleanlab, whose scikit-learn and pandas dependencies the project does
not otherwise need.

The probabilities are the two vehicles' shares (as the router's confidence reads them); an image the
model calls neither (`p_other` at the served "neither" threshold or above) is listed as a candidate of
its own kind. Labels are the manifest's as given (`corrected=False`), so a candidate already corrected
says so. The served graphs were fitted to the whole train split: its scores are in sample, so a train
candidate is weaker evidence than a test one (an out-of-fold pass would need a retrain per fold).
A candidate is a question for a person to look at, never a correction by itself.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from model.dataset import CLASSES, Sample, default_data_dir, load_samples
from model.evaluation.evaluate import invoke_all, local_endpoint, read_neither_threshold, runtime_client
from model.label_corrections import load_corrections


def class_thresholds(labels: NDArray[np.int64], probs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per class, the mean probability the model gives that class on the images labelled with it."""
    return np.array(
        [probs[labels == k, k].mean() if (labels == k).any() else 1.0 for k in range(probs.shape[1])]
    )


def confident_label_issues(
    labels: NDArray[np.int64], probs: NDArray[np.float64], thresholds: NDArray[np.float64]
) -> NDArray[np.int64]:
    """The class each image confidently belongs to, or -1: among the classes whose probability reaches
    its threshold, the likeliest (cleanlab's confident joint, its 1e-6 tolerance included)."""
    above = probs >= thresholds - 1e-6
    likeliest = np.where(above, probs, -np.inf).argmax(1)
    return np.where(above.any(1), likeliest, -1)


def find_candidates(
    samples: list[Sample], probs: NDArray[np.float64], split: str, neither_threshold: float | None
) -> dict[str, Any]:
    labels = np.array([s.label for s in samples], dtype=np.int64)
    vehicles = probs[:, : len(CLASSES)] / np.maximum(probs[:, : len(CLASSES)].sum(1, keepdims=True), 1e-12)
    other = probs[:, len(CLASSES)] if probs.shape[1] > len(CLASSES) else np.zeros(len(probs))
    thresholds = class_thresholds(labels, vehicles)
    confident = confident_label_issues(labels, vehicles, thresholds)
    neither = other >= neither_threshold if neither_threshold is not None else np.zeros(len(probs), bool)
    corrections = load_corrections(labels=CLASSES)
    candidates: list[dict[str, Any]] = []
    for i in np.flatnonzero(((confident >= 0) & (confident != labels)) | neither):
        kind = "neither" if neither[i] else "other-vehicle"
        suggested = "neither" if neither[i] else CLASSES[confident[i]]
        correction = corrections.get((split, samples[i].path.name))
        candidates.append(
            {
                "file": f"{split}/{samples[i].path.parent.name}/{samples[i].path.name}",
                "kind": kind,
                "given": CLASSES[labels[i]],
                "suggested": suggested,
                "p_given": round(float(vehicles[i, labels[i]]), 4),
                "p_other": round(float(other[i]), 4),
                "corrected_to": correction.corrected_label if correction else None,
            }
        )
    candidates.sort(key=lambda c: c["p_given"])
    return {
        "split": split,
        "n": len(samples),
        "in_sample": split == "train",
        "thresholds": {name: round(float(t), 4) for name, t in zip(CLASSES, thresholds, strict=True)},
        "candidates": candidates,
    }


def score(
    samples: list[Sample], endpoint_url: str | None, endpoint_name: str, model_dir: str | None, region: str
) -> NDArray[np.float64]:
    with nullcontext(endpoint_url) if endpoint_url else local_endpoint(model_dir, endpoint_name) as url:
        outcomes = invoke_all(runtime_client(url, region), endpoint_name, samples)
    return np.array([o.probs for o in outcomes], dtype=np.float64)


def format_report(result: dict[str, Any]) -> str:
    lines = []
    for split in result["splits"]:
        where = "in sample: the served model was fitted to it" if split["in_sample"] else "held out"
        t = " ".join(f"{k}={v}" for k, v in split["thresholds"].items())
        lines.append(
            f"{split['split']}: n={split['n']} ({where}), thresholds {t}, "
            f"{len(split['candidates'])} candidates"
        )
        for c in split["candidates"]:
            done = f"  corrected to {c['corrected_to']}" if c["corrected_to"] else ""
            lines.append(
                f"  {c['file']:<42} given {c['given']:<10} model {c['suggested']:<10} "
                f"p_given={c['p_given']:.4f} p_other={c['p_other']:.4f}{done}"
            )
    return "\n".join(lines)


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=lambda: default_data_dir("VEHICLES_DATA_DIR", "cifar100-vehicles"),
    help="Dataset dir with manifest.csv (default $VEHICLES_DATA_DIR or ../shared/data/cifar100-vehicles).",
)
@click.option("--split", "splits", multiple=True, default=("train", "test"), show_default=True)
@click.option("--endpoint-url", default=None, help="A running endpoint (default: start a local server).")
@click.option("--endpoint-name", default="vehicle-classifier", show_default=True)
@click.option("--model-dir", default=None, help="Model for the local server and its 'neither' threshold.")
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "--scores-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every answer as JSON.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def main(
    data: Path | None,
    splits: tuple[str, ...],
    endpoint_url: str | None,
    endpoint_name: str,
    model_dir: str | None,
    region: str,
    scores_out: Path | None,
    as_json: bool,
) -> None:
    """List the images whose manifest label the served model contradicts with confidence."""
    if data is None:
        raise click.UsageError("give --data DIR (no ../shared/data here, and $VEHICLES_DATA_DIR is not set)")
    per_split = {split: load_samples(data, split, corrected=False) for split in splits}
    everything = [s for samples in per_split.values() for s in samples]
    probs = score(everything, endpoint_url, endpoint_name, model_dir, region)
    neither_threshold = read_neither_threshold(model_dir)
    result: dict[str, Any] = {"data": str(data), "neither_threshold": neither_threshold, "splits": []}
    start = 0
    for split, samples in per_split.items():
        part = probs[start : start + len(samples)]
        start += len(samples)
        result["splits"].append(find_candidates(samples, part, split, neither_threshold))
    if scores_out:
        rows = [
            {"file": str(s.path.relative_to(data)), "label": s.label, "probs": p.tolist()}
            for s, p in zip(everything, probs, strict=True)
        ]
        scores_out.write_text(json.dumps(rows))
    click.echo(format_report(result))
    if as_json:
        click.echo(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
