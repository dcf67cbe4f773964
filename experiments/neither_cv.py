"""Which "neither" score: the candidates compared out of fold on the train split and other/ only.

`python -m experiments.neither_cv [--data DIR] [--other DIR] [--cache DIR] [--json]` (from the
repository root; needs the `train` extra). The frozen EfficientNet-Lite0 of the photo graph (192 px,
6 taps) gives pooled features for the train thumbnails (and mirrors), the other/ photos as the
server decodes them (and mirrors), and the other/ photos shrunk to 32 px (centre crop and whole
frame, and mirrors); they are cached in `--cache`. Every score says "other"; inliers are the train
thumbnails, out of fold for the fitted scores (5 stratified folds over the thumbnails and 5 over
other/, the recipe's seed). Columns: AUROC and FPR at 95% TPR against the full photos and against
their 32 px thumbnails, and the share of other/ let through when 99% of the inliers are. Then the
photo screen's operating point for several kept-from-a-bay targets. No artifact is written: this is
the comparison behind the model card's "Neither" table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.cli import OTHER_ENV, VEHICLES_ENV
from model.dataset import default_data_dir, load_samples
from model.serving.preprocess import to_model_input, to_rgb
from model.training.neither import (
    auroc,
    cross_validate_photo_screen,
    fit_other_head,
    folds_of,
    fpr_at_tpr,
    load_other,
    two_wheeler_logit,
)
from model.training.recipe import SEED, FloatArray, TrainConfig, fit_head, lse, make_folds, prior_logit

FOLDS = 5
PROBE_LAMBDA, PROBE_PRIOR_WEIGHT = 3e-3, 0.5  # the served photo graph's (metadata.json `cv`)
Fn = Callable[[FloatArray], FloatArray]
Scorer = Callable[[NDArray[np.int64], NDArray[np.int64]], Fn]


def cached_features(data: Path, other_dir: Path, cache: Path) -> dict[str, NDArray[Any]]:
    """Frozen features [views, N, F] of the train thumbnails, other/ photos and other/ thumbnails."""
    path = cache / "neither_frozen.npz"
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    from model.training.export import export_onnx, ort_session
    from model.training.network import Features, load_backbone

    side, taps = TrainConfig.side, TrainConfig.taps
    net = load_backbone(TrainConfig.backbone, side)
    cache.mkdir(parents=True, exist_ok=True)
    graph = cache / "features.onnx"
    export_onnx(Features(net, taps).eval(), side, graph, ["features"])
    session = ort_session(graph, TrainConfig.threads)

    def run(batch: NDArray[np.uint8]) -> FloatArray:
        chunks = [session.run(None, {"image": batch[i : i + 50]})[0] for i in range(0, len(batch), 50)]
        return np.concatenate(chunks).astype(np.float64)

    samples = load_samples(data, "train")
    images = [to_rgb(Image.open(s.path)) for s in samples]
    flipped = [img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for img in images]
    other = load_other(other_dir, side)
    out = {
        "train": np.stack([run(np.stack([to_model_input(i, side) for i in v])) for v in (images, flipped)]),
        "y": np.array([s.label for s in samples], dtype=np.int64),
        "photos": np.stack([run(other.photos), run(np.ascontiguousarray(other.photos[:, :, ::-1]))]),
        "thumbnails": np.stack([run(v) for v in other.thumbnails]),
        "fc_weight": net._fc.weight.detach().numpy().astype(np.float64),
        "fc_bias": net._fc.bias.detach().numpy().astype(np.float64),
    }
    np.savez(path, **out)
    return out


class Study:
    """The cached features and the folds every fitted score is cross-validated on."""

    def __init__(self, feats: dict[str, NDArray[Any]]) -> None:
        self.train, self.y = feats["train"], feats["y"]
        self.photos, self.thumbs = feats["photos"], feats["thumbnails"]
        self.fc_weight, self.fc_bias = feats["fc_weight"], feats["fc_bias"]
        self.folds = make_folds(self.y, FOLDS, SEED)
        self.other_folds = folds_of(self.photos.shape[1], FOLDS, SEED)

    def imagenet(self, f: FloatArray) -> FloatArray:
        return np.asarray(f[:, -self.fc_weight.shape[1] :] @ self.fc_weight.T + self.fc_bias)

    def cross_validate(self, scorer: Scorer) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Out-of-fold scores: train thumbnails, other/ photos, other/ thumbnails (centre crop)."""
        inl, pho, thu = np.zeros(len(self.y)), np.zeros(self.photos.shape[1]), np.zeros(self.photos.shape[1])
        for fold, other_fold in zip(self.folds, self.other_folds, strict=True):
            rest = np.setdiff1d(np.arange(len(self.y)), fold)
            other_rest = np.setdiff1d(np.arange(self.photos.shape[1]), other_fold)
            fn = scorer(rest, other_rest)
            inl[fold] = fn(self.train[0][fold])
            pho[other_fold], thu[other_fold] = fn(self.photos[0][other_fold]), fn(self.thumbs[0][other_fold])
        return inl, pho, thu

    def fixed(self, fn: Fn) -> tuple[FloatArray, FloatArray, FloatArray]:
        return fn(self.train[0]), fn(self.photos[0]), fn(self.thumbs[0])

    def probe(self, rest: NDArray[np.int64]) -> Fn:
        """The served photo graph's bicycle/motorcycle logit, fitted on `rest` (train thumbnails)."""
        from model.training.imagenet import BICYCLE_IMAGENET, MOTORCYCLE_IMAGENET

        rows = list(BICYCLE_IMAGENET) + list(MOTORCYCLE_IMAGENET)
        x = self.train[:, rest].reshape(-1, self.train.shape[-1])
        head = fit_head(x, np.tile(self.y[rest], self.train.shape[0]), PROBE_LAMBDA)
        return lambda f: head.logit(f) + PROBE_PRIOR_WEIGHT * prior_logit(self.imagenet(f)[:, rows])

    def inliers(self, rest: NDArray[np.int64]) -> FloatArray:
        return np.asarray(self.train[:, rest].reshape(-1, self.train.shape[-1]))


