"""The photo checks apply their own pixel limit and leave Pillow's process-wide guard as it is."""

from __future__ import annotations

import pytest
from PIL import Image

from shared.contracts import PhotoRejected, RejectionReason
from shared.imaging import endpoint_payload, inspect_photo
from tests.samples import png_header_claiming

BOMB = RejectionReason.DECOMPRESSION_BOMB

PILLOW_DEFAULT = 1024 * 1024 * 1024 // 4 // 3  # Pillow's own, documented value


def reason(data: bytes, max_pixels: int) -> RejectionReason:
    with pytest.raises(PhotoRejected) as rejected:
        inspect_photo(data, extension=".png", max_bytes=1 << 20, max_pixels=max_pixels)
    return rejected.value.reason


def test_a_limit_below_pillows_decides_and_the_global_stays_untouched() -> None:
    assert reason(png_header_claiming(3_000, 3_000), max_pixels=5_000_000) == BOMB
    with pytest.raises(PhotoRejected):
        endpoint_payload(png_header_claiming(3_000, 3_000), side=192, max_pixels=5_000_000)
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT


def test_a_limit_above_pillows_default_is_honoured() -> None:
    """100 MP is past Pillow's warning threshold but within a 150 MP limit: the (truncated) pixel data,
    not the size, is what rejects it."""
    corrupt = RejectionReason.CORRUPT_IMAGE
    assert reason(png_header_claiming(10_000, 10_000), max_pixels=150_000_000) == corrupt
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT


def test_past_twice_pillows_default_pillow_refuses_it_with_the_same_reason() -> None:
    assert reason(png_header_claiming(40_000, 40_000), max_pixels=10**10) == BOMB
