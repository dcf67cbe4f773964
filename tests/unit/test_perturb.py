"""model.training.perturb: one kind at a time, same size, the bytes a phone would send, reproducible."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.training.perturb import KINDS, perturbed_bytes, seeded


def picture() -> Image.Image:
    rng = np.random.default_rng(7)
    pixels = rng.integers(40, 216, size=(32, 32, 3), dtype=np.uint8)
    pixels[8:24, 4:28] = (200, 30, 30)  # something off centre, so a mirror or a crop changes it
    return Image.fromarray(pixels)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_keeps_the_size_changes_the_pixels_and_repeats(kind: str) -> None:
    img = picture()
    data = perturbed_bytes(img, kind, seeded(1, 3, kind))
    out = Image.open(io.BytesIO(data))
    assert out.format == ("JPEG" if kind == "jpeg" else "PNG")
    assert out.size == img.size
    assert not np.array_equal(np.asarray(out.convert("RGB")), np.asarray(img))
    assert perturbed_bytes(img, kind, seeded(1, 3, kind)) == data


def test_dim_is_darker_and_grey_has_no_colour() -> None:
    img = picture()
    dim = np.asarray(Image.open(io.BytesIO(perturbed_bytes(img, "dim", seeded(1, 0, "dim")))), dtype=float)
    assert dim.mean() < 0.7 * np.asarray(img, dtype=float).mean()
    grey = np.asarray(
        Image.open(io.BytesIO(perturbed_bytes(img, "grey", seeded(1, 0, "grey")))).convert("RGB")
    )
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
