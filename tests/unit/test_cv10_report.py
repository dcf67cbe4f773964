"""experiments.cv10_report: each fold decided with a threshold and an offset chosen on the other folds,
the labels as corrected and as given, and the "no two-wheeler" share (synthetic folds, no torch)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from experiments.cv10_report import markdown, report
from experiments.recipe_cv10 import PHOTOS_FILE

CORRECTED = "test/bicycle/cycle_s_002305.png"  # in model/data/label-corrections.csv: a motorcycle


def files() -> list[tuple[str, str]]:
    """20 images in the experiment's order (label, then path): 10 bicycles, then 10 motorcycles, the
    first of which is the corrected test image."""
    bicycles = [(f"train/bicycle/b{i:02d}.png", "bicycle") for i in range(10)]
    motorcycles = [(CORRECTED, "motorcycle")] + [
        (f"train/motorcycle/m{i:02d}.png", "motorcycle") for i in range(9)
    ]
    return bicycles + motorcycles


def write_results(tmp: Path) -> None:
    rows = files()
    y = np.array([0 if label == "bicycle" else 1 for _, label in rows])
    logit = np.where(y == 1, 6.0, -6.0)
    logit[3] = 0.5  # a bicycle called a motorcycle, unsure (fold 2)
    inlier = -5 - 0.1 * np.arange(20)
    inlier[0] = 5.0  # flagged "no two-wheeler" (fold 1)
    folds = [np.arange(0, 20, 2), np.arange(1, 20, 2)]
    with (tmp / "folds.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "label", "fold"])
        for k, fold in enumerate(folds):
            out.writerows([rows[i][0], rows[i][1], k + 1] for i in fold)
    other_head = [np.array([6.0, 6.0]), np.array([0.1, 0.1])]
    other_scores = [np.array([10.0, -10.0]), np.array([-10.0, -10.0])]
    for k, fold in enumerate(folds):
        arrays: dict[str, Any] = {
            "fold": fold,
            "head": logit[fold],
            "prior": np.zeros(len(fold)),
            "kinds": np.array(["dim"]),
            "pert_head": logit[fold][None],
            "pert_prior": np.zeros((1, len(fold))),
            "other_fold": np.arange(k, 10, 2),
            "other_head": other_head[k],
            "other_prior": np.zeros(2),
            "seconds": np.array(1.0),
        }
        for head in ("served", "perturbed"):
            arrays |= {
                f"{head}_inlier": inlier[fold],
                f"{head}_pert": inlier[fold][None],
                f"{head}_other": other_scores[k],
            }
        np.savez(tmp / f"fold-{k + 1:02d}.npz", **arrays)
    np.savez(
        tmp / PHOTOS_FILE,
        files=np.array([f"p{i}.jpg" for i in range(10)]),
        two_wheeler=np.full(10, -20.0),
        confident=np.ones(10, dtype=bool),
    )


@pytest.fixture
def figures(tmp_path: Path) -> dict[str, Any]:
    write_results(tmp_path)
    return report(tmp_path)


def test_each_folds_threshold_comes_from_the_other_folds(figures: dict[str, Any]) -> None:
    # fold 1 is decided with what fold 2 needs (the bar just over its unsure mistake's 0.6225), fold 2
    # with what fold 1 needs (no mistake: 0.5), so fold 2's unsure mistake is routed: a wrong bay
    assert figures["thresholds"] == [0.5, 0.6225]
    served = figures["heads"]["served"]
    assert served["corrected"]["wrong_bay"]["k"] == 1
    assert served["wrong_bay_files"] == ["train/bicycle/b03.png"]


def test_labels_as_given_count_the_corrected_image_as_a_mistake(figures: dict[str, Any]) -> None:
    served = figures["heads"]["served"]
    assert served["original"]["wrong_bay"]["k"] == 2
    assert figures["accuracy"]["corrected"]["k"] == 19
    assert figures["accuracy"]["original"]["k"] == 18


def test_no_two_wheeler_is_a_review_and_the_offset_is_cross_fitted(figures: dict[str, Any]) -> None:
    served = figures["heads"]["served"]
    assert served["corrected"]["no_two_wheeler"]["k"] == 1
    assert served["corrected"]["review"]["k"] == 1
    assert served["perturbed"]["review"] == served["corrected"]["review"]
    # fold 1's other/ thumbnails: one flagged, one confidently a motorcycle; fold 2's: both routed
    assert served["other_thumbnails_kept"]["k"] == 1
    assert served["other_thumbnails_kept"]["n"] == 4
    assert figures["other_photos_kept"]["k"] == 10


def test_markdown_says_how_many_folds_are_done(figures: dict[str, Any]) -> None:
    text = markdown(figures)
    assert text.startswith("Folds done: 2 of 10 (20 images out of fold)")
    assert "| wrong bay, corrected | 5.00% (1/20;" in text
