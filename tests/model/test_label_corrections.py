"""The project's label corrections: the file, how every reader applies them, and the two sets of figures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench.stats import wilson
from model.dataset import CLASSES, default_data_dir, load_samples
from model.evaluation.evaluate import corrected_figures, summarise
from model.evaluation.label_issues import class_thresholds, confident_label_issues, find_candidates
from model.evaluation.outcomes import Outcome
from model.label_corrections import FIELDS, CorrectionMismatchError, load_corrections

MANIFEST_FIELDS = ["split", "class", "cifar100_fine_label", "filename", "cifar100_python_row_index"]
KNOWN = ("test", "cycle_s_002305.png")  # CIFAR-100 test index 1094, Northcutt et al. 2021


def write_manifest(root: Path, rows: list[tuple[str, str, str, int]]) -> None:
    """A cifar100-vehicles layout: (split, class, filename, CIFAR index) per image, files of any bytes."""
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_FIELDS)
        for split, cls, name, index in rows:
            writer.writerow([split, cls, 8 if cls == "bicycle" else 48, name, index])
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            (root / split / cls / name).write_bytes(b"png")


def test_the_corrections_file_parses_and_every_row_has_its_source() -> None:
    # GIVEN the committed corrections file
    # WHEN it is read with the classes a correction may use
    corrections = load_corrections(labels=CLASSES)
    # THEN it holds the human-validated error of the CIFAR-100 test split, with its source
    known = corrections[KNOWN]
    assert (known.cifar100_index, known.manifest_label, known.corrected_label) == (
        1094,
        "bicycle",
        "motorcycle",
    )
    assert "Northcutt" in known.source
    assert all(c.source and c.note for c in corrections.values())


def test_every_correction_names_an_existing_manifest_entry() -> None:
    # GIVEN the shared data set, where this machine has it
    data = default_data_dir("VEHICLES_DATA_DIR", "cifar100-vehicles")
    if data is None or not (data / "manifest.csv").exists():
        pytest.skip("no cifar100-vehicles data here ($VEHICLES_DATA_DIR or ../shared/data)")
    with (data / "manifest.csv").open(newline="") as fh:
        rows = {(r["split"], r["filename"]): r for r in csv.DictReader(fh)}
    # WHEN each correction is looked up in its manifest
    for key, correction in load_corrections(labels=CLASSES).items():
        row = rows[key]
        # THEN it names that row's label and index, and the image is there
        assert row["class"] == correction.manifest_label
        assert int(row["cifar100_python_row_index"]) == correction.cifar100_index
        assert (data / row["split"] / row["class"] / row["filename"]).exists()


def test_load_samples_applies_a_correction_unless_asked_not_to(tmp_path: Path) -> None:
    # GIVEN a manifest holding the corrected image and another
    write_manifest(
        tmp_path, [("test", "bicycle", KNOWN[1], 1094), ("test", "bicycle", "bike_s_000001.png", 7)]
    )
    # WHEN it is read with and without the corrections
    corrected = {s.path.name: CLASSES[s.label] for s in load_samples(tmp_path, "test")}
    given = {s.path.name: CLASSES[s.label] for s in load_samples(tmp_path, "test", corrected=False)}
    # THEN only the corrected image changes label, and its file stays where the manifest puts it
    assert corrected == {KNOWN[1]: "motorcycle", "bike_s_000001.png": "bicycle"}
    assert given == {KNOWN[1]: "bicycle", "bike_s_000001.png": "bicycle"}
    (path,) = [s.path for s in load_samples(tmp_path, "test") if s.path.name == KNOWN[1]]
    assert path == tmp_path / "test" / "bicycle" / KNOWN[1]


def test_a_correction_that_disagrees_with_its_manifest_row_is_an_error(tmp_path: Path) -> None:
    # GIVEN a manifest whose row of that name is another image (another CIFAR index)
    write_manifest(tmp_path, [("test", "bicycle", KNOWN[1], 5)])
    # WHEN it is read with the corrections THEN the mismatch is reported, not skipped
    with pytest.raises(CorrectionMismatchError, match="1094"):
        load_samples(tmp_path, "test")
    assert [s.label for s in load_samples(tmp_path, "test", corrected=False)] == [0]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (["test", "a.png", "1", "bicycle", "motorcycle", "", "no source"], "source"),
        (["test", "a.png", "1", "bicycle", "car", "a source", "an unknown label"], "unknown label"),
        (["test", "a.png", "1", "bicycle", "bicycle", "a source", "no change"], "the manifest's"),
    ],
)
def test_a_malformed_correction_is_refused(tmp_path: Path, row: list[str], problem: str) -> None:
    # GIVEN a corrections file with one bad row
    path = tmp_path / "corrections.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([FIELDS, row])
    # WHEN it is read THEN the line and the problem are named
    with pytest.raises(ValueError, match=f"corrections.csv:2: .*{problem}"):
        load_corrections(path, labels=CLASSES)


def test_wilson_interval_matches_the_guide() -> None:
    # GIVEN one mistake in 200 images WHEN its 95% Wilson interval is computed THEN it is 0.09%-2.8%
    low, high = wilson(1, 200)
    assert (round(low * 100, 2), round(high * 100, 1)) == (0.09, 2.8)
    # no mistake still leaves an upper bound; all right still leaves a lower one
    assert wilson(0, 200)[0] == 0.0 and 0.018 < wilson(0, 200)[1] < 0.019
    assert wilson(200, 200)[1] == 1.0 and wilson(200, 200)[0] == pytest.approx(1 - wilson(0, 200)[1])
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_evaluate_scores_the_same_answers_under_both_labels(tmp_path: Path) -> None:
    # GIVEN the corrected image answered "motorcycle" with confidence, and a bicycle answered right
    write_manifest(
        tmp_path, [("test", "bicycle", KNOWN[1], 1094), ("test", "bicycle", "bike_s_000001.png", 7)]
    )
    samples = load_samples(tmp_path, "test", corrected=False)
    answers = {KNOWN[1]: [0.001, 0.998, 0.001], "bike_s_000001.png": [0.998, 0.001, 0.001]}
    outcomes = [Outcome(s, answers[s.path.name], 1.0, None) for s in samples]
    # WHEN both sets of figures are computed
    original = summarise(outcomes, threshold=0.98, neither_threshold=0.5)
    corrected = corrected_figures(outcomes, tmp_path, "test", threshold=0.98, neither_threshold=0.5)
    # THEN the manifest's labels see a wrong bay, the corrected ones none, each with its interval
    assert original["wrong_bay"] == 0.5 and original["intervals"]["wrong_bay"]["k"] == 1
    assert corrected["wrong_bay"] == 0.0 and corrected["accuracy"] == 1.0
    assert corrected["intervals"]["accuracy"] == {"k": 2, "n": 2, "low": wilson(2, 2)[0], "high": 1.0}
    assert corrected["corrections"] == [
        {"file": f"test/bicycle/{KNOWN[1]}", "given": "bicycle", "corrected": "motorcycle"}
    ]


def test_confident_learning_flags_what_reaches_the_other_class_threshold(tmp_path: Path) -> None:
    # GIVEN labels and vehicle shares where one bicycle gets the motorcycle's typical confidence
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.05, 0.95], [0.1, 0.9], [0.2, 0.8]])
    # WHEN the per-class thresholds (mean self-confidence) and the confident joint are computed
    thresholds = class_thresholds(labels, probs)
    confident = confident_label_issues(labels, probs, thresholds)
    # THEN only that bicycle is confidently a motorcycle; the others are their own class or unsure
    assert thresholds == pytest.approx([(0.9 + 0.8 + 0.05) / 3, 0.85])
    assert confident.tolist() == [0, 0, 1, 1, -1]
    # and as candidates, with an answer of "neither" listed as its own kind
    write_manifest(tmp_path, [("test", "bicycle", f"b{i}.png", i) for i in range(3)])
    (tmp_path / "m").mkdir()
    write_manifest(tmp_path / "m", [("test", "motorcycle", f"m{i}.png", i) for i in range(2)])
    samples = load_samples(tmp_path, "test") + load_samples(tmp_path / "m", "test")
    with_other = np.column_stack([probs * 0.9, [0.1, 0.1, 0.1, 0.1, 0.6]])
    found = find_candidates(samples, with_other, "test", neither_threshold=0.5)
    assert [(c["file"], c["kind"], c["suggested"]) for c in found["candidates"]] == [
        ("test/bicycle/b2.png", "other-vehicle", "motorcycle"),
        ("test/motorcycle/m1.png", "neither", "neither"),
    ]
