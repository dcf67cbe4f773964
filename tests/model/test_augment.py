"""Training views: the thumbnail view of the whole-network fine-tune keeps every pixel it shows."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from model.training.augment import augment, mirror_and_shift


def thumbnail(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))


def placements(img: Image.Image, pixels: int) -> list[np.ndarray]:
    """Every view mirror_and_shift may give: the image or its mirror, reflected, cut at each offset."""
    views = []
    for source in (np.asarray(img), np.asarray(img)[:, ::-1]):
        padded = np.pad(source, ((pixels, pixels), (pixels, pixels), (0, 0)), mode="reflect")
        for dy in range(2 * pixels + 1):
            for dx in range(2 * pixels + 1):
                views.append(padded[dy : dy + 32, dx : dx + 32])
    return views


def test_each_view_is_the_thumbnail_or_its_mirror_shifted_by_at_most_the_pixels() -> None:
    img = thumbnail(1)
    allowed = placements(img, 2)
    rng = random.Random(7)
    seen = set()
    for _ in range(200):
        view = np.asarray(mirror_and_shift(img, rng, 2))
        assert view.shape == (32, 32, 3)
        matches = [i for i, candidate in enumerate(allowed) if np.array_equal(view, candidate)]
        assert matches, "a view that is neither a shift nor a mirrored shift"
        seen.add(matches[0])
    assert len(seen) > 25  # of 50 placements: the draws cover both mirrors and the offsets


def test_views_repeat_with_the_seed_and_zero_pixels_only_mirrors() -> None:
    img = thumbnail(2)
    first = [np.asarray(mirror_and_shift(img, random.Random(3), 2)) for _ in range(5)]
    again = [np.asarray(mirror_and_shift(img, random.Random(3), 2)) for _ in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    rng = random.Random(4)
    for _ in range(20):
        view = np.asarray(mirror_and_shift(img, rng, 0))
        assert np.array_equal(view, np.asarray(img)) or np.array_equal(view, np.asarray(img)[:, ::-1])


def test_the_general_augmentation_returns_the_networks_square() -> None:
    rng = random.Random(5)
    for side in (128, 192):
        out = augment(thumbnail(3), side, rng, strength=1.0)
        assert out.size == (side, side) and out.mode == "RGB"
