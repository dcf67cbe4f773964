"""The thumbnail graph's cross-validation alone, for variants of its recipe, on the train split only.

`python -m experiments.thumbnail_cv [--data DIR] [--side 192] [--epochs 8] [--soup 1] [--label-smoothing 0.1]
[--augment 0] [--with-probe] [--json]` (from the repository root; needs the `train` extra) runs exactly
the 3-fold cross-validation `driver-routing train` runs for the thumbnail graph (same folds, seeds and
threshold rule) and prints, for the recipe asked and for what it is compared with on the same folds (one
network, its mirrored second pass, and with `--soup` N > 1 the members' logit mean and the weight soup),
the out-of-fold accuracy, the share under the threshold and the wrong-bay share, and the two operating
points issue 13's targets name: the wrong-bay share when 5% go to review, and the review share that
holds the wrong bays to 0.5%. It fits no "neither" head, exports nothing and writes no artifact: it is
the comparison behind the model card's rows on soups, mirroring, epochs, label smoothing, input side and
augmentation. `--with-probe` also scores the served network's logit mean with the photo graph's frozen
probe fitted on the same folds (two backbones to run; the teacher a distillation would start from).
`--out FILE` keeps the out-of-fold logits (`.npz`: head and ImageNet prior apart).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from model.cli import VEHICLES_ENV
from model.dataset import default_data_dir
from model.metadata import ARTIFACTS_DIR, ModelMetadata
from model.training.recipe import (
    FloatArray,
    ThumbnailConfig,
    TrainConfig,
    choose_threshold,
    make_folds,
    prior_from_features,
    seed_everything,
)

REVIEW_TARGET = 0.05  # issue 13: at most 5% of the thumbnails to review ...
WRONG_BAY_TARGET = 0.005  # ... and at most 0.5% to the wrong bay


def operating_points(logit: FloatArray, y: NDArray[np.int64]) -> dict[str, float]:
    """Wrong-bay share with the least confident 5% sent to review, and the review share (least
    confident first) that keeps the wrong-bay share at or under 0.5%, out of fold."""
    order = np.argsort(-np.abs(logit), kind="stable")  # most confident first
    wrong = ((logit > 0) != y)[order]
    wrong_if_routed = np.concatenate([[0], np.cumsum(wrong)]) / len(y)  # routing the first k
    routed = round((1 - REVIEW_TARGET) * len(y))
    k = int(np.nonzero(wrong_if_routed <= WRONG_BAY_TARGET)[0].max())
    return {
        "wrong_bay_at_5pct_review": float(wrong_if_routed[routed]),
        "review_at_0.5pct_wrong_bay": 1 - k / len(y),
    }


PROBE_SHARES = (0.1, 0.25, 0.5)  # the probe's weight in its logit mean with the fine-tune


def probe_logits(
    cfg: TrainConfig, net: Any, frozen: FloatArray, y: NDArray[np.int64], folds: int
) -> FloatArray:
    """Out-of-fold logits of the photo graph's probe (its committed lambda and prior weight) on the
    thumbnail graph's folds: the frozen backbone beside the fine-tuned one."""
    from model.training.photo import probe_cv

    probe = ModelMetadata.load(ARTIFACTS_DIR).cv
    served = replace(cfg, lambdas=(probe.lambda_,), prior_weights=(probe.prior_weight,))
    prior = prior_from_features(net, frozen[0])
    oof = probe_cv(served, frozen, prior, y, make_folds(y, folds, cfg.seed))["best"]["oof"]
    return np.asarray(oof, dtype=np.float64)


def probe_ensembles(
    served: FloatArray, probe: FloatArray, y: NDArray[np.int64], target: float
) -> list[dict[str, object]]:
    """The served network's out-of-fold logits averaged with the probe's (two backbones to run)."""
    rows: list[dict[str, object]] = []
    for share in (1.0, *PROBE_SHARES):
        logit = (1 - share) * served + share * probe
        rows.append(
            {"probe_share": share}
            | choose_threshold(logit, y, target).model_dump()
            | operating_points(logit, y)
        )
    return rows


