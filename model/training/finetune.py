"""Fine-tuning the whole network from its ImageNet weights, and the weight soup of several such runs.

`fine_tune` trains a copy of the backbone and a zero-initialised linear head on the standardised
multi-layer features (the thumbnail graph's recipe, `thumbnail.py`). `soup` averages the weights of
fine-tunes that started from the same ImageNet weights and differ only in their seed (data order,
augmentation, dropout): a "uniform model soup" (Wortsman et al., ICML 2022). Runs fine-tuned from one
pre-trained point tend to stay in one basin of the loss, so their average is one network that scores
like their ensemble at the cost of one: the served graph keeps its size and its latency.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.serving.preprocess import to_model_input
from model.training.augment import augment, mirror_and_shift
from model.training.recipe import FloatArray, ThumbnailConfig, prior_from_features, seed_everything


@dataclass
class Standardise:
    """Mean and std of the frozen features over the training views (as the probe's head uses them)."""

    mean: FloatArray
    std: FloatArray

    @classmethod
    def fit(cls, feats: FloatArray) -> Standardise:
        return cls(feats.mean(0), feats.std(0) + 1e-6)


@dataclass
class FineTuned:
    net: Any
    head: Any  # torch.nn.Linear(features, 1) on standardised features
    standardise: Standardise


def fine_tune(
    base: Any,
    tcfg: ThumbnailConfig,
    side: int,
    taps: int,
    images: list[Image.Image],
    y: NDArray[np.int64],
    train_idx: NDArray[np.int64],
    standardise: Standardise,
    seed: int,
) -> FineTuned:
    """Fine-tune a copy of the whole backbone and a zero-initialised linear head on `train_idx`."""
    import torch

    from model.training.network import Normalize, run_stem, top_multilayer

    seed_everything(seed)
    net = copy.deepcopy(base).eval()  # eval: BatchNorm keeps ImageNet statistics (batches of 32 are small)
    params = [p for name, p in net.named_parameters() if not name.startswith("_fc")]
    for p in net.parameters():
        p.requires_grad = False
    for p in params:
        p.requires_grad = True
    mean = torch.tensor(standardise.mean, dtype=torch.float32)
    std = torch.tensor(standardise.std, dtype=torch.float32)
    head = torch.nn.Linear(len(standardise.mean), 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.AdamW(
        [
            {"params": params, "lr": tcfg.lr, "weight_decay": tcfg.weight_decay},
            {"params": head.parameters(), "lr": tcfg.lr * 3, "weight_decay": 1e-3},
        ]
    )
    steps = max(1, len(train_idx) // tcfg.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[tcfg.lr, tcfg.lr * 3], total_steps=tcfg.epochs * steps, pct_start=0.1
    )
    norm = Normalize()
    views = random.Random(seed)
    order = np.random.RandomState(seed % 2**32)
    started = time.perf_counter()
    for epoch in range(tcfg.epochs):
        shuffled = order.permutation(train_idx)
        total = 0.0
        for step in range(steps):
            chosen = shuffled[step * tcfg.batch : (step + 1) * tcfg.batch]
            views_now = [training_view(images[i], tcfg, views) for i in chosen]
            x = torch.from_numpy(np.stack([to_model_input(img, side) for img in views_now]))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=tcfg.bf16):
                trunk = run_stem(net, norm(x), 0)
                feats = top_multilayer(net, trunk, 0, taps, drop_connect=tcfg.drop_connect)
            dropped = torch.nn.functional.dropout((feats.float() - mean) / std, tcfg.dropout, training=True)
            target = torch.tensor(y[chosen], dtype=torch.float32)
            target = target * (1 - tcfg.label_smoothing) + tcfg.label_smoothing / 2
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(dropped)[:, 0], target)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        print(
            f"    epoch {epoch + 1}/{tcfg.epochs} loss={total / steps:.4f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    for p in net.parameters():
        p.requires_grad = False
    return FineTuned(net, head, standardise)


def training_view(img: Image.Image, tcfg: ThumbnailConfig, rng: random.Random) -> Image.Image:
    """What one step sees of a thumbnail: the mirror and shift, or the wider augmentation, same size."""
    if tcfg.augment > 0:
        return augment(img, img.width, rng, tcfg.augment)
    return mirror_and_shift(img, rng, tcfg.shift)


def tuned_features(tuned: FineTuned, taps: int, batch: NDArray[np.uint8]) -> FloatArray:
    """Pooled multi-layer features of a fine-tuned network on uint8 model inputs, float32 as served."""
    import torch

    from model.training.network import Features

    features = Features(tuned.net, taps).eval()
    with torch.no_grad():
        chunks = [features(torch.from_numpy(batch[i : i + 50])).numpy() for i in range(0, len(batch), 50)]
    return np.concatenate(chunks).astype(np.float64)


def tuned_logits(tuned: FineTuned, taps: int, batch: NDArray[np.uint8]) -> tuple[FloatArray, FloatArray]:
    """(head logit, ImageNet prior logit) of a fine-tuned network on uint8 model inputs, float32 as served."""
    return head_and_prior(tuned, tuned_features(tuned, taps, batch))


def head_and_prior(tuned: FineTuned, feats: FloatArray) -> tuple[FloatArray, FloatArray]:
    weight = tuned.head.weight.detach().numpy()[0].astype(np.float64)
    s = tuned.standardise
    logit = ((feats - s.mean) / s.std) @ weight + float(tuned.head.bias.item())
    return np.asarray(logit, dtype=np.float64), prior_from_features(tuned.net, feats)


def soup(members: list[FineTuned]) -> FineTuned:
    """One network whose weights (backbone and head) are the mean of the members' weights.

    The members share their standardisation (the frozen features of the same training images) and
    their BatchNorm statistics (kept from ImageNet), so only the trained weights differ.
    """
    if len(members) == 1:
        return members[0]
    net, head = copy.deepcopy(members[0].net), copy.deepcopy(members[0].head)
    for target, parts in ((net, [m.net for m in members]), (head, [m.head for m in members])):
        states = [part.state_dict() for part in parts]
        averaged = {
            name: sum(state[name].double() for state in states).div(len(states)).to(value.dtype)
            if value.is_floating_point()
            else value
            for name, value in states[0].items()
        }
        target.load_state_dict(averaged)
    return FineTuned(net, head, members[0].standardise)
