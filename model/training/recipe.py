"""The recipe: its configurations and seed, and what the photo graph's and the thumbnail graph's
training share: folds, the linear head, the ImageNet prior and the threshold rule.

Training only; torch is imported inside the functions, so the defaults can be read without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.dataset import CLASSES
from model.metadata import ARTIFACTS_DIR, ThresholdChoice

FloatArray = NDArray[np.float64]

SEED = 20240611  # every draw of the recipe (folds, views, initialisation) follows from this one
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)  # weights of the ImageNet zero-shot logit tried by cross-validation


@dataclass(frozen=True)
class ThumbnailConfig:
    """The thumbnail graph's recipe (`thumbnail.py`)."""

    epochs: int = 8
    lr: float = 2e-4
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    shift: int = 2
    # > 0: each step sees `augment.augment` at this strength (crops, light, tilt, blur, JPEG, ...) instead
    # of the mirror and shift alone
    augment: float = 0.0
    drop_connect: float = 0.1
    dropout: float = 0.2
    batch: int = 32
    bf16: bool = True
    folds: int = 3  # 3 x 8 epochs on 2/3 of the split + 8 on all of it keeps `train` well under 30 min
    max_side: int = 64  # uploads whose longer side is at most this go to this graph (2x the thumbnails)
    soup: int = 1  # fine-tunes averaged into the served network (`finetune.soup`; 2 did not beat 1 by CV)
    prior_weights: tuple[float, ...] = PRIOR_WEIGHTS
    # Accuracy asked of the thumbnails routed to a bay (out of fold): a wrong bay is worse than a review.
    target_accuracy: float = 0.995
    other_lambdas: tuple[float, ...] = (1e-2, 1e-1, 1.0)  # the "other" head's regularisation, by CV
    other_keep: float = 0.99  # train thumbnails left routable by the "other" head, out of fold
    # the "other" head also sees a perturbed copy of each picture it is fitted on (`perturb.py`): dim,
    # grey, tilted... two-wheelers as not other, the same of other/ as other (model card, 10-fold CV)
    other_perturbed: bool = False


@dataclass
class TrainConfig:
    """The served recipe: `driver-routing train` defaults to every value here."""

    data: Path
    out: Path = ARTIFACTS_DIR
    backbone: str = "efficientnet-lite0"
    side: int = 192  # 0: the backbone's native resolution; 192 px cross-validated as well as 224 (card)
    split: int = 8  # blocks [0, split) stay frozen (ImageNet's early layers); the rest may fine-tune
    taps: int = 6  # last blocks whose pooled outputs join the head conv's as features
    views: int = 0  # augmented views per training image, on top of the original and its mirror
    aug_strength: float = 0.5
    finetune_epochs: int = 0  # 0: a linear probe on the frozen backbone (what CV chose, see the card)
    lr: float = 1e-4
    l2sp: float = 1e-3  # pull towards the pre-trained weights (L2-SP): keep what ImageNet taught
    batch: int = 32
    folds: int = 5
    seed: int = SEED
    lambdas: tuple[float, ...] = (3e-3, 1e-2, 3e-2, 1e-1)
    prior_weights: tuple[float, ...] = PRIOR_WEIGHTS
    target_accuracy: float = 0.99  # accuracy asked of predictions at or above the threshold
    threads: int = 2
    thumbnail_epochs: int = ThumbnailConfig.epochs  # 0: no thumbnail graph, the probe answers every upload
    thumbnail_folds: int = ThumbnailConfig.folds
    thumbnail_max_side: int = ThumbnailConfig.max_side
    thumbnail_soup: int = ThumbnailConfig.soup
    thumbnail_other_perturbed: bool = ThumbnailConfig.other_perturbed
    # Photos without a bicycle or motorcycle (outlier exposure and the "neither" operating points);
    # None: no screen, the graphs answer two probabilities as before.
    other: Path | None = None
    other_kept_target: float = 0.98  # share of other/ the photo screen must keep from a bay (on CV folds)
    # Datasets added to `data`'s train split (`driver-routing dataset from-reviews` folders).
    add_data: tuple[Path, ...] = ()


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def prior_from_features(net: Any, feats: FloatArray) -> FloatArray:
    """Zero-shot logit from the head-conv part of the features through the kept ImageNet rows."""
    from model.training.imagenet import BICYCLE_IMAGENET, MOTORCYCLE_IMAGENET

    rows = list(BICYCLE_IMAGENET) + list(MOTORCYCLE_IMAGENET)
    weight = net._fc.weight.detach().numpy()[rows].astype(np.float64)
    bias = net._fc.bias.detach().numpy()[rows].astype(np.float64)
    logits = feats[:, -weight.shape[1] :] @ weight.T + bias
    return prior_logit(logits)


def lse(x: FloatArray) -> FloatArray:
    m = x.max(-1, keepdims=True)
    return np.asarray((m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0], dtype=np.float64)


def prior_logit(logits: FloatArray) -> FloatArray:
    from model.training.imagenet import BICYCLE_IMAGENET

    n = len(BICYCLE_IMAGENET)
    return lse(logits[..., n:]) - lse(logits[..., :n])


@dataclass
class Head:
    weight: FloatArray
    bias: float
    mean: FloatArray
    std: FloatArray

    def logit(self, x: FloatArray) -> FloatArray:
        return np.asarray(((x - self.mean) / self.std) @ self.weight + self.bias, dtype=np.float64)


def fit_head(x: FloatArray, y: NDArray[np.int64], lam: float) -> Head:
    """L2-regularised logistic regression (full-batch L-BFGS, deterministic)."""
    import torch

    mean = x.mean(0)
    std = x.std(0) + 1e-6
    xt = torch.tensor((x - mean) / std, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + lam * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return Head(w.detach().numpy(), float(b.item()), mean, std)


def make_folds(y: NDArray[np.int64], folds: int, seed: int) -> list[NDArray[np.int64]]:
    """Stratified folds over images (every view of an image stays in its image's fold)."""
    rng = np.random.RandomState(seed % 2**32)
    parts: list[list[NDArray[np.int64]]] = [[] for _ in range(folds)]
    for label in range(len(CLASSES)):
        for k, chunk in enumerate(np.array_split(rng.permutation(np.where(y == label)[0]), folds)):
            parts[k].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def choose_threshold(oof_logit: FloatArray, y: NDArray[np.int64], target: float) -> ThresholdChoice:
    """Lowest confidence threshold whose out-of-fold accuracy at or above it reaches `target`."""
    p = 1.0 / (1.0 + np.exp(-oof_logit))
    confidence = np.maximum(p, 1.0 - p)
    correct = (oof_logit > 0) == y
    chosen = 1.0
    for t in np.unique(np.round(np.concatenate([[0.5], confidence]), 4)):
        keep = confidence >= t
        if keep.any() and correct[keep].mean() >= target:
            chosen = float(t)
            break
    keep = confidence >= chosen
    return ThresholdChoice(
        threshold=chosen,
        cv_below_threshold=float((~keep).mean()),
        cv_accuracy_above_threshold=float(correct[keep].mean()) if keep.any() else float("nan"),
        cv_accuracy=float(correct.mean()),
    )
