"""Which graph answers an upload: thumbnails go to the fine-tuned graph, everything else to the probe."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.metadata import ARTIFACTS_DIR, METADATA_FILE, MODEL_FILE, ModelMetadata
from model.serving.inference import Predictor
from model.serving.preprocess import to_model_input


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(ARTIFACTS_DIR, threads=1)


def encoded(size: tuple[int, int], fmt: str = "PNG", seed: int = 0) -> tuple[bytes, Image.Image]:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    data = out.getvalue()
    return data, Image.open(io.BytesIO(data)).convert("RGB")


def answer_of(predictor: Predictor, img: Image.Image, graph: str) -> list[float]:
    return [float(v) for v in predictor.run(to_model_input(img, predictor.side)[None], graph)[0]]


def test_the_served_model_has_both_graphs(predictor: Predictor) -> None:
    assert predictor.graphs == ("photo", "thumbnail")
    assert predictor.thumbnail_max_side == 64
    assert predictor.graph_for(32) == predictor.graph_for(64) == "thumbnail"
    assert predictor.graph_for(65) == predictor.graph_for(4000) == "photo"


@pytest.mark.parametrize(
    ("size", "fmt", "graph"),
    [
        ((32, 32), "PNG", "thumbnail"),
        ((64, 40), "JPEG", "thumbnail"),
        ((65, 65), "PNG", "photo"),
        ((1200, 800), "JPEG", "photo"),  # decoded at reduced scale: the graph follows the upload's size
    ],
)
def test_an_upload_is_answered_by_the_graph_for_its_size(
    predictor: Predictor, size: tuple[int, int], fmt: str, graph: str
) -> None:
    data, img = encoded(size, fmt)
    answer = predictor.predict_image(data)
    other = "photo" if graph == "thumbnail" else "thumbnail"
    if fmt == "PNG":  # a JPEG decoded at reduced scale differs from the full decode used here
        assert answer == pytest.approx(answer_of(predictor, img, graph), abs=1e-6)
    assert answer != pytest.approx(answer_of(predictor, img, other), abs=1e-6)


def test_a_mixed_batch_answers_each_line_as_its_own_call(predictor: Predictor) -> None:
    uploads = [encoded((32, 32), seed=1)[0], encoded((300, 200), seed=2)[0], encoded((48, 48), seed=3)[0]]
    body = "\n".join(json.dumps({"image": base64.b64encode(u).decode()}) for u in uploads).encode()
    answers = predictor.predict_jsonlines(body)
    assert answers == [pytest.approx(predictor.predict_image(u), abs=1e-6) for u in uploads]


def test_a_model_without_a_thumbnail_graph_answers_everything_with_the_probe(tmp_path: Path) -> None:
    shutil.copy(ARTIFACTS_DIR / MODEL_FILE, tmp_path / MODEL_FILE)
    meta = ModelMetadata.load(ARTIFACTS_DIR).model_copy(update={"thumbnail": None})
    meta.write(tmp_path / METADATA_FILE)
    alone = Predictor(tmp_path, threads=1)
    assert alone.graphs == ("photo",)
    data, img = encoded((32, 32))
    assert alone.predict_image(data) == pytest.approx(answer_of(alone, img, "photo"), abs=1e-6)
