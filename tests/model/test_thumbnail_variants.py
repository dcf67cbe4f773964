"""The pieces the thumbnail experiments add: the targets' operating points and the training view."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from experiments.thumbnail_cv import operating_points
from model.training.augment import mirror_and_shift
from model.training.finetune import training_view
from model.training.recipe import ThumbnailConfig


def labelled(n: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % 2
    return y, np.where(y == 1, 3.0, -3.0)


def test_a_confident_mistake_is_routed_whatever_the_review_share() -> None:
    y, logit = labelled(200)
    logit[[0, 2]] = 9.0, 8.0  # the two bicycles the model is surest of are motorcycles to it
    points = operating_points(logit, y)
    assert points["wrong_bay_at_5pct_review"] == pytest.approx(2 / 200)
    # 0.5% of 200 is one wrong bay: only the surest answer may be routed
    assert points["review_at_0.5pct_wrong_bay"] == pytest.approx(199 / 200)


def test_unsure_mistakes_go_to_review_first() -> None:
    y, logit = labelled(200)
    logit[:4] = [0.1, -0.2, 0.3, -0.4]  # four mistakes, the least confident answers
    points = operating_points(logit, y)
    assert points["wrong_bay_at_5pct_review"] == 0.0
    assert points["review_at_0.5pct_wrong_bay"] == pytest.approx(3 / 200)  # one of the four may be routed


def test_the_served_recipe_sees_the_mirror_and_shift() -> None:
    img = Image.fromarray(np.random.RandomState(0).randint(0, 255, (32, 32, 3), dtype=np.uint8))
    served = training_view(img, ThumbnailConfig(), random.Random(7))
    assert np.array_equal(np.asarray(served), np.asarray(mirror_and_shift(img, random.Random(7), 2)))


def test_the_wider_augmentation_keeps_the_thumbnail_size() -> None:
    img = Image.fromarray(np.random.RandomState(0).randint(0, 255, (32, 32, 3), dtype=np.uint8))
    rng, tcfg = random.Random(7), replace(ThumbnailConfig(), augment=1.0)
    views = [training_view(img, tcfg, rng) for _ in range(20)]
    assert {(v.size, v.mode) for v in views} == {((32, 32), "RGB")}
    assert any(not np.array_equal(np.asarray(v), np.asarray(img)) for v in views)
