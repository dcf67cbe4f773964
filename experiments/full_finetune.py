"""Whole-network fine-tuning against the linear probe, fold by fold, on the train split only.

`python -m experiments.full_finetune [--data DIR] [--epochs 8] [--only-fold K] [--json]` (from the
repository root; needs the `train` extra) uses the folds of `driver-routing train`. In each fold it fits
the served recipe's probe (frozen EfficientNet-Lite0 at 192 px, pooled features of the last 6 blocks and
the head conv, L2 logistic head) and fine-tunes the whole network from its ImageNet weights with the
thumbnail graph's recipe (`model.training.thumbnail`, which `driver-routing train` ships with 3 folds).
It prints both out-of-fold accuracies for each ImageNet-prior weight and the share each would send to
manual review under the served threshold rule, on the same 5 folds as the probe. It writes no artifact:
it is the comparison behind the model card's fine-tuning rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from model.cli import VEHICLES_ENV
from model.dataset import default_data_dir
from model.metadata import ARTIFACTS_DIR, ModelMetadata
from model.serving.preprocess import to_model_input
from model.training.export import export_onnx, ort_session
from model.training.finetune import Standardise, fine_tune, tuned_logits
from model.training.recipe import (
    PRIOR_WEIGHTS,
    SEED,
    FloatArray,
    ThumbnailConfig,
    TrainConfig,
    choose_threshold,
    fit_head,
    make_folds,
    prior_from_features,
    seed_everything,
)


def served_probe_lambda() -> float:
    """The regularisation cross-validation chose for the served probe (recorded in its metadata)."""
    return ModelMetadata.load(ARTIFACTS_DIR).cv.lambda_


@dataclass(frozen=True)
class FinetuneConfig:
    backbone: str = TrainConfig.backbone
    side: int = TrainConfig.side
    taps: int = TrainConfig.taps
    probe_lambda: float = field(default_factory=served_probe_lambda)
    epochs: int = ThumbnailConfig.epochs
    lr: float = ThumbnailConfig.lr
    folds: int = TrainConfig.folds
    seed: int = SEED
    threads: int = TrainConfig.threads
    target_accuracy: float = TrainConfig.target_accuracy


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

    from model.training.network import Features

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


def recipe(cfg: FinetuneConfig) -> ThumbnailConfig:
    """The served thumbnail recipe with this experiment's epochs and learning rate."""
    return replace(ThumbnailConfig(), epochs=cfg.epochs, lr=cfg.lr)


def summarise(name: str, oof: OutOfFold, y: NDArray[np.int64], cfg: FinetuneConfig) -> dict[str, Any]:
    by_weight = {pw: float(((oof.logits(pw) > 0) == y).mean()) for pw in PRIOR_WEIGHTS}
    best = max(PRIOR_WEIGHTS, key=lambda pw: (round(by_weight[pw], 6), pw))
    threshold = choose_threshold(oof.logits(best), y, cfg.target_accuracy)
    return {
        "recipe": name,
        "accuracy_by_prior_weight": by_weight,
        "prior_weight": best,
        **threshold.model_dump(),
    }


def cross_validate(data: Path, cfg: FinetuneConfig, only_fold: int | None) -> dict[str, Any]:
    import torch

    from model.training.train import frozen_backbone, load_split

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    _, y, images = load_split(data)
    net = frozen_backbone(cfg.backbone, cfg.side)
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
        tuned_k = fine_tune(
            net,
            recipe(cfg),
            cfg.side,
            cfg.taps,
            images,
            y,
            train_idx,
            Standardise(head.mean, head.std),
            cfg.seed + k,
        )
        tuned.head[fold], tuned.prior[fold] = tuned_logits(tuned_k, cfg.taps, originals[fold])
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
    data = data or default_data_dir(VEHICLES_ENV, "cifar100-vehicles")
    if data is None:
        raise click.UsageError(f"no data: pass --data or set {VEHICLES_ENV}")
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