def probe_margin(study: Study) -> Scorer:
    """Max softmax of the two-class probe, as -|logit| (it is always >= 0.5 with two classes)."""

    def scorer(rest: NDArray[np.int64], _: NDArray[np.int64]) -> Fn:
        probe = study.probe(rest)
        return lambda f: np.asarray(-np.abs(probe(f)))

    return scorer


def knn(study: Study, k: int) -> Scorer:
    def scorer(rest: NDArray[np.int64], _: NDArray[np.int64]) -> Fn:
        ref = study.inliers(rest)
        ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)

        def fn(f: FloatArray) -> FloatArray:
            sim = (f / np.linalg.norm(f, axis=1, keepdims=True)) @ ref.T
            return np.asarray(-np.sort(sim, 1)[:, -k])

        return fn

    return scorer


def mahalanobis(study: Study, shrink: float) -> Scorer:
    def scorer(rest: NDArray[np.int64], _: NDArray[np.int64]) -> Fn:
        x, yy = study.inliers(rest), np.tile(study.y[rest], study.train.shape[0])
        mean, std = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / std
        centres = [z[yy == c].mean(0) for c in (0, 1)]
        centred = np.concatenate([z[yy == c] - centres[c] for c in (0, 1)])
        cov = centred.T @ centred / len(centred)
        cov = (1 - shrink) * cov + shrink * np.eye(len(cov)) * np.trace(cov) / len(cov)
        precision = np.linalg.inv(cov)

        def fn(f: FloatArray) -> FloatArray:
            d = [
                np.einsum("ij,jk,ik->i", (f - mean) / std - c, precision, (f - mean) / std - c)
                for c in centres
            ]
            return np.asarray(np.min(d, 0))

        return fn

    return scorer


def other_head(study: Study, lam: float, sources: tuple[str, ...]) -> Scorer:
    """Outlier exposure: a logistic head, train thumbnails against the named other/ views."""

    def scorer(rest: NDArray[np.int64], other_rest: NDArray[np.int64]) -> Fn:
        views = {"photos": study.photos, "thumbnails": study.thumbs}
        outliers = np.concatenate(
            [views[s][:, other_rest].reshape(-1, study.photos.shape[-1]) for s in sources]
        )
        return fit_other_head(study.inliers(rest), outliers, lam).logit

    return scorer


