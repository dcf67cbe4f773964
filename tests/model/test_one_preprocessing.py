"""The chain's payload and the server's own decoding are one preprocessing: the model is fed the same
array whichever way an upload reaches it, and classifies every format as it classifies the JPEG."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.metadata import ARTIFACTS_DIR
from model.serving.inference import Predictor
from model.serving.preprocess import load_sized_input
from shared.imaging import endpoint_payload
from tests.format_samples import format_samples, jpeg, scene

MAX_PIXELS = 50_000_000
SAMPLES = format_samples()
# Largest |p - p_jpeg| allowed. Measured on 8 photos and 8 CIFAR test images: at most 0.012 (16-bit grey
# and transparent PNGs, whose JPEG q95 reference is the lossy one), under 0.001 for every other format.
AGREEMENT = 0.03
DATA = Path(
    os.environ.get("DRIVER_ROUTING_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(ARTIFACTS_DIR, threads=1)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("12-megapixel JPEG", jpeg(scene((4000, 3000)))),
        ("portrait JPEG", next(s.data for s in SAMPLES if s.name == "jpeg-exif-rotated-90")),
        ("WebP", next(s.data for s in SAMPLES if s.name == "webp")),
        ("150 px JPEG", jpeg(scene((150, 100)))),
        ("32 px thumbnail", jpeg(scene((32, 32)))),
    ],
)
def test_the_payload_feeds_the_model_what_the_raw_upload_would(
    predictor: Predictor, name: str, data: bytes
) -> None:
    # GIVEN an upload, and the payload the classifier (and `evaluate`) makes of it
    payload = endpoint_payload(data, side=predictor.side, max_pixels=MAX_PIXELS)

    # WHEN the server prepares each for the model
    from_payload, payload_side = load_sized_input(payload, predictor.side)
    from_upload, upload_side = load_sized_input(data, predictor.side)

    # THEN the model input is the same array, and the same graph answers
    assert np.array_equal(from_payload, from_upload)
    assert predictor.graph_for(payload_side) == predictor.graph_for(upload_side)


def pictures() -> list[tuple[str, Path | None]]:
    """The generated scene, and a few real photos and CIFAR thumbnails where the data is at hand: the
    model is sure of the scene (p = 1.0), so only real pictures show a disagreement in probabilities."""
    found: list[tuple[str, Path | None]] = [("scene", None)]
    for pattern in ("photos/*/*.jpg", "cifar100-vehicles/test/*/*.png"):
        found += [(path.name, path) for path in sorted(DATA.glob(pattern))[::9][:3]]
    return found


@pytest.mark.parametrize(("name", "path"), pictures(), ids=[name for name, _ in pictures()])
def test_each_format_is_classified_as_the_same_picture_in_jpeg(
    predictor: Predictor, name: str, path: Path | None
) -> None:
    # GIVEN a picture in every accepted format, and each upright picture (on white) as a JPEG
    samples = SAMPLES if path is None else format_samples(picture=Image.open(path))

    # WHEN each goes the chain's way: payload, then the served model
    def probabilities(data: bytes) -> list[float]:
        return predictor.predict_image(endpoint_payload(data, side=predictor.side, max_pixels=MAX_PIXELS))

    disagreements = {}
    for sample in samples:
        got, expected = probabilities(sample.data), probabilities(jpeg(sample.picture))
        gap = max(abs(a - b) for a, b in zip(got, expected, strict=True))
        if gap >= AGREEMENT:
            disagreements[sample.name] = round(gap, 4)

    # THEN the model's probabilities agree within the tolerance for every format
    assert disagreements == {}


def test_the_payload_of_a_large_photo_is_small_and_lossless_png(predictor: Predictor) -> None:
    payload = endpoint_payload(jpeg(scene((4000, 3000))), side=predictor.side, max_pixels=MAX_PIXELS)
    image = Image.open(io.BytesIO(payload))
    assert (image.format, image.size) == ("PNG", (predictor.side, predictor.side))
    assert len(payload) < 150_000
