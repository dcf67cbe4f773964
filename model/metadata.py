"""What `artifacts/metadata.json` says about a trained model, and where a model directory is.

Training writes it, the server reads the graphs and the threshold from it, evaluation records its
figures in it and the model card quotes it. The file is the serialisation of `ModelMetadata`: fields in
declaration order, `json.dumps(indent=2)`, so reading and writing back gives the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
MODEL_FILE = "model.onnx"  # the photo graph: answers every upload a thumbnail graph does not take
THUMBNAIL_FILE = "thumbnail.onnx"
METADATA_FILE = "metadata.json"
SAGEMAKER_MODEL_DIR = "/opt/ml/model"  # where SageMaker extracts the model.tar.gz given to CreateModel


class _Record(BaseModel):
    # extra="forbid": a key this schema does not know is a mistake in the writer, not data to carry
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    # Optional sections: left out of the file when absent rather than written as null.
    _sections: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _leave_out_absent_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k not in self._sections or v not in (None, {}, [], ())}


class Artifact(_Record):
    file: str
    bytes: int
    sha256: str


class ThresholdChoice(_Record):
    """The router's threshold as cross-validation chose it, and what it leaves below it."""

    threshold: float
    cv_below_threshold: float
    cv_accuracy_above_threshold: float
    cv_accuracy: float


class ProbeGridPoint(_Record):
    lambda_: float = Field(alias="lambda")
    prior_weight: float
    accuracy: float


class PriorWeightAccuracy(_Record):
    prior_weight: float
    accuracy: float


class ProbeCV(_Record):
    """Cross-validation of the photo graph (the probe, optionally fine-tuned) on the train split."""

    probe_grid: list[ProbeGridPoint]
    lambda_: float = Field(alias="lambda")
    finetune_grid: list[PriorWeightAccuracy] | None = None
    threshold: float
    cv_below_threshold: float
    cv_accuracy_above_threshold: float
    cv_accuracy: float
    prior_weight: float
    _sections: ClassVar[frozenset[str]] = frozenset({"finetune_grid"})


class TrainingRecord(_Record):
    """The training configuration (`TrainConfig` without its output dir) and how the run went."""

    _sections: ClassVar[frozenset[str]] = frozenset({"add_data"})

    data: str
    backbone: str
    side: int
    split: int
    taps: int
    views: int
    aug_strength: float
    finetune_epochs: int
    lr: float
    l2sp: float
    batch: int
    folds: int
    seed: int
    lambdas: tuple[float, ...]
    prior_weights: tuple[float, ...]
    target_accuracy: float
    threads: int
    thumbnail_epochs: int
    thumbnail_folds: int
    thumbnail_max_side: int
    thumbnail_soup: int = 1
    thumbnail_other_perturbed: bool = False
    other: str | None
    other_kept_target: float
    add_data: tuple[str, ...] = ()  # datasets from reviews added to the train split (left out when none)
    n_train: int
    seconds: float
    torch: str
    python: str
    export_max_abs_diff: float
    fp16_max_abs_diff: float | None


class ThumbnailRecipe(_Record):
    """`ThumbnailConfig` as recorded."""

    epochs: int
    lr: float
    weight_decay: float
    label_smoothing: float
    shift: int
    augment: float = 0.0  # a record written before the option had none
    drop_connect: float
    dropout: float
    batch: int
    bf16: bool
    folds: int
    max_side: int
    soup: int = 1  # a record written before weight soups is of one network
    prior_weights: tuple[float, ...]
    target_accuracy: float
    other_lambdas: tuple[float, ...]
    other_keep: float
    other_perturbed: bool = False  # a record written before the option had none


class ComparedCandidate(ThresholdChoice):
    """A variant of the thumbnail graph scored on the served graph's folds, at its prior weight."""

    name: str
    cv_wrong_bay: float  # share of the split routed to a bay and wrong there, out of fold


class ThumbnailCVSummary(_Record):
    _sections: ClassVar[frozenset[str]] = frozenset({"compared"})

    accuracy_by_prior_weight: list[PriorWeightAccuracy]
    prior_weight: float
    threshold: float
    cv_below_threshold: float
    cv_accuracy_above_threshold: float
    cv_accuracy: float
    compared: list[ComparedCandidate] | None = None


class ThumbnailFit(_Record):
    """What fitting the thumbnail graph chose, before it is exported."""

    recipe: ThumbnailRecipe
    cv: ThumbnailCVSummary
    logit_scale: float
    seconds: float


