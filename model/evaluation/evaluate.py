"""Evaluate the endpoint the way production calls it: boto3 sagemaker-runtime invoke_endpoint, one image each.

Each image is sent as the classifier sends it (`shared.imaging.endpoint_payload`: the same bytes), or
as the file is with `raw`. Unless an endpoint URL is given, the model server is started locally behind
the SageMaker-runtime imitation (`local.sagemaker_runtime`) on a free port. `model.evaluation.chain`
measures the whole chain instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import percentile, wilson
from local.processes import HOST, free_port, stop_processes, wait_for_http
from model.dataset import CLASSES, OTHER, OTHER_CLASS, REPO_ROOT, Sample, load_samples
from model.evaluation.outcomes import Outcome
from model.metadata import METADATA_FILE, EvaluationRecord, ModelMetadata, Percentiles, resolve_model_dir

MODES = ("payload", "raw", "chain")
LATENCY_LABELS = {
    "payload": "boto3 round trip",
    "raw": "boto3 round trip",
    "chain": "upload to decision",
}


@contextmanager
def local_endpoint(model_dir: str | None, endpoint_name: str, timeout_s: float = 60.0) -> Iterator[str]:
    """The model server behind the runtime imitation, as a subprocess; yields its URL once /ping is 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "local.sagemaker_runtime", "--host", HOST, "--port", str(port)]
    cmd += ["--endpoint-name", endpoint_name]
    if model_dir:
        cmd += ["--model-dir", model_dir]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        url = f"http://{HOST}:{port}"
        wait_for_http(f"{url}/ping", timeout_s, proc, need_ok=True)
        yield url
    finally:
        stop_processes(proc, timeout_s=10)


def runtime_client(endpoint_url: str, region: str) -> Any:
    from shared.aws.clients import client

    # A local endpoint checks no signature, but boto3 signs every call: any credentials will do.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return client("sagemaker-runtime", region, endpoint_url, attempts=3)


def request_body(path: Path, raw: bool) -> tuple[bytes, str]:
    """The body and content type sent for one image: the classifier's payload, or the file as it is."""
    from shared.formats import content_type_for
    from shared.imaging import PAYLOAD_CONTENT_TYPE

    data = path.read_bytes()
    if raw:
        return data, content_type_for(path.suffix) or "application/x-image"
    return classifier_payload(data), PAYLOAD_CONTENT_TYPE


def classifier_payload(data: bytes) -> bytes:
    """What the classifier sends the endpoint for an uploaded file's bytes, at the deployment's settings."""
    from shared.imaging import endpoint_payload
    from shared.settings import PayloadSettings

    settings = PayloadSettings()
    return endpoint_payload(data, side=settings.endpoint_image_side, max_pixels=settings.max_photo_pixels)


def invoke_all(client: Any, endpoint_name: str, samples: list[Sample], raw: bool = False) -> list[Outcome]:
    outcomes = []
    for sample in samples:
        body, content_type = request_body(sample.path, raw)
        start = time.perf_counter()
        resp = client.invoke_endpoint(EndpointName=endpoint_name, ContentType=content_type, Body=body)
        probs = json.loads(resp["Body"].read())
        elapsed = (time.perf_counter() - start) * 1000
        server = resp["ResponseMetadata"]["HTTPHeaders"].get("x-inference-ms")
        outcomes.append(Outcome(sample, probs, elapsed, float(server) if server else None))
    return outcomes


