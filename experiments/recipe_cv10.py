"""Stratified 10-fold cross-validation of the thumbnail recipe over all 1,200 CIFAR images (train + test).

`python -m experiments.recipe_cv10 run [--data DIR] [--other DIR] [--folds-file FILE] [--out DIR]
[--only K]` (from the repository root; needs the `train` extra) fine-tunes the thumbnail graph once per
fold on the other nine, exactly as `driver-routing train` does (`model.training.thumbnail`: same
recipe, seed rule, features and prior), fits beside it the two "other" heads compared here (the served
one and one that also sees perturbed copies, `model.training.perturb`) and keeps the fold's logits in
`OUT/fold-NN.npz`; a fold already there is not run again, so a stopped run resumes where it stopped.
`python -m experiments.cv10_report` turns the folds into the figures.

What is scored goes the chain's way: each held-out file and each perturbed copy of it (the bytes a phone
would send) through the classifier's payload (`shared.imaging.endpoint_payload`) and the server's decode
(`model.serving.preprocess`), then the fold's network in float32, as the exported graph computes it.

Labels are the corrected ones (`model/data/label-corrections.csv`); the folds are stratified on them and
written once to `--folds-file` (committed), so every candidate is scored on the same folds. other/ is cut
into 10 folds too: the "other" heads are fitted without the fold's other/ photos, which are scored.
What the recipe chose on the train split alone (epochs, learning rate, the prior weight 0.25, the "other"
head's lambda 0.1) is held fixed; what is chosen per fold from data (the confidence threshold, the
"other" offset) is chosen in the report on the other folds' out-of-fold scores, never on the fold scored.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.cli import OTHER_ENV, VEHICLES_ENV
from model.dataset import CLASSES, Sample, default_data_dir, load_samples
from model.training.perturb import KINDS, PAYLOAD_MAX_PIXELS, PAYLOAD_SIDE, chain_input, copies_of_kind
from model.training.recipe import SEED, FloatArray, ThumbnailConfig, TrainConfig, make_folds
from shared.decoding import to_rgb
from shared.imaging import endpoint_payload

FOLDS = 10
RESULTS = Path(__file__).resolve().parent / "results" / "recipe_cv10"
FOLDS_FILE = RESULTS / "folds.csv"
PHOTOS_FILE = (
    "other-photos.npz"  # other/ as sent, on the photo graph (its screen is cross-fitted in the report)
)
SERVED_OTHER_LAMBDA = 0.1  # metadata.json neither.thumbnail.head_lambda (the train split's CV)


def write_folds(samples: list[Sample], data: Path, path: Path) -> None:
    y = np.array([s.label for s in samples], dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "label", "fold"])
        for k, fold in enumerate(make_folds(y, FOLDS, SEED)):
            for i in fold:
                out.writerow([samples[i].path.relative_to(data).as_posix(), CLASSES[y[i]], k + 1])


def read_folds(path: Path, samples: list[Sample], data: Path) -> list[NDArray[np.int64]]:
    """The committed folds, checked against the data: every image in one fold, labels as corrected."""
    index = {s.path.relative_to(data).as_posix(): (i, CLASSES[s.label]) for i, s in enumerate(samples)}
    folds: list[list[int]] = [[] for _ in range(FOLDS)]
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            i, label = index.pop(row["file"])
            if label != row["label"]:
                raise click.ClickException(
                    f"{path}: {row['file']} is {label} in the data, {row['label']} here"
                )
            folds[int(row["fold"]) - 1].append(i)
    if index:
        raise click.ClickException(f"{path}: {len(index)} images of the data are in no fold")
    return [np.array(sorted(f), dtype=np.int64) for f in folds]


def run_fold(
    ctx: dict[str, Any], k: int, fold: NDArray[np.int64], other_fold: NDArray[np.int64]
) -> dict[str, Any]:
    from model.training.finetune import head_and_prior, soup, tuned_features
    from model.training.neither import fit_other_head
    from model.training.thumbnail import other_features, other_head_data

    split, tcfg, side, taps = ctx["split"], ctx["tcfg"], ctx["side"], ctx["taps"]
    images, other = ctx["images"], ctx["other"]
    n = len(images)
    train_idx = np.setdiff1d(np.arange(n), fold)
    tuned = soup(split.tune(tcfg, train_idx, SEED + k))  # the seed rule of `thumbnail.cross_validate`

    def features(inputs: NDArray[np.uint8]) -> FloatArray:
        return tuned_features(tuned, taps, inputs)

    held = features(ctx["inputs"][fold])
    head, prior = head_and_prior(tuned, held)
    kinds = list(KINDS)
    pert = [features(copies_of_kind(images, fold, kind, side, SEED)) for kind in kinds]
    pert_logits = [head_and_prior(tuned, f) for f in pert]

    other_feats = other_features(tuned, taps, other.thumbnails)
    fitted_on = np.setdiff1d(np.arange(len(other.files)), other_fold)
    heads = {}
    for name, perturbed in (("served", False), ("perturbed", True)):
        inliers, outliers = other_head_data(
            tuned, taps, split, ctx["inputs"], train_idx, other_feats, fitted_on, perturbed, SEED + k + 1
        )
        heads[name] = fit_other_head(inliers, outliers, SERVED_OTHER_LAMBDA)
    # the fold's other/ photos as 32 px thumbnails, centre crop and whole frame (views 0 and 2)
    other_held = other_feats[[0, 2]][:, other_fold].reshape(-1, other_feats.shape[-1])
    other_head, other_prior = head_and_prior(tuned, other_held)
    return {
        "fold": fold,
        "head": head,
        "prior": prior,
        "kinds": np.array(kinds),
        "pert_head": np.stack([h for h, _ in pert_logits]),
        "pert_prior": np.stack([p for _, p in pert_logits]),
        "other_fold": other_fold,
        **{
            f"{name}_{part}": values
            for name, fitted in heads.items()
            for part, values in (
                ("inlier", fitted.logit(held)),
                ("pert", np.stack([fitted.logit(f) for f in pert])),
                ("other", fitted.logit(other_held)),
            )
        },
        "other_head": other_head,
        "other_prior": other_prior,
    }


def prepare(data: Path, other_dir: Path, folds_file: Path) -> tuple[dict[str, Any], list[NDArray[np.int64]]]:
    import torch

    from model.training.neither import folds_of, load_other
    from model.training.photo import top_features
    from model.training.recipe import seed_everything
    from model.training.thumbnail import TrainingSet
    from model.training.train import extract_trunk, frozen_backbone

    cfg = TrainConfig(data=data)
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    samples = load_samples(data)  # both splits, corrected labels
    if not folds_file.exists():
        write_folds(samples, data, folds_file)
    folds = read_folds(folds_file, samples, data)
    y = np.array([s.label for s in samples], dtype=np.int64)
    images = [to_rgb(Image.open(s.path)) for s in samples]
    net = frozen_backbone(cfg.backbone, cfg.side)
    frozen = np.stack([top_features(net, view, cfg) for view in extract_trunk(cfg, net, cfg.side, images)])
    other = load_other(other_dir, cfg.side)
    split = TrainingSet(net, cfg.side, cfg.taps, cfg.seed, images, y, frozen, other)
    inputs = np.stack([chain_input(s.path.read_bytes(), cfg.side) for s in samples])
    ctx = {
        "net": net,
        "split": split,
        "tcfg": ThumbnailConfig(),
        "side": cfg.side,
        "taps": cfg.taps,
        "images": images,
        "inputs": inputs,
        "other": other,
        "y": y,
        "other_folds": folds_of(len(other.files), FOLDS, SEED),
    }
    return ctx, folds


def photo_screen_scores(other_dir: Path, side: int, net: Any, taps: int) -> dict[str, Any]:
    """other/ photos as sent, on the photo graph: the served graph's confidence and the screen's score."""
    from model.metadata import ARTIFACTS_DIR
    from model.serving.inference import Predictor
    from model.training.neither import load_other
    from model.training.train import photo_two_wheeler

    files = load_other(other_dir, side).files
    raw = [(other_dir / name).read_bytes() for name in files]
    photos = np.stack([chain_input(data, side) for data in raw])
    served = Predictor(ARTIFACTS_DIR)
    probs = np.array(
        [
            served.classify(endpoint_payload(d, side=PAYLOAD_SIDE, max_pixels=PAYLOAD_MAX_PIXELS))[0]
            for d in raw
        ]
    )
    vehicle = probs[:, 0] + probs[:, 1]
    confidence = np.maximum(probs[:, 0], probs[:, 1]) / vehicle
    return {
        "files": np.array(files),
        "two_wheeler": photo_two_wheeler(net, taps, photos),
        "confident": confidence >= served.threshold,
    }


@click.group()
def main() -> None:
    """The thumbnail recipe, 10-fold over the 1,200 CIFAR images."""


@main.command()
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Default: the train command's.")
@click.option("--other", "other_dir", type=click.Path(path_type=Path), default=None, help="Default: train's.")
@click.option(
    "--folds-file", type=click.Path(dir_okay=False, path_type=Path), default=FOLDS_FILE, show_default=True
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=RESULTS, show_default=True)
@click.option("--only", type=click.IntRange(1, FOLDS), multiple=True, help="These folds only (1-10).")
def run(
    data: Path | None, other_dir: Path | None, folds_file: Path, out: Path, only: tuple[int, ...]
) -> None:
    """Run the folds not yet in OUT, one file each."""
    data = data or default_data_dir(VEHICLES_ENV, "cifar100-vehicles")
    other_dir = other_dir or default_data_dir(OTHER_ENV, "other")
    if data is None or other_dir is None:
        raise click.UsageError(f"no data: pass --data and --other, or set {VEHICLES_ENV} and {OTHER_ENV}")
    out.mkdir(parents=True, exist_ok=True)
    todo = [k for k in (only or range(1, FOLDS + 1)) if not (out / f"fold-{k:02d}.npz").exists()]
    if not todo:
        click.echo(f"every fold asked for is in {out}")
        return
    started = time.perf_counter()
    ctx, folds = prepare(data, other_dir, folds_file)
    click.echo(f"prepared in {time.perf_counter() - started:.0f} s", err=True)
    if not (out / PHOTOS_FILE).exists():
        np.savez(out / PHOTOS_FILE, **photo_screen_scores(other_dir, ctx["side"], ctx["net"], ctx["taps"]))
    for k in todo:
        began = time.perf_counter()
        result = run_fold(ctx, k - 1, folds[k - 1], ctx["other_folds"][k - 1])
        result["seconds"] = np.array(time.perf_counter() - began)
        path = out / f"fold-{k:02d}.npz"
        np.savez(path.with_suffix(".tmp.npz"), **result)
        path.with_suffix(".tmp.npz").replace(path)
        click.echo(f"fold {k}/{FOLDS} in {float(result['seconds']):.0f} s -> {path}", err=True)


if __name__ == "__main__":
    main()
