"""Each kind of bad photo gets its own reason; a big phone photo is resized, not rejected.

`inspect_photo` (ingest) judges the header; what only a full decode finds (truncation, a corrupt body) is
found by `endpoint_payload` (the classifier)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shared.contracts import PhotoRejected, RejectionReason
from shared.imaging import endpoint_payload, inspect_photo
from tests.samples import image_bytes, png_header_claiming

LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 50_000_000}


def rejection(data: bytes, extension: str = ".jpg", **limits: int) -> RejectionReason:
    with pytest.raises(PhotoRejected) as rejected:
        inspect_photo(data, extension=extension, **{**LIMITS, **limits})
    return rejected.value.reason


def decode_rejection(data: bytes) -> RejectionReason:
    # GIVEN a photo whose header passed ingest
    # WHEN the classifier decodes it for the endpoint, THEN it is rejected with this reason
    with pytest.raises(PhotoRejected) as rejected:
        endpoint_payload(data, side=192, max_pixels=LIMITS["max_pixels"])
    return rejected.value.reason


def test_a_good_jpeg_and_png_pass_with_their_facts() -> None:
    facts = inspect_photo(image_bytes("JPEG", (640, 480)), extension=".jpeg", **LIMITS)
    assert (facts.format, facts.content_type, facts.width, facts.height) == ("JPEG", "image/jpeg", 640, 480)
    assert inspect_photo(image_bytes("PNG"), extension=".PNG", **LIMITS).content_type == "image/png"


def test_zero_bytes() -> None:
    assert rejection(b"") == RejectionReason.EMPTY_OBJECT


def test_not_an_image() -> None:
    assert rejection(b"just some words, not a photo\n" * 10) == RejectionReason.NOT_AN_IMAGE


def test_a_pdf_is_a_format_we_do_not_take() -> None:
    assert rejection(b"%PDF-1.7 definitely not a photo" * 10) == RejectionReason.UNSUPPORTED_FORMAT


def test_an_image_of_a_format_we_do_not_take() -> None:
    assert rejection(image_bytes("BMP"), ".jpg") == RejectionReason.UNSUPPORTED_FORMAT


def test_truncated_jpeg() -> None:
    whole = image_bytes("JPEG", (800, 600))
    assert decode_rejection(whole[: len(whole) // 2]) == RejectionReason.CORRUPT_IMAGE


def test_a_header_cut_short_is_corrupt() -> None:
    assert rejection(image_bytes("JPEG", (800, 600))[:40]) == RejectionReason.CORRUPT_IMAGE


def test_truncated_png() -> None:
    out = io.BytesIO()
    Image.effect_noise((300, 300), 64).convert("RGB").save(out, format="PNG")
    whole = out.getvalue()
    assert decode_rejection(whole[: len(whole) // 2]) == RejectionReason.CORRUPT_IMAGE


def test_corrupt_jpeg_body() -> None:
    whole = bytearray(image_bytes("JPEG", (400, 300)))
    whole[200:600] = b"\xff" * 400
    assert decode_rejection(bytes(whole)) in (RejectionReason.CORRUPT_IMAGE, RejectionReason.NOT_AN_IMAGE)


def test_decompression_bomb() -> None:
    assert rejection(png_header_claiming(40_000, 40_000), ".png") == RejectionReason.DECOMPRESSION_BOMB


def test_too_many_bytes() -> None:
    assert rejection(image_bytes("JPEG"), max_bytes=100) == RejectionReason.TOO_LARGE


def test_an_extension_that_lies() -> None:
    assert rejection(image_bytes("PNG"), ".jpg") == RejectionReason.EXTENSION_MISMATCH
    assert rejection(image_bytes("JPEG"), ".png") == RejectionReason.EXTENSION_MISMATCH


def test_a_12_megapixel_phone_photo_is_resized_far_below_the_payload_limit() -> None:
    photo = image_bytes("JPEG", (4000, 3000), (90, 120, 200))
    inspect_photo(photo, extension=".jpg", **LIMITS)
    payload = endpoint_payload(photo, side=192, max_pixels=LIMITS["max_pixels"])
    resized = Image.open(io.BytesIO(payload))
    assert resized.format == "PNG"
    assert resized.size == (192, 192)
    assert len(payload) < 100_000


def test_a_thumbnail_is_not_upscaled() -> None:
    payload = endpoint_payload(image_bytes("PNG", (32, 32)), side=192, max_pixels=LIMITS["max_pixels"])
    assert Image.open(io.BytesIO(payload)).size == (32, 32)
