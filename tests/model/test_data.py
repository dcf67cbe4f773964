"""The data command on a synthetic CIFAR-100 tarball in the real pickle format (no network)."""

from __future__ import annotations

import csv
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from model.dataset import load_samples
from model.fetch_data import fetch_data_command
from model.training.data import DataUnavailableError, download, extract_vehicles, prepare

# fine labels of the synthetic rows; only 8 (bicycle) and 48 (motorcycle) must come out
TRAIN_LABELS = [8, 3, 48, 48, 99, 8, 8]
TEST_LABELS = [48, 8, 17]


def batch(labels: list[int], prefix: str) -> dict[bytes, object]:
    rng = np.random.default_rng(len(labels))
    data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return {
        b"filenames": [f"{prefix}_s_{i:06d}.png".encode() for i in range(len(labels))],
        b"batch_label": f"{prefix} batch".encode(),
        b"fine_labels": labels,
        b"coarse_labels": [0] * len(labels),
        b"data": data,
    }


def make_tarball(path: Path) -> dict[str, dict[bytes, object]]:
    batches = {"train": batch(TRAIN_LABELS, "train"), "test": batch(TEST_LABELS, "test")}
    with tarfile.open(path, "w:gz") as tar:
        for name, content in [*batches.items(), ("meta", {b"fine_label_names": [b"x"] * 100})]:
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_extracts_the_two_classes_with_pixels_and_manifest(tmp_path: Path) -> None:
    tarball = tmp_path / "cifar-100-python.tar.gz"
    batches = make_tarball(tarball)
    out = tmp_path / "vehicles"
    result = prepare(out, source=tarball)
    assert result["counts"] == {
        "test/bicycle": 1,
        "test/motorcycle": 1,
        "train/bicycle": 3,
        "train/motorcycle": 2,
    }
    with (out / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7
    row = next(r for r in rows if r["split"] == "train" and r["cifar100_python_row_index"] == "2")
    assert (row["class"], row["cifar100_fine_label"]) == ("motorcycle", "48")
    # CIFAR rows are channel-planar (1024 R, 1024 G, 1024 B), row-major
    data = batches["train"][b"data"]
    assert isinstance(data, np.ndarray)
    expected = data[2].reshape(3, 32, 32).transpose(1, 2, 0)
    got = np.asarray(Image.open(out / "train" / "motorcycle" / row["filename"]))
    assert np.array_equal(got, expected)
    # the output is what training and evaluation read
    assert [s.label for s in load_samples(out, "train")] == [0, 0, 0, 1, 1]


def test_a_pickle_with_code_in_it_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    tarball = tmp_path / "evil.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        raw = pickle.dumps({b"data": Evil()})
        for name in ("train", "test"):
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        extract_vehicles(tarball, tmp_path / "out")


def test_a_directory_in_the_layout_is_accepted(tmp_path: Path) -> None:
    tarball = tmp_path / "c.tar.gz"
    make_tarball(tarball)
    prepare(tmp_path / "first", source=tarball)
    result = prepare(tmp_path / "copy", source=tmp_path / "first")
    assert result["images"] == 7
    assert (tmp_path / "copy" / "manifest.csv").exists()


def test_offline_says_what_to_pass_instead(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError) as raised:
        download("http://127.0.0.1:9/cifar-100-python.tar.gz", tmp_path, timeout_s=2)
    message = str(raised.value)
    assert "--source /path/to/cifar-100-python.tar.gz" in message
    assert "manifest.csv" in message
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_cli_exits_2_with_the_hint_when_offline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        fetch_data_command,
        ["--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path), "--url", "http://127.0.0.1:9/x.tar.gz"],
    )
    assert result.exit_code == 2
    assert "Offline?" in result.output


def test_not_a_tarball_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "cifar-100-python.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(DataUnavailableError, match="not a readable"):
        prepare(tmp_path / "o", source=bogus)
