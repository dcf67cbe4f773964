"""`driver-routing dataset from-reviews`: the dispatchers' reviews as a versioned, labelled dataset.

Every reviewed photo in the window becomes a labelled image: the dispatcher's label is its class (a
vehicle class, or `other` for "not a vehicle"). A share of them is held back (split `holdout`) for the
promotion gate, the rest is `train`. A sampled share of the photos the model routed without a person
(split `qa`) is exported for human quality checks: labelled by the model only, so never trained on.
Which photo falls where is a function of its id, so exporting the same window twice gives the same
dataset. The manifest says, per image, who labelled it and when, and what the model said (version,
answer, confidence); `dataset.json` says what was exported, from where, and the dataset's version,
the digest of its manifest and images.

The layout is the one `model.dataset.load_samples` reads: `manifest.csv` (split, class, filename, ...)
and `<split>/<class>/<filename>`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from shared.contracts import NOT_A_VEHICLE, CaptureRecord, Route, utc_now

TRAIN, HOLDOUT, QA = "train", "holdout", "qa"
OTHER_CLASS = "other"  # what "not a vehicle" is called in a dataset (the model's third class)
MANIFEST_COLUMNS = (
    "split",
    "class",
    "filename",
    "photo_id",
    "photo_key",
    "labelled_by",
    "labelled_at",
    "model_version",
    "model_answer",
    "confidence",
    "none_probability",
    "outcome",
    "reason",
)
DATASET_FILE = "dataset.json"


class PhotoSource(Protocol):
    """Where a photo's bytes are read from (S3 in every stack); None when the photo is gone."""

    def read(self, bucket: str, key: str) -> bytes | None: ...


class S3Photos:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def read(self, bucket: str, key: str) -> bytes | None:
        try:
            body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None  # expired after PhotoRetentionDays, or deleted
        return body


@dataclass(frozen=True)
class Shares:
    holdout: float = 0.2  # of the reviewed photos, kept for the promotion gate
    qa: float = 0.05  # of the photos the model routed alone, sampled for a person's check


def _fraction(photo_id: str, salt: str) -> float:
    """A photo's place in [0, 1): stable for the photo, independent between uses."""
    digest = hashlib.sha256(f"{salt}:{photo_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(record: CaptureRecord, shares: Shares) -> str | None:
    """Where a record goes in the dataset, or None when it stays out."""
    if record.review is not None:
        return HOLDOUT if _fraction(record.photo_id, HOLDOUT) < shares.holdout else TRAIN
    if record.outcome == Route.ROUTED and _fraction(record.photo_id, QA) < shares.qa:
        return QA
    return None


def _row(record: CaptureRecord, split: str) -> dict[str, str]:
    suffix = PurePosixPath(record.photo_key).suffix.lower() or ".jpg"
    review = record.review
    if review is not None:
        label = OTHER_CLASS if review.label == NOT_A_VEHICLE else review.label
        labelled_by, labelled_at = f"dispatcher:{review.reviewer}", review.reviewed_at.isoformat()
    else:
        label = record.model_answer or ""
        labelled_by, labelled_at = "model", record.decided_at.isoformat()

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {
        "split": split,
        "class": label,
        "filename": f"{record.photo_id}{suffix}",
        "photo_id": record.photo_id,
        "photo_key": record.photo_key,
        "labelled_by": labelled_by,
        "labelled_at": labelled_at,
        "model_version": text(record.model_version),
        "model_answer": text(record.model_answer),
        "confidence": text(record.confidence),
        "none_probability": text(record.none_probability),
        "outcome": record.outcome.value,
        "reason": text(record.reason),
    }


@dataclass(frozen=True)
class Exported:
    path: Path
    version: str
    counts: dict[str, dict[str, int]]  # split -> class -> images
    missing: int  # records whose photo was no longer in the bucket

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "version": self.version,
            "counts": self.counts,
            "missing": self.missing,
        }


def export_reviews(
    records: Iterable[CaptureRecord],
    photos: PhotoSource,
    out: Path,
    *,
    since: datetime,
    until: datetime,
    source: str,
    shares: Shares = Shares(),
) -> Exported:
    """Write the dataset under `out/reviews-<version>/` (the same folder again for the same content)."""
    rows: list[dict[str, str]] = []
    images: dict[str, bytes] = {}
    missing = 0
    for record in sorted(records, key=lambda r: r.photo_id):
        split = split_of(record, shares)
        if split is None:
            continue
        row = _row(record, split)
        if not row["class"]:
            continue
        data = photos.read(record.bucket, record.photo_key)
        if data is None:
            missing += 1
            continue
        rows.append(row)
        images[f"{split}/{row['class']}/{row['filename']}"] = data
    manifest = io.StringIO()
    writer = csv.DictWriter(manifest, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    digest = hashlib.sha256(manifest.getvalue().encode())
    for name in sorted(images):
        digest.update(name.encode() + hashlib.sha256(images[name]).digest())
    version = digest.hexdigest()[:12]
    counts: dict[str, dict[str, int]] = {}
    for (split, label), n in sorted(Counter((r["split"], r["class"]) for r in rows).items()):
        counts.setdefault(split, {})[label] = n
    target = out / f"reviews-{version}"
    if not target.exists():
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".reviews-", dir=out))
        for name, data in images.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        (staging / "manifest.csv").write_text(manifest.getvalue())
        info = {
            "version": version,
            "created_at": utc_now().isoformat(),
            "source": source,
            "window": {"since": since.isoformat(), "until": until.isoformat()},
            "shares": {"holdout": shares.holdout, "qa": shares.qa},
            "counts": counts,
            "missing_photos": missing,
            "splits": {
                TRAIN: "reviewed photos, the dispatcher's label: for training",
                HOLDOUT: "reviewed photos held back from training: the promotion gate scores on them",
                QA: "photos the model routed alone, its own label: for a person to check, not training",
            },
        }
        (staging / DATASET_FILE).write_text(json.dumps(info, indent=2) + "\n")
        try:
            staging.rename(target)  # whole or not at all
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.exists():
                raise
    return Exported(target, version, counts, missing)