class ThumbnailGraph(ThumbnailFit):
    """The thumbnail graph: uploads whose longer side is at most `max_side` pixels go to `file`."""

    file: str
    max_side: int
    export_max_abs_diff: float
    fp16_max_abs_diff: float | None
    artifact: Artifact


class NeitherScreen(_Record):
    """How one graph tells "neither bicycle nor motorcycle", and its figures out of fold.

    Scores say "other"; inliers are the train split's thumbnails, outliers the other/ photos (as the
    graph sees them: full photos for the photo graph, 32 px thumbnails for the thumbnail graph).
    """

    method: str
    operating_point: float  # the graph's neither logit at which p_other = the router's threshold
    auroc: float
    fpr_at_95_tpr: float  # share of other/ let through when 95% of the train thumbnails are
    inliers_flagged: float  # train thumbnails flagged at the operating point
    other_flagged: float  # other/ flagged at the operating point
    other_kept: float | None = None  # other/ kept from a bay (flagged, or under the confidence bar)
    head_lambda: float | None = None  # the "other" head's regularisation, when the screen is a head
    auroc_by_lambda: dict[str, float] | None = None
    _sections: ClassVar[frozenset[str]] = frozenset({"other_kept", "head_lambda", "auroc_by_lambda"})


class Neither(_Record):
    """The "neither" outcome: the graphs' third probability and the router threshold on it."""

    threshold: float  # p_other at or above it: manual review, never a bay (rules.yaml says the same)
    data: str
    n_other: int
    photo: NeitherScreen
    thumbnail: NeitherScreen | None = None
    _sections: ClassVar[frozenset[str]] = frozenset({"thumbnail"})


class Percentiles(_Record):
    p50: float
    p99: float


class EvaluationRecord(_Record):
    """The headline figures of one `driver-routing evaluate --record-as NAME` run."""

    n: int
    accuracy: float | None  # None for a set without bicycles or motorcycles (other/)
    threshold: float
    below_threshold: float
    accuracy_above_threshold: float | None
    latency_ms: Percentiles
    confusion: list[list[int]]
    command: str
    wrong_bay: float | None = None  # routed to a bay, and the wrong one (any bay, for other/)
    review: float | None = None  # sent to manual review (low confidence or "neither")
    neither: float | None = None  # flagged "neither bicycle nor motorcycle"
    kept_from_bay: float | None = None  # not routed to any bay
    _sections: ClassVar[frozenset[str]] = frozenset({"wrong_bay", "review", "neither", "kept_from_bay"})


class ModelMetadata(_Record):
    model_version: str
    classes: list[str]
    output: str
    input: str
    input_side: int
    backbone: str
    threshold: float
    threshold_rule: str
    cv: ProbeCV
    training: TrainingRecord
    artifact: Artifact
    thumbnail: ThumbnailGraph | None = None
    neither: Neither | None = None
    evaluation: dict[str, EvaluationRecord] = Field(default_factory=dict)
    _sections: ClassVar[frozenset[str]] = frozenset({"thumbnail", "neither", "evaluation"})

    @classmethod
    def read(cls, path: Path) -> ModelMetadata:
        # json.loads rather than model_validate_json: it reads NaN the way json.dumps writes it
        return cls.model_validate(json.loads(path.read_text()))

    @classmethod
    def load(cls, model_dir: Path) -> ModelMetadata:
        return cls.read(model_dir / METADATA_FILE)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=2) + "\n"

    def write(self, path: Path) -> None:
        path.write_text(self.to_json())

    def graph_files(self) -> dict[str, str]:
        """File of each graph by name: the photo graph and, when trained, the thumbnail graph."""
        files = {"photo": self.artifact.file}
        if self.thumbnail is not None:
            files["thumbnail"] = self.thumbnail.file
        return files


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Explicit dir, else $MODEL_DIR, else SageMaker's /opt/ml/model if it has a model, else the package's."""
    candidates: list[str | os.PathLike[str] | None] = [
        model_dir,
        os.environ.get("MODEL_DIR"),
        SAGEMAKER_MODEL_DIR,
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / MODEL_FILE).exists():
            return Path(candidate)
    if model_dir:
        raise FileNotFoundError(f"no {MODEL_FILE} in {model_dir}")
    return ARTIFACTS_DIR
