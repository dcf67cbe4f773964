"""The thumbnail graph: the whole network fine-tuned on the 32x32 train thumbnails (training only).

The served probe keeps the backbone frozen, so what ImageNet taught about real photos stays whole; on
thumbnails it reaches 0.961 out-of-fold. Fine-tuning every layer from a fresh head reaches 0.971 on the
same folds (model card), but a network tuned on up-scaled thumbnails alone may forget real photos, and
the photos may not be used to check it. So the server routes by the upload's own size: images no larger
than `max_side` go to this graph, everything else to the probe. Photos are answered exactly as before.

Recipe: AdamW with a one-cycle schedule, weight decay, label smoothing, bf16 autocast on the CPU,
BatchNorm statistics frozen, drop-connect and dropout, a mirror and a shift of up to 2 pixels of the
thumbnail per step. The head reads the same standardised multi-layer features as the probe and is
blended with the ImageNet prior at the weight cross-validation picks. `soup` such fine-tunes, differing
only in their seed, are averaged weight by weight into the one served network (`finetune.soup`); the
cross-validation scores, on the same folds, one network, the logit mean of the members and a mirrored
second pass beside it (`ThumbnailCVSummary.compared`).

One router threshold serves both graphs: cross-validation gives this graph its own threshold `t`, and
the exported graph multiplies its logit by `logit(T) / logit(t)` (T: the probe's threshold), a
monotone rescaling that changes no decision and makes `confidence >= T` here mean `>= t` before it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.metadata import (
    ComparedCandidate,
    NeitherScreen,
    PriorWeightAccuracy,
    ThumbnailCVSummary,
    ThumbnailFit,
    ThumbnailRecipe,
)
from model.serving.preprocess import to_model_input
from model.training.finetune import (
    FineTuned,
    Standardise,
    fine_tune,
    head_and_prior,
    soup,
    tuned_features,
    tuned_logits,
)
from model.training.neither import OtherSet, auroc, fit_other_head, folds_of, fpr_at_tpr, inlier_threshold
from model.training.perturb import one_copy_each
from model.training.recipe import FloatArray, ThumbnailConfig, choose_threshold, make_folds

# member j of a soup trains with seed + j * stride, so member 0 is the one-network recipe
MEMBER_SEED_STRIDE = 1000
OTHER_COPY_SEED = 99  # other/'s perturbed copies draw with seed + this, the thumbnails' with seed


@dataclass
class ThumbnailCV:
    """Out-of-fold logits over the whole split: the fine-tuned head's and its ImageNet prior's."""

    head: FloatArray
    prior: FloatArray
    by_prior_weight: dict[float, float] = field(default_factory=dict)
    # "other" head, by lambda: out-of-fold scores of the train thumbnails and of the other/ thumbnails
    other_oof: dict[float, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    # what the served network is compared with on the same folds: (head, prior) out-of-fold logits
    compared: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)

    def logits(self, prior_weight: float) -> FloatArray:
        return np.asarray(self.head + prior_weight * self.prior, dtype=np.float64)

    def best_prior_weight(self) -> float:
        """The prior weight of best out-of-fold accuracy; ties go to the larger (what pre-training knows)."""
        return max(self.by_prior_weight, key=lambda pw: (round(self.by_prior_weight[pw], 6), pw))


@dataclass
class TrainingSet:
    """What `train` hands over: the pretrained network, its input and taps, the split and its features."""

    base: Any
    side: int
    taps: int
    seed: int
    images: list[Image.Image]
    y: NDArray[np.int64]
    frozen: FloatArray  # the probe's features [views, N, F]
    other: OtherSet | None = None  # other/: its 32 px thumbnails train the "other" head

    def tune(self, tcfg: ThumbnailConfig, train_idx: NDArray[np.int64], seed: int) -> list[FineTuned]:
        """`tcfg.soup` fine-tunes on `train_idx` (seeds `seed + j * MEMBER_SEED_STRIDE`), standardising
        with the frozen features of those images only."""
        standardise = Standardise.fit(self.frozen[:, train_idx].reshape(-1, self.frozen.shape[-1]))
        return [
            fine_tune(
                self.base,
                tcfg,
                self.side,
                self.taps,
                self.images,
                self.y,
                train_idx,
                standardise,
                seed + j * MEMBER_SEED_STRIDE,
            )
            for j in range(tcfg.soup)
        ]


def compared_names(members: int) -> list[str]:
    """What the served network is compared with in cross-validation, by the number of soup members."""
    names = ["one network", "one network + mirror (2x the model time)"]
    if members > 1:
        names += [
            f"logit mean of the {members} networks ({members}x the model time)",
            f"weight soup of {members} networks (served)",
            f"weight soup of {members} + mirror (2x the model time)",
        ]
    return names


def fold_logits(
    members: list[FineTuned], served: FineTuned, taps: int, held_out: NDArray[np.uint8]
) -> tuple[FloatArray, dict[str, tuple[FloatArray, FloatArray]]]:
    """The served network's features of the held-out inputs, and every compared candidate's logits."""
    mirrored = np.ascontiguousarray(held_out[:, :, ::-1])
    served_feats = tuned_features(served, taps, held_out)

    def with_mirror(tuned: FineTuned, feats: FloatArray) -> tuple[FloatArray, FloatArray]:
        (h, p), (hm, pm) = head_and_prior(tuned, feats), tuned_logits(tuned, taps, mirrored)
        return (h + hm) / 2, (p + pm) / 2

    first_feats = served_feats if served is members[0] else tuned_features(members[0], taps, held_out)
    first = head_and_prior(members[0], first_feats)
    candidates = [first, with_mirror(members[0], first_feats)]
    if len(members) > 1:
        each = [first] + [tuned_logits(m, taps, held_out) for m in members[1:]]
        candidates += [
            (np.mean([h for h, _ in each], 0), np.mean([p for _, p in each], 0)),
            head_and_prior(served, served_feats),
            with_mirror(served, served_feats),
        ]
    return served_feats, dict(zip(compared_names(len(members)), candidates, strict=True))


def cross_validate(ts: TrainingSet, tcfg: ThumbnailConfig) -> ThumbnailCV:
    """Out-of-fold logits of the recipe over `tcfg.folds` stratified folds of the train split."""
    side, taps, seed, images, y = ts.side, ts.taps, ts.seed, ts.images, ts.y
    originals = np.stack([to_model_input(img, side) for img in images])
    cv = ThumbnailCV(np.zeros(len(y)), np.zeros(len(y)))
    cv.compared = {name: (np.zeros(len(y)), np.zeros(len(y))) for name in compared_names(tcfg.soup)}
    other = ts.other
    if other is not None:
        other_folds = folds_of(len(other.files), tcfg.folds, seed)
        cv.other_oof = {lam: (np.zeros(len(y)), np.zeros(len(other.files))) for lam in tcfg.other_lambdas}
    for k, fold in enumerate(make_folds(y, tcfg.folds, seed)):
        train_idx = np.setdiff1d(np.arange(len(y)), fold)
        print(f"  thumbnail cv fold {k + 1}/{tcfg.folds}", flush=True)
        members = ts.tune(tcfg, train_idx, seed + k)
        tuned = soup(members)
        fold_feats, candidates = fold_logits(members, tuned, taps, originals[fold])
        cv.head[fold], cv.prior[fold] = head_and_prior(tuned, fold_feats)
        for name, (h, p) in candidates.items():
            cv.compared[name][0][fold], cv.compared[name][1][fold] = h, p
        if other is not None:
            # the head is fitted as the served one is: on the tuned network's own training images
            other_feats = other_features(tuned, taps, other.thumbnails)
            held_out = other_folds[k]
            fitted_on = np.setdiff1d(np.arange(len(other.files)), held_out)
            inliers, outliers = other_head_data(
                tuned,
                taps,
                ts,
                originals,
                train_idx,
                other_feats,
                fitted_on,
                tcfg.other_perturbed,
                seed + k + 1,
            )
            for lam, (inlier_oof, other_oof) in cv.other_oof.items():
                head = fit_other_head(inliers, outliers, lam)
                inlier_oof[fold] = head.logit(fold_feats)
                other_oof[held_out] = head.logit(other_feats[0, held_out])
    cv.by_prior_weight = {pw: float(((cv.logits(pw) > 0) == y).mean()) for pw in tcfg.prior_weights}
    return cv


def compare(
    cv: ThumbnailCV, y: NDArray[np.int64], prior_weight: float, target: float
) -> list[ComparedCandidate]:
    """Each compared candidate at the served prior weight, its threshold chosen by the same rule."""
    rows = []
    for name, (head, prior) in cv.compared.items():
        choice = choose_threshold(head + prior_weight * prior, y, target)
        wrong = (1 - choice.cv_below_threshold) * (1 - choice.cv_accuracy_above_threshold)
        rows.append(ComparedCandidate(name=name, cv_wrong_bay=round(wrong, 4), **choice.model_dump()))
        print(f"  compared: {rows[-1]}", flush=True)
    return rows


def own_views(tuned: FineTuned, taps: int, inputs: NDArray[np.uint8]) -> FloatArray:
    """Features of model inputs and their mirrors: the inliers an "other" head is fitted on."""
    mirrored = np.ascontiguousarray(inputs[:, :, ::-1])
    return np.concatenate([tuned_features(tuned, taps, inputs), tuned_features(tuned, taps, mirrored)])


def other_features(tuned: FineTuned, taps: int, thumbnails: NDArray[np.uint8]) -> FloatArray:
    """Features of other/'s thumbnail views [V, M, S, S, 3] as [V, M, F]."""
    feats = tuned_features(tuned, taps, thumbnails.reshape(-1, *thumbnails.shape[2:]))
    return feats.reshape(thumbnails.shape[0], thumbnails.shape[1], -1)


