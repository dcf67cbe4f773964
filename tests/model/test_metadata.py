"""metadata.json has one schema: what training writes, evaluation records and the server reads."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from model.evaluation.evaluate import record
from model.metadata import (
    ARTIFACTS_DIR,
    METADATA_FILE,
    MODEL_FILE,
    ModelMetadata,
    ThumbnailRecipe,
    TrainingRecord,
)
from model.training.recipe import ThumbnailConfig, TrainConfig


def test_the_records_name_every_setting_of_the_recipe() -> None:
    """A setting added to a config and not to its record would be left out of every retrain's file."""
    train = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "out"]
    assert list(TrainingRecord.model_fields)[: len(train)] == train
    assert list(ThumbnailRecipe.model_fields) == [f.name for f in dataclasses.fields(ThumbnailConfig)]


def test_a_key_the_schema_does_not_know_is_refused() -> None:
    raw = json.loads((ARTIFACTS_DIR / METADATA_FILE).read_text())
    raw["cv"]["surprise"] = 1
    with pytest.raises(ValidationError):
        ModelMetadata.model_validate(raw)


def test_a_model_without_optional_sections_writes_none_of_them() -> None:
    meta = ModelMetadata.load(ARTIFACTS_DIR).model_copy(update={"thumbnail": None, "evaluation": {}})
    written = json.loads(meta.to_json())
    assert "thumbnail" not in written and "evaluation" not in written and "finetune_grid" not in written["cv"]
    assert ModelMetadata.model_validate(written) == meta
    assert meta.graph_files() == {"photo": MODEL_FILE}


def test_recording_an_evaluation_adds_its_entry_and_keeps_the_rest(tmp_path: Path) -> None:
    for name in (MODEL_FILE, METADATA_FILE):
        shutil.copy(ARTIFACTS_DIR / name, tmp_path / name)
    before = ModelMetadata.load(tmp_path)
    summary = {
        "n": 4,
        "accuracy": 0.75,
        "threshold": 0.9,
        "below_threshold": 0.25,
        "accuracy_above_threshold": None,
        "latency_ms": {"p50": 5.0, "p99": 9.0},
        "confusion": {"labels": ["bicycle", "motorcycle"], "rows_true_cols_pred": [[2, 0], [1, 1]]},
    }
    record(summary, str(tmp_path), "smoke", "driver-routing evaluate --record-as smoke")
    after = ModelMetadata.load(tmp_path)
    assert after.evaluation["smoke"].confusion == [[2, 0], [1, 1]]
    assert after.evaluation["smoke"].accuracy_above_threshold is None
    assert after.model_copy(update={"evaluation": before.evaluation}) == before