def routed_masks(
    y: np.ndarray, probs: np.ndarray, threshold: float, neither_threshold: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the router would do (`services/router/domain.py`), per image: "neither", routed to a bay,
    routed to the wrong bay.

    The confidence is the likelier vehicle's share of the two vehicle probabilities (as
    `Probabilities.top` reads an answer); a bay is wrong when it is the other vehicle's, or any bay
    for a photo of neither.
    """
    vehicles = probs[:, : len(CLASSES)]
    confidence = vehicles.max(1) / np.maximum(vehicles.sum(1), 1e-12)
    other = probs[:, len(CLASSES)] if probs.shape[1] > len(CLASSES) else np.zeros(len(probs))
    neither = other >= neither_threshold if neither_threshold is not None else np.zeros(len(probs), bool)
    routed = ~neither & (confidence >= threshold)
    return neither, routed, routed & (vehicles.argmax(1) != y)


def routing(
    y: np.ndarray, probs: np.ndarray, threshold: float, neither_threshold: float | None
) -> dict[str, float]:
    """The shares of `routed_masks`: wrong bay, review (not routed), "neither"."""
    neither, routed, wrong = routed_masks(y, probs, threshold, neither_threshold)
    return {
        "wrong_bay": float(wrong.mean()),
        "review": float((~routed).mean()),
        "neither": float(neither.mean()),
        "kept_from_bay": float((~routed).mean()),
        "neither_threshold": float("nan") if neither_threshold is None else neither_threshold,
    }


def interval(k: int, n: int) -> dict[str, float | int]:
    """A proportion with its 95% Wilson interval, and the counts it comes from."""
    low, high = wilson(k, n)
    return {"k": k, "n": n, "low": low, "high": high}


def intervals(
    y: np.ndarray, probs: np.ndarray, threshold: float, neither_threshold: float | None
) -> dict[str, Any]:
    """95% Wilson intervals of the accuracy (over the images of a vehicle), the wrong bay and the review."""
    vehicle = y != OTHER
    right = probs[:, : len(CLASSES)].argmax(1) == y
    _, routed, wrong = routed_masks(y, probs, threshold, neither_threshold)
    return {
        "accuracy": interval(int(right[vehicle].sum()), int(vehicle.sum())) if vehicle.any() else None,
        "wrong_bay": interval(int(wrong.sum()), len(y)),
        "review": interval(int((~routed).sum()), len(y)),
    }


def summarise(
    outcomes: list[Outcome], threshold: float, neither_threshold: float | None = None
) -> dict[str, Any]:
    y = np.array([o.sample.label for o in outcomes])
    probs = np.array([o.probs for o in outcomes], dtype=np.float64)
    pred = probs[:, : len(CLASSES)].argmax(1)
    confidence = probs[:, : len(CLASSES)].max(1) / np.maximum(probs[:, : len(CLASSES)].sum(1), 1e-12)
    vehicle = y != OTHER
    labels = list(CLASSES) + ([OTHER_CLASS] if (~vehicle).any() else [])
    confusion = [
        [int(((y == t) & (pred == p)).sum()) for p in range(len(CLASSES))] for t in range(len(labels))
    ]
    per_class = {}
    for k, name in enumerate(CLASSES):
        tp = int(((y == k) & (pred == k)).sum())
        per_class[name] = {
            "precision": tp / max(1, int((pred == k).sum())),
            "recall": tp / max(1, int((y == k).sum())),
            "support": int((y == k).sum()),
        }
    lat = [o.latency_ms for o in outcomes]
    server = [o.server_ms for o in outcomes if o.server_ms is not None]
    below = confidence < threshold
    right = pred == y
    return {
        "n": len(outcomes),
        "accuracy": float(right[vehicle].mean()) if vehicle.any() else None,
        "per_class": per_class,
        "confusion": {"labels": labels, "rows_true_cols_pred": confusion},
        "threshold": threshold,
        "below_threshold": float(below.mean()),
        "accuracy_above_threshold": float(right[~below].mean()) if (~below).any() else None,
        **routing(y, probs, threshold, neither_threshold),
        "intervals": intervals(y, probs, threshold, neither_threshold),
        "latency_ms": {"p50": percentile(lat, 50), "p99": percentile(lat, 99)},
        "server_ms": {"p50": percentile(server, 50), "p99": percentile(server, 99)} if server else None,
        "errors": [str(o.sample.path) for o, p, t in zip(outcomes, pred, y, strict=True) if p != t],
    }


CORRECTED_KEYS = (
    "accuracy",
    "per_class",
    "confusion",
    "wrong_bay",
    "review",
    "neither",
    "intervals",
    "errors",
)


def corrected_figures(
    outcomes: list[Outcome], data: Path, split: str | None, threshold: float, neither_threshold: float | None
) -> dict[str, Any]:
    """The same answers scored against the project's corrected labels (`model/data/label-corrections.csv`)."""
    corrected = {s.path: s for s in load_samples(data, split, corrected=True)}
    relabelled = [replace(o, sample=corrected[o.sample.path]) for o in outcomes]
    changes = [
        {
            "file": str(o.sample.path.relative_to(data)),
            "given": CLASSES[o.sample.label],
            "corrected": CLASSES[r.sample.label],
        }
        for o, r in zip(outcomes, relabelled, strict=True)
        if r.sample.label != o.sample.label
    ]
    figures = summarise(relabelled, threshold, neither_threshold)
    return {
        "labels_corrected": len(changes),
        "corrections": changes,
        **{k: figures[k] for k in CORRECTED_KEYS},
    }


def _with_interval(summary: dict[str, Any], name: str) -> str:
    value, bounds = summary[name], (summary["intervals"] or {}).get(name)
    if value is None:
        return f"{name}=n/a"
    if not bounds:
        return f"{name}={value:.4f}"
    return f"{name}={value:.4f} [{bounds['low']:.4f}, {bounds['high']:.4f}] ({bounds['k']}/{bounds['n']})"


def figures_line(summary: dict[str, Any]) -> str:
    """Accuracy, wrong bay and review, each with its 95% Wilson interval and counts."""
    return "  ".join(_with_interval(summary, name) for name in ("accuracy", "wrong_bay", "review"))


