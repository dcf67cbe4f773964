"""The labels the project corrects in a data set's manifest, each with its source.

`model/data/label-corrections.csv` lists them: `split, file, cifar100_index, manifest_label,
corrected_label, source, note`. The data folder itself is never changed: `model.dataset.load_samples`
applies the corrections as it reads a manifest (unless asked not to), so training, evaluation and the
experiments read the same labels. A correction names its manifest row by split, file name and CIFAR-100
index, and says which label the manifest gives: a row that names the image but disagrees about either is
an error, not silently skipped (the corrections were made for other data).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CORRECTIONS_FILE = Path(__file__).resolve().parent / "data" / "label-corrections.csv"
FIELDS = ("split", "file", "cifar100_index", "manifest_label", "corrected_label", "source", "note")


class CorrectionMismatchError(ValueError):
    """A correction names a manifest row whose label or index is not the one it was made for."""


@dataclass(frozen=True)
class Correction:
    split: str
    file: str
    cifar100_index: int | None
    manifest_label: str
    corrected_label: str
    source: str
    note: str

    @property
    def key(self) -> tuple[str, str]:
        return self.split, self.file

    def check(self, manifest_label: str, cifar100_index: str | None) -> None:
        """Raise unless the manifest row it names is the one it was made for."""
        index_differs = (
            self.cifar100_index is not None
            and cifar100_index not in (None, "")
            and int(cifar100_index) != self.cifar100_index
        )
        if manifest_label != self.manifest_label or index_differs:
            raise CorrectionMismatchError(
                f"{CORRECTIONS_FILE.name}: {self.split}/{self.file} was corrected from "
                f"{self.manifest_label!r} (CIFAR-100 index {self.cifar100_index}), but the manifest says "
                f"{manifest_label!r} (index {cifar100_index}): the corrections were made for other data; "
                f"fix {CORRECTIONS_FILE.name} or read the manifest's labels (corrected=False)"
            )


def load_corrections(
    path: Path = CORRECTIONS_FILE, labels: tuple[str, ...] = ()
) -> dict[tuple[str, str], Correction]:
    """The corrections in `path`, by (split, file). `labels`: the label names a correction may use."""
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path}: columns {reader.fieldnames}, expected {list(FIELDS)}")
        corrections: dict[tuple[str, str], Correction] = {}
        for line, row in enumerate(reader, start=2):
            index = row["cifar100_index"].strip()
            correction = Correction(
                split=row["split"].strip(),
                file=row["file"].strip(),
                cifar100_index=int(index) if index else None,
                manifest_label=row["manifest_label"].strip(),
                corrected_label=row["corrected_label"].strip(),
                source=row["source"].strip(),
                note=row["note"].strip(),
            )
            problem = _problem(correction, labels)
            if problem or correction.key in corrections:
                raise ValueError(f"{path}:{line}: {problem or 'a second correction of the same image'}")
            corrections[correction.key] = correction
    return corrections


def _problem(correction: Correction, labels: tuple[str, ...]) -> str | None:
    if not (correction.split and correction.file and correction.source):
        return "split, file and source are required"
    if correction.manifest_label == correction.corrected_label:
        return "the corrected label is the manifest's"
    unknown = {correction.manifest_label, correction.corrected_label} - set(labels) if labels else set()
    return f"unknown label {sorted(unknown)}; one of {list(labels)}" if unknown else None
