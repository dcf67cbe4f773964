"""Whole-network fine-tuning against the linear probe, fold by fold, on the train split only.

`python -m model.full_finetune [--data DIR] [--epochs 8] [--only-fold K] [--json]` (needs the `train`
extra) uses the folds of `driver-routing train`. In each fold it fits the served recipe's probe (frozen
EfficientNet-Lite0 at 192 px, pooled features of the last 6 blocks and the head conv, L2 logistic head)
and fine-tunes the whole network from its ImageNet weights with a fresh linear head on the same
features: AdamW with a one-cycle schedule, weight decay, label smoothing, bf16 autocast on the CPU,
BatchNorm statistics frozen, a mirror and a shift of up to 2 pixels of the 32x32 thumbnail per step.
It prints both out-of-fold accuracies for each ImageNet-prior weight and the share each would send to
manual review under the served threshold rule. It writes no artifact: it is the experiment behind the
model card's fine-tuning row, kept so the figures can be reproduced and the recipe picked up.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.augment import mirror_and_shift
from model.dataset import default_data_dir, load_samples
from model.preprocess import to_model_input, to_rgb
from model.train import (
    FloatArray,
    choose_threshold,
    export_onnx,
    fit_head,
    make_folds,
    ort_session,
    prior_from_features,
    seed_everything,
)

PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class FinetuneConfig:
    side: int = 192
    taps: int = 6
    probe_lambda: float = 3e-3  # the served probe's regularisation (chosen by CV in `train`)
    epochs: int = 8
    lr: float = 2e-4
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    shift: int = 2
    drop_connect: float = 0.1
    dropout: float = 0.2
    batch: int = 32
    bf16: bool = True
    folds: int = 5
    seed: int = 20240611
    threads: int = 2
    target_accuracy: float = 0.99


@dataclass
class OutOfFold:
    """Out-of-fold logits over the whole train split: the head's and the ImageNet prior's."""

    head: FloatArray
    prior: FloatArray

    def logits(self, prior_weight: float) -> FloatArray:
        return np.asarray(self.head + prior_weight * self.prior, dtype=np.float64)


def frozen_features(net: Any, cfg: FinetuneConfig, *views: NDArray[np.uint8]) -> FloatArray:
    """The probe's features of each view of the uint8 images, [V, N, F], through one onnxruntime session
    (several times faster than torch)."""
    import tempfile

    from model.network import Features

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.onnx"
        export_onnx(Features(net, cfg.taps), cfg.side, path, ["features"])
        session = ort_session(path, cfg.threads)
    return np.stack(
        [
            np.concatenate(
                [session.run(None, {"image": view[i : i + 50]})[0] for i in range(0, len(view), 50)]
            )
            for view in views
        ]
    ).astype(np.float64)


def fine_tune_fold(
    base: Any,
    cfg: FinetuneConfig,
    images: list[Image.Image],
    y: NDArray[np.int64],
    train_idx: NDArray[np.int64],
    standardise: tuple[FloatArray, FloatArray],
    seed: int,
) -> tuple[Any, Any]:
    """Fine-tune a copy of the whole backbone and a zero-initialised linear head; returns both."""
    import copy

    import torch

    from model.network import Normalize, run_stem, top_multilayer

    seed_everything(seed)
    net = copy.deepcopy(base).eval()  # eval: BatchNorm keeps ImageNet statistics (batches of 32 are small)
    params = [p for name, p in net.named_parameters() if not name.startswith("_fc")]
    for p in net.parameters():
        p.requires_grad = False
    for p in params:
        p.requires_grad = True
    mean = torch.tensor(standardise[0], dtype=torch.float32)
    std = torch.tensor(standardise[1], dtype=torch.float32)
    head = torch.nn.Linear(len(standardise[0]), 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.AdamW(
        [
            {"params": params, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
            {"params": head.parameters(), "lr": cfg.lr * 3, "weight_decay": 1e-3},
        ]
    )
    steps = len(train_idx) // cfg.batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[cfg.lr, cfg.lr * 3], total_steps=cfg.epochs * steps, pct_start=0.1
    )
    norm = Normalize()
    views = random.Random(seed)
    order = np.random.RandomState(seed % 2**32)
    started = time.perf_counter()
    for epoch in range(cfg.epochs):
        shuffled = order.permutation(train_idx)
        total = 0.0
        for step in range(steps):
            chosen = shuffled[step * cfg.batch : (step + 1) * cfg.batch]
            x = torch.from_numpy(
                np.stack(
                    [to_model_input(mirror_and_shift(images[i], views, cfg.shift), cfg.side) for i in chosen]
                )
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                feats = top_multilayer(
                    net, run_stem(net, norm(x), 0), 0, cfg.taps, drop_connect=cfg.drop_connect
                )
            dropped = torch.nn.functional.dropout((feats.float() - mean) / std, cfg.dropout, training=True)
            target = torch.tensor(y[chosen], dtype=torch.float32)
            target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / 2
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(dropped)[:, 0], target)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        print(
            f"    epoch {epoch + 1}/{cfg.epochs} loss={total / steps:.4f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    for p in net.parameters():
        p.requires_grad = False
    return net, head


def tuned_logits(
    net: Any,
    head: Any,
    cfg: FinetuneConfig,
    batch: NDArray[np.uint8],
    standardise: tuple[FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """(head logit, ImageNet prior logit) of the fine-tuned network, in float32 as served."""
    import torch

    from model.network import Features

    features = Features(net, cfg.taps).eval()
    with torch.no_grad():
        chunks = [features(torch.from_numpy(batch[i : i + 50])).numpy() for i in range(0, len(batch), 50)]
    feats = np.concatenate(chunks).astype(np.float64)
    weight = head.weight.detach().numpy()[0].astype(np.float64)
    logit = ((feats - standardise[0]) / standardise[1]) @ weight + float(head.bias.item())
    return np.asarray(logit, dtype=np.float64), prior_from_features(net, feats)


def summarise(name: str, oof: OutOfFold, y: NDArray[np.int64], cfg: FinetuneConfig) -> dict[str, Any]:
    by_weight = {pw: float(((oof.logits(pw) > 0) == y).mean()) for pw in PRIOR_WEIGHTS}
    best = max(PRIOR_WEIGHTS, key=lambda pw: (round(by_weight[pw], 6), pw))
    threshold = choose_threshold(oof.logits(best), y, cfg.target_accuracy)
    return {"recipe": name, "accuracy_by_prior_weight": by_weight, "prior_weight": best, **threshold}


def cross_validate(data: Path, cfg: FinetuneConfig, only_fold: int | None) -> dict[str, Any]:
    import torch

    from model.network import load_backbone

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    samples = load_samples(data, "train")
    y = np.array([s.label for s in samples], dtype=np.int64)
    images = [to_rgb(Image.open(s.path)) for s in samples]
    net = load_backbone("efficientnet-lite0", cfg.side)
    for p in net.parameters():
        p.requires_grad = False
    originals = np.stack([to_model_input(img, cfg.side) for img in images])
    mirrors = np.ascontiguousarray(originals[:, :, ::-1])
    frozen = frozen_features(net, cfg, originals, mirrors)
    probe = OutOfFold(np.zeros(len(y)), prior_from_features(net, frozen[0]))
    tuned = OutOfFold(np.zeros(len(y)), np.zeros(len(y)))
    folds = make_folds(y, cfg.folds, cfg.seed)
    done = []
    per_fold = []
    for k, fold in enumerate(folds):
        if only_fold is not None and k != only_fold:
            continue
        train_idx = np.setdiff1d(np.arange(len(y)), fold)
        print(f"  fold {k + 1}/{cfg.folds}", flush=True)
        head = fit_head(
            frozen[:, train_idx].reshape(-1, frozen.shape[-1]), np.tile(y[train_idx], 2), cfg.probe_lambda
        )
        probe.head[fold] = head.logit(frozen[0][fold])
        standardise = (head.mean, head.std)
        net_k, head_k = fine_tune_fold(net, cfg, images, y, train_idx, standardise, cfg.seed + k)
        tuned.head[fold], tuned.prior[fold] = tuned_logits(net_k, head_k, cfg, originals[fold], standardise)
        done.append(fold)
        per_fold.append(
            {
                "fold": k,
                "probe": {
                    pw: float(((probe.logits(pw)[fold] > 0) == y[fold]).mean()) for pw in PRIOR_WEIGHTS
                },
                "fine_tune": {
                    pw: float(((tuned.logits(pw)[fold] > 0) == y[fold]).mean()) for pw in PRIOR_WEIGHTS
                },
            }
        )
        print(f"  fold {k + 1}: {json.dumps(per_fold[-1])}", flush=True)
    seen = np.sort(np.concatenate(done))

    def restrict(oof: OutOfFold) -> OutOfFold:
        return OutOfFold(oof.head[seen], oof.prior[seen])

    return {
        "n": len(seen),
        "config": asdict(cfg),
        "per_fold": per_fold,
        "probe": summarise("probe", restrict(probe), y[seen], cfg),
        "fine_tune": summarise("fine_tune", restrict(tuned), y[seen], cfg),
    }


@click.command()
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Default: the train command's.")
@click.option("--epochs", type=int, default=FinetuneConfig.epochs, show_default=True)
@click.option("--lr", type=float, default=FinetuneConfig.lr, show_default=True)
@click.option("--only-fold", type=int, default=None, help="Run one fold (0-based) instead of all.")
@click.option("--json", "as_json", is_flag=True)
def main(data: Path | None, epochs: int, lr: float, only_fold: int | None, as_json: bool) -> None:
    data = data or default_data_dir("VEHICLES_DATA_DIR", "cifar100-vehicles")
    if data is None:
        raise click.UsageError("no data: pass --data or set VEHICLES_DATA_DIR")
    started = time.perf_counter()
    result = cross_validate(data, FinetuneConfig(epochs=epochs, lr=lr), only_fold)
    result["seconds"] = round(time.perf_counter() - started, 1)
    for name in ("probe", "fine_tune"):
        r = result[name]
        click.echo(
            f"{name:<10} out-of-fold accuracy by prior weight {r['accuracy_by_prior_weight']}; "
            f"prior weight {r['prior_weight']}: {r['cv_accuracy']:.3f}, threshold {r['threshold']} "
            f"leaves {r['cv_below_threshold']:.1%} below it"
        )
    click.echo(f"{result['n']} images, {result['seconds']} s")
    if as_json:
        click.echo(json.dumps(result))


if __name__ == "__main__":
    main()