def other_head_data(
    tuned: FineTuned,
    taps: int,
    ts: TrainingSet,
    originals: NDArray[np.uint8],
    train_idx: NDArray[np.int64],
    other_feats: FloatArray,
    fitted_on: NDArray[np.int64],
    perturbed: bool,
    seed: int,
) -> tuple[FloatArray, FloatArray]:
    """What an "other" head is fitted on: the network's own training thumbnails and their mirrors (not
    other), other/'s thumbnails of `fitted_on` in every view (other). With `perturbed`, also one
    perturbed copy of each training thumbnail and of each other/ crop and frame fitted on
    (`model.training.perturb`, kinds drawn with `seed`): a dim or grey two-wheeler is still not "other"."""
    inliers = own_views(tuned, taps, originals[train_idx])
    outliers = other_feats[:, fitted_on].reshape(-1, inliers.shape[1])
    if not perturbed:
        return inliers, outliers
    assert ts.other is not None
    copies = tuned_features(tuned, taps, one_copy_each(ts.images, train_idx, ts.side, seed))
    small = [picture for view in ts.other.small for picture in view]  # crops, then frames
    both = np.concatenate([fitted_on, fitted_on + len(ts.other.files)])
    other_copies = tuned_features(tuned, taps, one_copy_each(small, both, ts.side, seed + OTHER_COPY_SEED))
    return np.concatenate([inliers, copies]), np.concatenate([outliers, other_copies])


