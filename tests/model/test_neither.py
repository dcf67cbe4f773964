"""The "neither" screens' arithmetic, the other/ loader and what `evaluate` counts as a wrong bay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.dataset import OTHER, load_samples
from model.evaluation.evaluate import routing
from model.training.imagenet import TWO_WHEELER_IMAGENET
from model.training.neither import (
    auroc,
    choose_two_wheeler_threshold,
    cross_validate_photo_screen,
    fpr_at_tpr,
    load_other,
    two_wheeler_logit,
)


def test_auroc_reads_other_scores_high() -> None:
    inliers, outliers = np.array([0.0, 1.0, 2.0]), np.array([3.0, 4.0])
    assert auroc(inliers, outliers) == 1.0
    assert auroc(outliers, inliers) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5  # ties count half


def test_fpr_at_tpr_counts_the_outliers_let_through_with_the_inliers() -> None:
    inliers = np.arange(100, dtype=np.float64)  # 95% of them score at most 94 (or 95, inclusive)
    outliers = np.array([10.0, 94.0, 96.0, 200.0])
    assert fpr_at_tpr(inliers, outliers, 0.95) == 0.5


def test_the_two_wheeler_logit_is_the_log_odds_of_the_two_wheeler_classes() -> None:
    uniform = np.zeros((1, 1000))
    n = len(TWO_WHEELER_IMAGENET)
    assert two_wheeler_logit(uniform)[0] == pytest.approx(np.log(n / (1000 - n)))
    moped = uniform.copy()
    moped[0, 665] = 20.0
    assert two_wheeler_logit(moped)[0] > 10.0
    car = uniform.copy()
    car[0, 817] = 20.0  # sports car
    assert two_wheeler_logit(car)[0] == pytest.approx(np.log(n) - 20.0, abs=0.01)


def test_the_photo_threshold_is_the_lowest_that_keeps_enough_of_other_from_a_bay() -> None:
    # GIVEN four photos of neither: two under the confidence bar already, two confident
    tw = np.array([-9.0, -7.0, -5.0, -3.0])
    confident = np.array([False, True, False, True])
    grid = np.array([-8.0, -6.0, -4.0, -2.0])
    # THEN to keep 3 of 4 the screen must flag the confident -7; to keep all, the -3 too
    assert choose_two_wheeler_threshold(tw, confident, 0.75, grid) == -6.0
    assert choose_two_wheeler_threshold(tw, confident, 1.0, grid) == -2.0
    assert choose_two_wheeler_threshold(tw, confident, 0.5, grid) == -8.0


def test_the_photo_screen_is_scored_on_photos_its_threshold_was_not_chosen_on() -> None:
    rng = np.random.default_rng(0)
    tw = rng.normal(-8.0, 2.0, 60)
    confident = np.ones(60, dtype=bool)
    fit = cross_validate_photo_screen(tw, confident, 0.9, folds=5, seed=1)
    assert fit.oof_kept == fit.oof_flagged  # every photo confident: only the screen keeps them
    assert 0.7 <= fit.oof_flagged <= 1.0
    assert (tw < fit.threshold).mean() >= 0.9  # chosen on all 60, it reaches the target


def other_dir(root: Path) -> Path:
    (root / "photos").mkdir(parents=True)
    Image.new("RGB", (120, 80), (200, 10, 10)).save(root / "photos" / "wide.jpg")
    Image.new("L", (60, 90), 128).save(root / "photos" / "grey.jpg")
    (root / "manifest.csv").write_text("file,kind\nphotos/wide.jpg,car\nphotos/grey.jpg,object\n")
    return root


def test_other_photos_load_as_served_and_as_thumbnails(tmp_path: Path) -> None:
    other = load_other(other_dir(tmp_path), 64)
    assert other.files == ["photos/grey.jpg", "photos/wide.jpg"]
    assert other.photos.shape == (2, 64, 64, 3)
    assert other.thumbnails.shape == (4, 2, 64, 64, 3)  # crop, mirror, whole frame, mirror
    assert np.array_equal(other.thumbnails[1], other.thumbnails[0][:, :, ::-1])


def test_a_manifest_without_classes_labels_every_file_other(tmp_path: Path) -> None:
    samples = load_samples(other_dir(tmp_path))
    assert [s.label for s in samples] == [OTHER, OTHER]
    assert all(s.path.exists() for s in samples)


def test_evaluate_counts_any_bay_for_a_photo_of_neither_as_wrong() -> None:
    # GIVEN a bicycle, a motorcycle taken for a bicycle, an unsure one, and two photos of neither
    y = np.array([0, 1, 0, OTHER, OTHER])
    probs = np.array(
        [
            [0.99, 0.005, 0.005],  # right bay
            [0.989, 0.001, 0.01],  # wrong bay
            [0.6, 0.4, 0.0],  # review: under the bar
            [0.3, 0.2, 0.5],  # "neither": review
            [0.01, 0.98, 0.01],  # a bay, and any bay is wrong
        ]
    )
    out = routing(y, probs, threshold=0.98, neither_threshold=0.5)
    assert out["wrong_bay"] == pytest.approx(2 / 5)
    assert out["neither"] == pytest.approx(1 / 5)
    assert out["review"] == out["kept_from_bay"] == pytest.approx(2 / 5)
    # a two-class answer: nothing is "neither"
    assert routing(y[:3], probs[:3, :2], 0.98, 0.5)["neither"] == 0.0
