"""Neither bicycle nor motorcycle": the scores, their cross-validation and the operating points.

Two screens, one per graph, because the two graphs see two domains (model card, "Neither"):

* photo graph: the ImageNet two-wheeler logit of the frozen backbone, log P(two-wheeler classes) -
  log P(every other ImageNet class). It needs no training image of a two-wheeler at photo resolution
  (the train split has none); its one parameter, the threshold, is chosen by cross-validation on
  `other/` so that enough of those photos are kept from a bay.
* thumbnail graph: a logistic "other" head (outlier exposure) on the fine-tuned network's own pooled
  features, fitted on the train thumbnails against `other/` photos down-scaled to CIFAR's 32 px; its
  threshold keeps 99% of the train thumbnails out of fold.

Each graph answers `p_other = sigmoid(neither logit - operating point)`, so one router threshold (0.5)
serves both. Numpy only, except `fit_head` (torch) through `fit_other_head`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.serving.preprocess import decode_image, load_sized_input, to_model_input
from model.training.imagenet import TWO_WHEELER_IMAGENET
from model.training.recipe import FloatArray, Head, fit_head, lse

# ImageNet-1k has no motorcycle class: the two-wheeler mass is spread over these (GUIDE.md).
ROUTER_NEITHER_THRESHOLD = 0.5  # p_other at or above it: manual review (each graph is shifted onto it)
THUMBNAIL_SIDE = 32  # CIFAR's size: what `other/` photos are shrunk to for the thumbnail screen


def two_wheeler_logit(imagenet_logits: FloatArray) -> FloatArray:
    """log P(two-wheeler classes) - log P(the rest) under the backbone's ImageNet softmax."""
    mask = np.zeros(imagenet_logits.shape[-1], dtype=bool)
    mask[list(TWO_WHEELER_IMAGENET)] = True
    return lse(imagenet_logits[..., mask]) - lse(imagenet_logits[..., ~mask])


def auroc(inlier: FloatArray, outlier: FloatArray) -> float:
    """P(an outlier scores higher than an inlier), ties counted half: scores say "other"."""
    scores = np.concatenate([inlier, outlier])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_out, n_in = len(outlier), len(inlier)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_out * n_in))


def fpr_at_tpr(inlier: FloatArray, outlier: FloatArray, tpr: float = 0.95) -> float:
    """Share of outliers let through at the threshold that keeps `tpr` of the inliers (scores say "other")."""
    threshold = float(np.quantile(inlier, tpr, method="higher"))
    return float((outlier <= threshold).mean())


def folds_of(n: int, folds: int, seed: int) -> list[NDArray[np.int64]]:
    rng = np.random.RandomState(seed % 2**32)
    return [np.sort(part) for part in np.array_split(rng.permutation(n), folds)]


@dataclass(frozen=True)
class OtherSet:
    """`other/` photos (no bicycle, no motorcycle): model inputs as served and as thumbnails."""

    files: list[str]
    photos: NDArray[np.uint8]  # [N, S, S, 3]: decoded and resized as the server does for a photo
    thumbnails: NDArray[np.uint8]  # [V, N, S, S, 3]: 32 px (centre crop, whole frame) x (as is, mirror)
    small: tuple[
        list[Image.Image], list[Image.Image]
    ]  # the 32 px (crops, frames) perturbed copies start from


def load_other(root: Path, side: int) -> OtherSet:
    """Every photo listed in `root/manifest.csv` (column `file`), or every image below `root`."""
    manifest = root / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="") as fh:
            files = sorted(row["file"] for row in csv.DictReader(fh))
    else:
        suffixes = {".jpg", ".jpeg", ".png", ".webp"}
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in suffixes)
    if not files:
        raise FileNotFoundError(f"no photos under {root}")
    photos, crops, frames = [], [], []
    for name in files:
        data = (root / name).read_bytes()
        photos.append(load_sized_input(data, side)[0])
        img = decode_image(data, side)  # upright, RGB, as the server decodes it
        w, h = img.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        small = (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        # CIFAR's images are square crops of their objects; a whole frame squeezed is the other guess
        crops.append(img.crop(box).resize(small, Image.Resampling.BILINEAR, reducing_gap=3.0))
        frames.append(img.resize(small, Image.Resampling.BILINEAR, reducing_gap=3.0))
    views = []
    for thumbs in (crops, frames):
        views.append(np.stack([to_model_input(t, side) for t in thumbs]))
        mirrored = [t.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for t in thumbs]
        views.append(np.stack([to_model_input(t, side) for t in mirrored]))
    return OtherSet(files, np.stack(photos), np.stack(views), (crops, frames))


@dataclass(frozen=True)
class PhotoScreen:
    """The photo graph's screen: "other" when the two-wheeler logit is below `threshold`."""

    threshold: float
    oof_kept: float  # out of fold on other/: share kept from a bay (flagged, or under the confidence bar)
    oof_flagged: float  # out of fold on other/: share flagged "neither"


def choose_two_wheeler_threshold(
    tw_logit: FloatArray, confident: NDArray[np.bool_], kept_target: float, grid: FloatArray
) -> float:
    """Lowest threshold (fewest vehicles flagged) whose share of other/ kept from a bay reaches the target."""
    for t in np.sort(grid):
        kept = (tw_logit < t) | ~confident
        if kept.mean() >= kept_target:
            return float(t)
    return float(np.max(grid))


def cross_validate_photo_screen(
    tw_logit: FloatArray, confident: NDArray[np.bool_], kept_target: float, folds: int, seed: int
) -> PhotoScreen:
    """Out-of-fold share of other/ kept with the threshold chosen on the other folds; then on all of it."""
    grid = np.round(np.arange(-12.0, 2.0001, 0.25), 2)
    oof_flag = np.zeros(len(tw_logit), dtype=bool)
    for fold in folds_of(len(tw_logit), folds, seed):
        rest = np.setdiff1d(np.arange(len(tw_logit)), fold)
        t = choose_two_wheeler_threshold(tw_logit[rest], confident[rest], kept_target, grid)
        oof_flag[fold] = tw_logit[fold] < t
    threshold = choose_two_wheeler_threshold(tw_logit, confident, kept_target, grid)
    return PhotoScreen(threshold, float((oof_flag | ~confident).mean()), float(oof_flag.mean()))


def fit_other_head(inlier: FloatArray, outlier: FloatArray, lam: float) -> Head:
    """Logistic regression: 1 = other. The outliers are weighted up by repetition to half the mass."""
    repeat = max(1, round(len(inlier) / max(1, len(outlier))))
    x = np.concatenate([inlier, np.tile(outlier, (repeat, 1))])
    y = np.concatenate([np.zeros(len(inlier)), np.ones(len(outlier) * repeat)]).astype(np.int64)
    return fit_head(x, y, lam)


def inlier_threshold(inlier_scores: FloatArray, keep: float) -> float:
    """The score under which `keep` of the inliers fall (they stay routable)."""
    return float(np.quantile(inlier_scores, keep, method="higher"))