def other_screen(
    ts: TrainingSet, tcfg: ThumbnailConfig, cv: ThumbnailCV, tuned: FineTuned
) -> tuple[Any, NeitherScreen]:
    """Choose the "other" head's lambda by out-of-fold AUROC, fit it on the final network's features."""
    from model.training.network import OtherHead

    assert ts.other is not None
    by_lambda = {lam: auroc(inl, oth) for lam, (inl, oth) in cv.other_oof.items()}
    lam = max(by_lambda, key=lambda k: (round(by_lambda[k], 4), k))  # ties: the stronger regularisation
    inlier_oof, other_oof = cv.other_oof[lam]
    offset = inlier_threshold(inlier_oof, tcfg.other_keep)
    originals = np.stack([to_model_input(img, ts.side) for img in ts.images])
    every = np.arange(len(ts.other.files))
    inliers, outliers = other_head_data(
        tuned,
        ts.taps,
        ts,
        originals,
        np.arange(len(ts.y)),
        other_features(tuned, ts.taps, ts.other.thumbnails),
        every,
        tcfg.other_perturbed,
        ts.seed + tcfg.folds + 1,
    )
    head = fit_other_head(inliers, outliers, lam)
    record = NeitherScreen(
        method="logistic 'other' head on the fine-tuned network's pooled features (outlier exposure: "
        "other/ photos shrunk to 32 px, centre crop and whole frame, with mirrors)",
        operating_point=offset,
        auroc=by_lambda[lam],
        fpr_at_95_tpr=fpr_at_tpr(inlier_oof, other_oof, 0.95),
        inliers_flagged=float((inlier_oof > offset).mean()),
        other_flagged=float((other_oof > offset).mean()),
        head_lambda=lam,
        auroc_by_lambda={f"{k:g}": v for k, v in by_lambda.items()},
    )
    print(f"  thumbnail screen: {record}", flush=True)
    return OtherHead(head.weight, head.bias, head.mean, head.std, offset), record