def format_report(summary: dict[str, Any]) -> str:
    c = summary["confusion"]["rows_true_cols_pred"]
    accuracy = "n/a" if summary["accuracy"] is None else f"{summary['accuracy']:.4f}"
    lines = [
        f"n={summary['n']}  accuracy={accuracy}",
        f"threshold={summary['threshold']:.4f}  below_threshold={summary['below_threshold']:.4f}",
        f"wrong_bay={summary['wrong_bay']:.4f}  review={summary['review']:.4f}  "
        f"neither={summary['neither']:.4f}  kept_from_bay={summary['kept_from_bay']:.4f}",
    ]
    for name, m in summary["per_class"].items():
        lines.append(f"  {name:<11} precision={m['precision']:.4f} recall={m['recall']:.4f} n={m['support']}")
    lines.append("confusion (rows true, cols predicted): " + " ".join(CLASSES))
    for name, row in zip(summary["confusion"]["labels"], c, strict=True):
        lines.append(f"  {name:<11} " + " ".join(f"{v:>5}" for v in row))
    lat = summary["latency_ms"]
    label = LATENCY_LABELS[summary.get("mode", "payload")]
    lines.append(f"latency_ms ({label}) p50={lat['p50']:.2f} p99={lat['p99']:.2f}")
    if summary["server_ms"]:
        s = summary["server_ms"]
        lines.append(f"server_ms (decode+resize+model) p50={s['p50']:.2f} p99={s['p99']:.2f}")
    lines.append("95% Wilson intervals, labels as given:  " + figures_line(summary))
    if corrected := summary.get("corrected"):
        changed = ", ".join(f"{c['file']} {c['given']}->{c['corrected']}" for c in corrected["corrections"])
        lines.append(
            f"corrected labels ({corrected['labels_corrected']}{': ' + changed if changed else ''}):  "
            + figures_line(corrected)
        )
    return "\n".join(lines)


def confusion_png(summary: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    matrix = np.array(summary["confusion"]["rows_true_cols_pred"])
    fig, ax = plt.subplots(figsize=(3.5, 3.2))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(matrix)), summary["confusion"]["labels"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_title(f"accuracy {summary['accuracy']:.3f} (n={summary['n']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def read_threshold(model_dir: str | None) -> float:
    return ModelMetadata.load(resolve_model_dir(model_dir)).threshold


def read_neither_threshold(model_dir: str | None) -> float | None:
    neither = ModelMetadata.load(resolve_model_dir(model_dir)).neither
    return neither.threshold if neither else None


def evaluate(
    data: Path,
    split: str | None,
    endpoint_url: str | None,
    endpoint_name: str,
    model_dir: str | None,
    region: str,
    threshold: float | None,
    mode: str = "payload",
    stack_name: str = "driver-routing",
    chain_timeout_s: float = 600.0,
) -> dict[str, Any]:
    """`mode`: "payload" (what the classifier sends), "raw" (the files as they are) or "chain" (each
    image uploaded to a stack, its capture record read)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}; one of {MODES}")
    samples = load_samples(data, split, corrected=False)  # the manifest's labels; corrected ones below
    threshold = read_threshold(model_dir) if threshold is None else threshold
    if mode == "chain":
        from model.evaluation.chain import chain_stack, through_chain

        with chain_stack(stack_name, model_dir) as resources:
            outcomes = through_chain(samples, resources, region, chain_timeout_s)
    elif endpoint_url:
        outcomes = invoke_all(runtime_client(endpoint_url, region), endpoint_name, samples, mode == "raw")
    else:
        with local_endpoint(model_dir, endpoint_name) as url:
            outcomes = invoke_all(runtime_client(url, region), endpoint_name, samples, mode == "raw")
    neither_threshold = read_neither_threshold(model_dir)
    summary = summarise(outcomes, threshold, neither_threshold)
    summary["corrected"] = corrected_figures(outcomes, data, split, threshold, neither_threshold)
    summary.update({"data": str(data), "split": split, "endpoint_name": endpoint_name, "mode": mode})
    return summary


def record(summary: dict[str, Any], model_dir: str | None, name: str, command: str) -> Path:
    """Keep the headline figures of an evaluation in the model's metadata.json (the model card's source)."""
    path = resolve_model_dir(model_dir) / METADATA_FILE
    meta = ModelMetadata.read(path)
    meta.evaluation[name] = EvaluationRecord(
        n=summary["n"],
        accuracy=summary["accuracy"],
        threshold=summary["threshold"],
        below_threshold=summary["below_threshold"],
        accuracy_above_threshold=summary["accuracy_above_threshold"],
        latency_ms=Percentiles.model_validate(summary["latency_ms"]),
        confusion=summary["confusion"]["rows_true_cols_pred"],
        command=command,
        wrong_bay=summary.get("wrong_bay"),
        review=summary.get("review"),
        neither=summary.get("neither"),
        kept_from_bay=summary.get("kept_from_bay"),
    )
    meta.write(path)
    return path


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, separators=(",", ":"))