def run(
    data: Path, side: int, tcfg: ThumbnailConfig, out: Path | None, with_probe: bool
) -> dict[str, object]:
    import torch

    from model.training.photo import top_features
    from model.training.thumbnail import TrainingSet, compare, cross_validate
    from model.training.train import extract_trunk, frozen_backbone, load_split

    started = time.perf_counter()
    cfg = TrainConfig(data=data, side=side)
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    _, y, images = load_split(data)
    net = frozen_backbone(cfg.backbone, cfg.side)
    frozen = np.stack([top_features(net, view, cfg) for view in extract_trunk(cfg, net, cfg.side, images)])
    split = TrainingSet(net, cfg.side, cfg.taps, cfg.seed, images, y, frozen)
    cv = cross_validate(split, tcfg)
    prior_weight = cv.best_prior_weight()
    rows = compare(cv, y, prior_weight, tcfg.target_accuracy)
    if out is not None:
        names = list(cv.compared)
        heads, priors = (np.stack([cv.compared[name][i] for name in names]) for i in (0, 1))
        np.savez(out, y=y, names=np.array(names), head=heads, prior=priors, prior_weight=prior_weight)
    points = {
        name: operating_points(head + prior_weight * prior, y) for name, (head, prior) in cv.compared.items()
    }
    ensembles = None
    if with_probe:
        probe = probe_logits(cfg, net, frozen, y, tcfg.folds)
        ensembles = probe_ensembles(cv.logits(prior_weight), probe, y, tcfg.target_accuracy)
    return {
        "side": side,
        "recipe": asdict(tcfg),
        "accuracy_by_prior_weight": {f"{k:g}": v for k, v in cv.by_prior_weight.items()},
        "prior_weight": prior_weight,
        "compared": [row.model_dump() | points[row.name] for row in rows],
        "with_the_probe": ensembles,
        "seconds": round(time.perf_counter() - started, 1),
    }


@click.command()
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Default: the train command's.")
@click.option("--epochs", type=click.IntRange(min=1), default=ThumbnailConfig.epochs, show_default=True)
@click.option("--soup", type=click.IntRange(min=1), default=ThumbnailConfig.soup, help="Members averaged.")
@click.option(
    "--side", type=click.IntRange(min=32), default=TrainConfig.side, show_default=True, help="Input, px."
)
@click.option("--lr", type=float, default=ThumbnailConfig.lr, show_default=True)
@click.option(
    "--label-smoothing", type=click.FloatRange(0, 1, max_open=True), default=ThumbnailConfig.label_smoothing
)
@click.option(
    "--augment", type=click.FloatRange(0, 1), default=ThumbnailConfig.augment, help="0: mirror, shift."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Logits (.npz).")
@click.option("--with-probe", is_flag=True, help="Also the logit mean with the frozen probe.")
@click.option("--json", "as_json", is_flag=True)
def main(
    data: Path | None,
    epochs: int,
    soup: int,
    side: int,
    lr: float,
    label_smoothing: float,
    augment: float,
    out: Path | None,
    with_probe: bool,
    as_json: bool,
) -> None:
    data = data or default_data_dir(VEHICLES_ENV, "cifar100-vehicles")
    if data is None:
        raise click.UsageError(f"no data: pass --data or set {VEHICLES_ENV}")
    if out is not None and not out.parent.is_dir():
        raise click.UsageError(f"--out {out}: no folder {out.parent} to write it in")
    tcfg = replace(
        ThumbnailConfig(), epochs=epochs, soup=soup, lr=lr, label_smoothing=label_smoothing, augment=augment
    )
    result = run(data, side, tcfg, out, with_probe)
    click.echo(f"{result['seconds']} s")
    if as_json:
        click.echo(json.dumps(result))


if __name__ == "__main__":
    main()