def logit_scale(threshold: float, router_threshold: float) -> float:
    """The factor that moves confidence `threshold` onto `router_threshold` (both in (0.5, 1))."""

    def logit(p: float) -> float:
        # 0.5 (every out-of-fold answer good enough) and 1.0 (none) have no finite scale: keep a margin
        p = min(max(p, 0.5001), 0.9999)
        return math.log(p / (1.0 - p))

    return logit(router_threshold) / logit(threshold)


def build_thumbnail_model(
    ts: TrainingSet, tcfg: ThumbnailConfig, router_threshold: float
) -> tuple[Any, ThumbnailFit, NeitherScreen | None]:
    """Cross-validate, fine-tune on the whole split and return the torch classifier and what CV chose."""
    import torch

    from model.training.network import Classifier

    started = time.perf_counter()
    cv = cross_validate(ts, tcfg)
    y = ts.y
    prior_weight = cv.best_prior_weight()
    threshold = choose_threshold(cv.logits(prior_weight), y, tcfg.target_accuracy)
    scale = logit_scale(threshold.threshold, router_threshold)
    print(f"  thumbnail cv: prior_weight={prior_weight:g} {threshold} logit_scale={scale:.4f}", flush=True)
    print("  fine-tuning the thumbnail graph on the whole train split", flush=True)
    tuned = soup(ts.tune(tcfg, np.arange(len(y)), ts.seed + tcfg.folds))
    screen, screen_record = other_screen(ts, tcfg, cv, tuned) if ts.other is not None else (None, None)
    classifier = Classifier(
        tuned.net,
        tuned.head,
        prior_weight,
        torch.tensor(tuned.standardise.mean, dtype=torch.float32),
        torch.tensor(tuned.standardise.std, dtype=torch.float32),
        taps=ts.taps,
        logit_scale=scale,
        screen=screen,
    ).eval()
    fit = ThumbnailFit(
        recipe=ThumbnailRecipe.model_validate(asdict(tcfg)),
        cv=ThumbnailCVSummary(
            accuracy_by_prior_weight=[
                PriorWeightAccuracy(prior_weight=pw, accuracy=acc) for pw, acc in cv.by_prior_weight.items()
            ],
            prior_weight=prior_weight,
            **threshold.model_dump(),
            compared=compare(cv, y, prior_weight, tcfg.target_accuracy),
        ),
        logit_scale=scale,
        seconds=round(time.perf_counter() - started, 1),
    )
    return classifier, fit, screen_record
