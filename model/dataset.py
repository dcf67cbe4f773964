"""Labelled image sets: a directory with manifest.csv (split, class, filename) or class-named folders.

A manifest's labels are read through the project's label corrections (`model/label_corrections.py`,
`model/data/label-corrections.csv`) unless `corrected=False`: every reader of the data sees the same
corrected labels, and `driver-routing evaluate` reports the figures under both.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.label_corrections import load_corrections

CLASSES: tuple[str, str] = ("bicycle", "motorcycle")  # index 0, 1: the endpoint's answer order
OTHER_CLASS = "other"  # a third answer: neither a bicycle nor a motorcycle
OTHER = len(CLASSES)  # the label of an image that shows neither (other/)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".avif"}
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # index into CLASSES, or OTHER


def default_data_dir(env_var: str, relative: str) -> Path | None:
    """`$env_var`, else `../shared/data/<relative>` next to the repository root when it exists."""
    if value := os.environ.get(env_var):
        return Path(value)
    candidate = REPO_ROOT.parent / "shared" / "data" / relative
    return candidate if candidate.exists() else None


def load_samples(root: Path, split: str | None = None, *, corrected: bool = True) -> list[Sample]:
    """Samples under `root`, labels from manifest.csv when there is one, else from the folder names.

    With a manifest, `split` picks rows (train/test); files sit at `<split>/<class>/<filename>` or
    directly under `root`. Without one, every image below a folder named bicycle or motorcycle counts
    (under `<root>/<split>/` when that folder exists). A manifest without a `class` column (other/'s:
    `file, kind, ...`) labels every file it lists OTHER. With `corrected`, a manifest row named in the
    project's label corrections gets the corrected label (its file stays where the manifest puts it);
    folder names are never corrected.
    """
    manifest = root / "manifest.csv"
    samples: list[Sample] = []
    if manifest.exists():
        with manifest.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and "class" not in rows[0]:
            # other/'s manifest lists files only: every one shows neither class
            samples = [Sample(root / row["file"], OTHER) for row in rows]
            rows = []
        corrections = load_corrections(labels=CLASSES) if corrected and rows else {}
        for row in rows:
            if split and row["split"] != split:
                continue
            cls = row["class"]
            if cls not in CLASSES:
                continue
            path = root / row["split"] / cls / row["filename"]
            if not path.exists():
                path = root / row["filename"]
            label = cls
            if correction := corrections.get((row["split"], row["filename"])):
                correction.check(cls, row.get("cifar100_python_row_index"))
                label = correction.corrected_label
            samples.append(Sample(path, CLASSES.index(label)))
    else:
        base = root / split if split and (root / split).is_dir() else root
        for path in sorted(base.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            labels = [p for p in path.relative_to(base).parts[:-1] if p in CLASSES]
            if labels:
                samples.append(Sample(path, CLASSES.index(labels[-1])))
    samples.sort(key=lambda s: (s.label, str(s.path)))
    if not samples:
        raise FileNotFoundError(f"no labelled images under {root} (split={split!r})")
    missing = [s.path for s in samples if not s.path.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} files listed in {manifest} are missing, e.g. {missing[0]}")
    return samples


def training_samples(data: Path, added: Sequence[Path] = ()) -> list[Sample]:
    """What a training run learns from: the train split of `data` and of every added dataset (a
    `driver-routing dataset from-reviews` folder: its dispatcher-labelled `train` rows; its `holdout`
    rows are the promotion gate's and its `qa` rows, labelled by the model alone, never train)."""
    samples = load_samples(data, "train")
    for extra in added:
        samples += load_samples(extra, "train")
    return samples
