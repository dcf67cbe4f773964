"""The data command: CIFAR-100's bicycle (fine label 8) and motorcycle (48) classes as PNG files.

Fetches `cifar-100-python.tar.gz` from its official source into a local cache (or takes a local copy
of it, or a directory already laid out like shared/data/cifar100-vehicles) and writes
`<out>/{train,test}/{bicycle,motorcycle}/<cifar filename>.png` plus `manifest.csv`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"  # published alongside the dataset (and used by torchvision)
FINE_LABELS = {8: "bicycle", 48: "motorcycle"}
MANIFEST_FIELDS = [
    "split",
    "class",
    "cifar100_fine_label",
    "filename",
    "cifar100_python_row_index",
    "width",
    "height",
    "mode",
    "bytes",
    "sha256",
]


class DataUnavailableError(RuntimeError):
    """The data could not be fetched or read; the message says what to pass instead."""


class _CifarUnpickler(pickle.Unpickler):
    """Only what the CIFAR pickles hold (dicts, lists, bytes, numpy arrays): never arbitrary code."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR pickle")


def _load_batch(raw: bytes) -> dict[str, Any]:
    batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, cache_dir: Path, timeout_s: float = 30.0) -> Path:
    """The tarball in `cache_dir`, downloaded once (atomically) and checked against the published MD5."""
    target = cache_dir / url.rsplit("/", 1)[-1]
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp, partial.open("wb") as fh:
            shutil.copyfileobj(resp, fh)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise DataUnavailableError(
            f"could not download {url}: {exc}.\n"
            "Offline? Pass one of:\n"
            "  --source /path/to/cifar-100-python.tar.gz   (a copy of the official tarball)\n"
            "  --source /path/to/cifar100-vehicles          (a directory with manifest.csv and "
            "{train,test}/{bicycle,motorcycle}/*.png, e.g. ../shared/data/cifar100-vehicles)\n"
            "or point training/evaluation straight at such a directory with --data or $VEHICLES_DATA_DIR."
        ) from exc
    if url == CIFAR100_URL and (got := md5_file(partial)) != CIFAR100_MD5:
        partial.unlink(missing_ok=True)
        raise DataUnavailableError(f"{url} has MD5 {got}, expected {CIFAR100_MD5}: not keeping it")
    partial.replace(target)
    return target


def extract_vehicles(tarball: Path, out: Path) -> dict[str, Any]:
    """Write the two classes of both splits as PNGs and a manifest; returns counts per split/class."""
    try:
        archive = tarfile.open(tarball, "r:gz")  # noqa: SIM115 (closed by the `with` below)
    except (tarfile.TarError, OSError) as exc:
        raise DataUnavailableError(f"{tarball} is not a readable .tar.gz: {exc}") from exc
    rows: list[dict[str, Any]] = []
    with archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        for split in ("train", "test"):
            member = members.get(split)
            handle = archive.extractfile(member) if member else None
            if handle is None:
                raise DataUnavailableError(f"{tarball} has no cifar-100-python/{split} batch")
            batch = _load_batch(handle.read())
            data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            for row, (label, name) in enumerate(zip(batch["fine_labels"], batch["filenames"], strict=True)):
                cls = FINE_LABELS.get(int(label))
                if cls is None:
                    continue
                filename = name.decode() if isinstance(name, bytes) else str(name)
                filename = Path(filename).name  # never let a name escape the output folder
                buf = io.BytesIO()
                Image.fromarray(data[row], "RGB").save(buf, format="PNG")
                png = buf.getvalue()
                path = out / split / cls / filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
                rows.append(
                    {
                        "split": split,
                        "class": cls,
                        "cifar100_fine_label": int(label),
                        "filename": filename,
                        "cifar100_python_row_index": row,
                        "width": 32,
                        "height": 32,
                        "mode": "RGB",
                        "bytes": len(png),
                        "sha256": hashlib.sha256(png).hexdigest(),
                    }
                )
    write_manifest(out, rows)
    return _counts(rows)


def write_manifest(out: Path, rows: list[dict[str, Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in rows:
        key = f"{row['split']}/{row['class']}"
        counts[key] = counts.get(key, 0) + 1
    return {"images": len(rows), "counts": dict(sorted(counts.items()))}


def copy_layout(source: Path, out: Path) -> dict[str, Any]:
    """Check a directory in the cifar100-vehicles layout and copy it to `out` (unless it is `out`)."""
    manifest = source / "manifest.csv"
    if not manifest.exists():
        raise DataUnavailableError(f"{source} has no manifest.csv: not in the cifar100-vehicles layout")
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [r["filename"] for r in rows if not (source / r["split"] / r["class"] / r["filename"]).exists()]
    if missing:
        raise DataUnavailableError(f"{source}: {len(missing)} manifest files missing, e.g. {missing[0]}")
    if source.resolve() != out.resolve():
        for r in rows:
            dest = out / r["split"] / r["class"] / r["filename"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / r["split"] / r["class"] / r["filename"], dest)
        shutil.copyfile(manifest, out / "manifest.csv")
    return _counts(rows)


def prepare(
    out: Path, source: Path | None = None, cache_dir: Path = Path(".cache"), url: str = CIFAR100_URL
) -> dict[str, Any]:
    """`source` may be a tarball or a directory in the target layout; otherwise download from `url`."""
    if source is not None:
        if source.is_dir():
            result = copy_layout(source, out)
            return {**result, "out": str(out), "source": str(source)}
        if not source.exists():
            raise DataUnavailableError(f"{source} does not exist")
        tarball = source
    else:
        tarball = download(url, cache_dir)
    result = extract_vehicles(tarball, out)
    return {**result, "out": str(out), "source": str(tarball), "md5": md5_file(tarball)}