def row(name: str, scores: tuple[FloatArray, FloatArray, FloatArray]) -> dict[str, Any]:
    inl, photos, thumbs = scores
    return {
        "score": name,
        "photos_auroc": auroc(inl, photos),
        "photos_fpr95": fpr_at_tpr(inl, photos, 0.95),
        "photos_fpr99": fpr_at_tpr(inl, photos, 0.99),
        "thumbs_auroc": auroc(inl, thumbs),
        "thumbs_fpr95": fpr_at_tpr(inl, thumbs, 0.95),
        "thumbs_fpr99": fpr_at_tpr(inl, thumbs, 0.99),
    }


def compare(study: Study) -> dict[str, Any]:
    def tw(f: FloatArray) -> FloatArray:
        return -two_wheeler_logit(study.imagenet(f))

    rows = [
        row("ImageNet two-wheeler logit (no fit)", study.fixed(tw)),
        row("energy, -logsumexp of the ImageNet logits", study.fixed(lambda f: -lse(study.imagenet(f)))),
        row(
            "ImageNet max softmax",
            study.fixed(lambda f: -np.exp(study.imagenet(f).max(1) - lse(study.imagenet(f)))),
        ),
        row(
            "max softmax of the bicycle/motorcycle probe, -|logit|",
            study.cross_validate(probe_margin(study)),
        ),
        row("kNN cosine k=1", study.cross_validate(knn(study, 1))),
        row("kNN cosine k=5", study.cross_validate(knn(study, 5))),
        row("Mahalanobis, shared covariance, shrinkage 0.5", study.cross_validate(mahalanobis(study, 0.5))),
    ]
    for lam in (1e-2, 1e-1, 1.0):
        rows.append(
            row(
                f"'other' head, photos + 32 px, lambda {lam:g}",
                study.cross_validate(other_head(study, lam, ("photos", "thumbnails"))),
            )
        )
        rows.append(
            row(
                f"'other' head, 32 px only, lambda {lam:g}",
                study.cross_validate(other_head(study, lam, ("thumbnails",))),
            )
        )
    # the photo screen: the two-wheeler logit's threshold by CV on other/, the probe's confidence bar
    probe = study.probe(np.arange(len(study.y)))
    p = 1 / (1 + np.exp(-probe(study.photos[0])))
    confident = np.maximum(p, 1 - p) >= 0.9849
    tw_photos, tw_train = -tw(study.photos[0]), -tw(study.train[0])
    points = []
    for target in (0.95, 0.96, 0.97, 0.98, 0.99):
        fit = cross_validate_photo_screen(tw_photos, confident, target, FOLDS, SEED)
        points.append(
            {
                "kept_target": target,
                "threshold": fit.threshold,
                "other_kept_oof": fit.oof_kept,
                "other_flagged_oof": fit.oof_flagged,
                "train_thumbnails_flagged": float((tw_train < fit.threshold).mean()),
            }
        )
    sharpness = {
        "two_wheeler_logit_mean": {
            "train thumbnails": float(tw_train.mean()),
            "other photos": float(tw_photos.mean()),
            "other 32 px": float(-tw(study.thumbs[0]).mean()),
        },
        "other_photos_over_the_probe_bar": float(confident.mean()),
    }
    return {"rows": rows, "photo_screen": points, "sharpness": sharpness}


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--other", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/neither"))
@click.option("--json", "as_json", is_flag=True)
def main(data: Path | None, other: Path | None, cache: Path, as_json: bool) -> None:
    data = data or default_data_dir(VEHICLES_ENV, "cifar100-vehicles")
    other = other or default_data_dir(OTHER_ENV, "other")
    if data is None or other is None:
        raise click.UsageError("give --data and --other (or set their environment variables)")
    result = compare(Study(cached_features(data, other, cache)))
    for r in result["rows"]:
        click.echo(
            f"{r['score']:<58} photos AUROC {r['photos_auroc']:.3f} FPR95 {r['photos_fpr95']:.3f} "
            f"FPR99 {r['photos_fpr99']:.3f} | 32px AUROC {r['thumbs_auroc']:.3f} "
            f"FPR95 {r['thumbs_fpr95']:.3f} FPR99 {r['thumbs_fpr99']:.3f}"
        )
    for point in result["photo_screen"]:
        click.echo(f"photo screen {point}")
    click.echo(f"sharpness {result['sharpness']}")
    if as_json:
        click.echo(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
