"""The photo graph (`model.onnx`): a linear probe on the frozen backbone, its top blocks optionally tuned.

Features are the pooled outputs of the last `taps` blocks and the head conv, computed from cached trunk
activations; the head is an L2-regularised logistic regression, blended with the ImageNet zero-shot
logit at the weight cross-validation picks; with `finetune_epochs` the blocks from `split` on are
fine-tuned (L2-SP towards the pre-trained weights). Training only: torch is imported inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.metadata import PriorWeightAccuracy, ProbeCV, ProbeGridPoint
from model.training.recipe import (
    FloatArray,
    Head,
    TrainConfig,
    choose_threshold,
    fit_head,
    make_folds,
    prior_from_features,
)


def top_features(net: Any, trunk: NDArray[np.float16], cfg: TrainConfig) -> FloatArray:
    """Multi-layer features from cached trunk activations, no gradient, in batches."""
    import torch

    from model.training.network import top_multilayer

    out = []
    with torch.no_grad():
        for i in range(0, len(trunk), 100):
            x = torch.from_numpy(trunk[i : i + 100].astype(np.float32))
            out.append(top_multilayer(net, x, cfg.split, cfg.taps).numpy())
    return np.concatenate(out).astype(np.float64)


def stack_views(feats: FloatArray, idx: NDArray[np.int64], y: NDArray[np.int64]) -> tuple[FloatArray, Any]:
    views = feats.shape[0]
    return feats[:, idx].reshape(views * len(idx), -1), np.tile(y[idx], views)


def probe_cv(
    cfg: TrainConfig,
    feats: FloatArray,
    prior: FloatArray,
    y: NDArray[np.int64],
    folds: list[NDArray[np.int64]],
) -> dict[str, Any]:
    """Out-of-fold logits of the linear probe for every (lambda, prior weight)."""
    results: list[dict[str, Any]] = []
    for lam in cfg.lambdas:
        head_oof = np.zeros(len(y))
        for fold in folds:
            train_idx = np.setdiff1d(np.arange(len(y)), fold)
            x, yy = stack_views(feats, train_idx, y)
            head_oof[fold] = fit_head(x, yy, lam).logit(feats[0][fold])
        for pw in cfg.prior_weights:
            oof = head_oof + pw * prior
            acc = float(((oof > 0) == y).mean())
            results.append({"lambda": lam, "prior_weight": pw, "accuracy": acc, "oof": oof})
            print(f"  probe cv lambda={lam:g} prior_weight={pw:g} accuracy={acc:.4f}", flush=True)
    # best accuracy; ties go to the stronger regularisation, then to the larger ImageNet prior
    best = max(results, key=lambda r: (round(r["accuracy"], 6), r["lambda"], r["prior_weight"]))
    return {"best": best, "grid": [{k: v for k, v in r.items() if k != "oof"} for r in results]}


@dataclass
class Tuned:
    """A fine-tuned copy of the backbone and its head (which reads standardised features)."""

    net: Any
    head: Head


def finetune(
    cfg: TrainConfig,
    base: Any,
    trunk: NDArray[np.float16],
    y: NDArray[np.int64],
    idx: NDArray[np.int64],
    lam: float,
    seed: int,
) -> Tuned:
    """Fine-tune blocks [split, end) + head conv + linear head on cached trunk activations.

    Starts from the probe (head fitted on frozen features), keeps batch-norm statistics frozen, and
    pulls the weights towards the pre-trained ones (L2-SP) so the network keeps its ImageNet features.
    """
    import copy

    import torch

    from model.training.network import top_multilayer

    torch.manual_seed(seed)
    net = copy.deepcopy(base).eval()
    frozen = top_features(net, trunk[:, idx].reshape(-1, *trunk.shape[2:]), cfg)
    labels = np.tile(y[idx], trunk.shape[0])
    init = fit_head(frozen, labels, lam)
    trainable = [p for b in net._blocks[cfg.split :] for p in b.parameters()]
    trainable += list(net._conv_head.parameters()) + list(net._bn1.parameters())
    for p in net.parameters():
        p.requires_grad = False
    for p in trainable:
        p.requires_grad = True
    reference = [p.detach().clone() for p in trainable]
    head = torch.nn.Linear(frozen.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(init.weight[None], dtype=torch.float32))
        head.bias.fill_(init.bias)
    mean = torch.tensor(init.mean, dtype=torch.float32)
    std = torch.tensor(init.std, dtype=torch.float32)
    optimizer = torch.optim.AdamW(
        [
            {"params": trainable, "lr": cfg.lr, "weight_decay": 0.0},
            {"params": head.parameters(), "lr": cfg.lr * 3, "weight_decay": 1e-3},
        ]
    )
    pairs = np.array([(v, i) for v in range(trunk.shape[0]) for i in idx])
    steps_per_epoch = len(pairs) // cfg.batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[cfg.lr, cfg.lr * 3],
        total_steps=cfg.finetune_epochs * steps_per_epoch,
        pct_start=0.1,
    )
    order_rng = np.random.RandomState(seed % 2**32)
    for epoch in range(cfg.finetune_epochs):
        order = order_rng.permutation(len(pairs))
        total = 0.0
        for step in range(steps_per_epoch):
            chosen = pairs[order[step * cfg.batch : (step + 1) * cfg.batch]]
            x = torch.from_numpy(trunk[chosen[:, 0], chosen[:, 1]].astype(np.float32))
            target = torch.tensor(y[chosen[:, 1]], dtype=torch.float32)
            feats = top_multilayer(net, x, cfg.split, cfg.taps, drop_connect=0.1)
            logit = head(torch.nn.functional.dropout((feats - mean) / std, 0.2, training=True))[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, target)
            l2sp = sum(((p - r) ** 2).sum() for p, r in zip(trainable, reference, strict=True))
            optimizer.zero_grad()
            (loss + cfg.l2sp * l2sp).backward()
            optimizer.step()
            schedule.step()
            total += float(loss.item())
        print(f"    epoch {epoch + 1}/{cfg.finetune_epochs} loss={total / steps_per_epoch:.4f}", flush=True)
    for p in net.parameters():
        p.requires_grad = False
    weight = head.weight.detach().numpy()[0].astype(np.float64)
    return Tuned(net, Head(weight, float(head.bias.item()), init.mean, init.std))


def finetune_cv(
    cfg: TrainConfig,
    base: Any,
    trunk: NDArray[np.float16],
    y: NDArray[np.int64],
    folds: list[NDArray[np.int64]],
    lam: float,
) -> dict[str, Any]:
    """Out-of-fold logits of the whole fine-tuning recipe, and the prior weight chosen on them."""
    head_oof = np.zeros(len(y))
    prior_oof = np.zeros(len(y))
    for k, fold in enumerate(folds):
        print(f"  fine-tune fold {k + 1}/{len(folds)}", flush=True)
        tuned = finetune(cfg, base, trunk, y, np.setdiff1d(np.arange(len(y)), fold), lam, cfg.seed + k)
        feats = top_features(tuned.net, trunk[0][fold], cfg)
        head_oof[fold] = tuned.head.logit(feats)
        prior_oof[fold] = prior_from_features(tuned.net, feats)
    grid = []
    for pw in cfg.prior_weights:
        acc = float((((head_oof + pw * prior_oof) > 0) == y).mean())
        grid.append({"prior_weight": pw, "accuracy": acc})
        print(f"  fine-tune cv prior_weight={pw:g} accuracy={acc:.4f}", flush=True)
    best = max(grid, key=lambda r: (round(r["accuracy"], 6), r["prior_weight"]))
    return {"best": {**best, "oof": head_oof + best["prior_weight"] * prior_oof}, "grid": grid}


def build_classifier(net: Any, head: Head, prior_weight: float, taps: int) -> Any:
    import torch

    from model.training.network import Classifier

    linear = torch.nn.Linear(head.weight.shape[0], 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(head.weight[None], dtype=torch.float32))
        linear.bias.fill_(head.bias)
    return Classifier(
        net,
        linear,
        prior_weight,
        torch.tensor(head.mean, dtype=torch.float32),
        torch.tensor(head.std, dtype=torch.float32),
        taps=taps,
    ).eval()


@dataclass
class PhotoGraph:
    classifier: Any  # the torch module exported as model.onnx
    cv: ProbeCV
    kind: str  # "probe" or "finetune": the start of the model version


def fit_photo_graph(
    cfg: TrainConfig, net: Any, trunk: NDArray[np.float16], feats: FloatArray, y: NDArray[np.int64]
) -> PhotoGraph:
    """Cross-validate the probe (and the fine-tune, when asked), then fit on the whole train split."""
    folds = make_folds(y, cfg.folds, cfg.seed)
    probe = probe_cv(cfg, feats, prior_from_features(net, feats[0]), y, folds)
    lam = probe["best"]["lambda"]
    finetune_grid = None
    if cfg.finetune_epochs:
        tuned_cv = finetune_cv(cfg, net, trunk, y, folds, lam)
        best = tuned_cv["best"]
        finetune_grid = [PriorWeightAccuracy.model_validate(point) for point in tuned_cv["grid"]]
        print("  fine-tuning on the whole train split", flush=True)
        tuned = finetune(cfg, net, trunk, y, np.arange(len(y)), lam, cfg.seed + len(folds))
        final_net, head = tuned.net, tuned.head
        kind = "finetune"
    else:
        best = probe["best"]
        x, yy = stack_views(feats, np.arange(len(y)), y)
        final_net, head = net, fit_head(x, yy, lam)
        kind = "probe"
    threshold = choose_threshold(best["oof"], y, cfg.target_accuracy)
    print(f"chose lambda={lam:g} prior_weight={best['prior_weight']:g}; {threshold}", flush=True)
    cv = ProbeCV.model_validate(
        {
            "probe_grid": [ProbeGridPoint.model_validate(point) for point in probe["grid"]],
            "lambda": lam,
            "finetune_grid": finetune_grid,
            **threshold.model_dump(),
            "prior_weight": best["prior_weight"],
        }
    )
    return PhotoGraph(build_classifier(final_net, head, best["prior_weight"], cfg.taps), cv, kind)
