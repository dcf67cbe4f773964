"""Every format a phone sends is accepted and becomes the picture it shows; other files are turned away
with a sentence the driver can act on."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from services.ingest.domain import parse_photo_key
from shared.contracts import PhotoRejected, RejectionReason
from shared.driver_messages import SENTENCES as DRIVER_SENTENCES
from shared.formats import UPLOAD_CONTENT_TYPES, content_type_for, extension_for
from shared.imaging import endpoint_payload, inspect_photo
from tests.format_samples import FormatSample, format_samples, jpeg, unsupported_files

LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 50_000_000}
SIDE = 192
SAMPLES = format_samples()
# Mean absolute difference (0-255) of two payloads: what JPEG q95 at the picture's edges costs is ~1.3;
# a wrong rotation, a wrong frame or an uninverted CMYK is over 20.
SAME_PICTURE = 3.0


def payload_pixels(data: bytes) -> NDArray[np.float64]:
    payload = endpoint_payload(data, side=SIDE, max_pixels=LIMITS["max_pixels"])
    return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"), dtype=np.float64)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_each_format_passes_ingest_with_its_upright_size(sample: FormatSample) -> None:
    # GIVEN a 400x300 picture saved as a phone would save it in this format
    # WHEN ingest checks the upload
    facts = inspect_photo(sample.data, extension=sample.extension, **LIMITS)

    # THEN it is accepted as what it is, upright, with a content type the upload API offers
    assert facts.format == sample.pillow_format
    assert (facts.width, facts.height) == (400, 300)
    assert facts.content_type in UPLOAD_CONTENT_TYPES


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_each_format_reaches_the_endpoint_as_the_same_picture_in_jpeg_would(sample: FormatSample) -> None:
    # GIVEN the picture in this format, and the same upright picture (on white) as a JPEG
    reference = payload_pixels(jpeg(sample.picture))

    # WHEN the classifier makes the endpoint payload of each
    pixels = payload_pixels(sample.data)

    # THEN the endpoint is sent the same picture, within what JPEG itself costs
    assert pixels.shape == reference.shape == (SIDE, SIDE, 3)
    assert np.abs(pixels - reference).mean() < SAME_PICTURE


def test_heic_is_among_the_formats_checked() -> None:
    pytest.importorskip("pillow_heif", reason="the HEIC samples need pillow-heif's encoder (the dev extra)")
    assert {"heic", "heic-exif-rotated-90"} <= {s.name for s in SAMPLES}


def test_the_comparison_tells_a_wrong_orientation_or_frame_apart() -> None:
    # GIVEN the stored (sideways) pixels of a rotated JPEG and the second frame of an animation
    by_name = {s.name: s for s in SAMPLES}
    rotated = by_name["jpeg-exif-rotated-90"].picture.transpose(Image.Transpose.ROTATE_90)
    inverted = Image.eval(by_name["webp-animated"].picture, lambda v: 255 - v)
    reference = payload_pixels(jpeg(by_name["jpeg"].picture))

    # WHEN they are compared with the upright first frame
    # THEN they are far from it: the tolerance above would catch a decoder that ignored EXIF or frames
    assert np.abs(payload_pixels(jpeg(rotated)) - reference).mean() > 5 * SAME_PICTURE
    assert np.abs(payload_pixels(jpeg(inverted)) - reference).mean() > 5 * SAME_PICTURE


@pytest.mark.parametrize(("name", "upload"), unsupported_files().items(), ids=list(unsupported_files()))
def test_files_we_do_not_read_are_an_unsupported_format_with_a_sentence(
    name: str, upload: tuple[str, bytes]
) -> None:
    # GIVEN a file that is no photo we read (by its name or, under a photo's name, by its bytes)
    extension, data = upload

    # WHEN ingest looks at its key, then at its bytes
    with pytest.raises(PhotoRejected) as rejected:
        parse_photo_key(f"photos/d-1/upload{extension}")
        inspect_photo(data, extension=extension, **LIMITS)

    # THEN it is an unsupported format, and the detail tells the driver what to send instead
    assert rejected.value.reason == RejectionReason.UNSUPPORTED_FORMAT
    assert rejected.value.detail.startswith("This file is ")
    assert "send a photo from the camera as JPEG, HEIC" in rejected.value.detail


def test_a_small_image_is_sent_with_its_true_pixels() -> None:
    # GIVEN a 32x32 thumbnail with fine detail
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")

    # WHEN the classifier makes its payload
    payload = endpoint_payload(out.getvalue(), side=SIDE, max_pixels=LIMITS["max_pixels"])

    # THEN the endpoint gets every pixel as it was, at its size (so the thumbnail graph answers)
    sent = Image.open(io.BytesIO(payload))
    assert (sent.format, sent.size) == ("PNG", (32, 32))
    assert np.array_equal(np.asarray(sent), pixels)


def test_the_upload_api_can_name_a_key_for_every_content_type_it_offers() -> None:
    # GIVEN the content types the upload API lists
    # WHEN it names the key of an upload of each
    extensions = {content_type: extension_for(content_type) for content_type in UPLOAD_CONTENT_TYPES}

    # THEN ingest accepts that key, and the extension maps back to a type of the same format
    for extension in extensions.values():
        assert parse_photo_key(f"photos/d-1/u{extension}").extension == extension
        assert content_type_for(extension) in UPLOAD_CONTENT_TYPES
    assert extensions["image/heic"] == ".heic"
    assert extension_for("image/jpeg; charset=binary") == ".jpg"
    with pytest.raises(KeyError):
        extension_for("image/tiff")


def test_every_photo_rejection_has_a_sentence_for_the_driver() -> None:
    content_reasons = {
        RejectionReason.UNSUPPORTED_FORMAT,
        RejectionReason.CORRUPT_IMAGE,
        RejectionReason.NOT_AN_IMAGE,
        RejectionReason.EXTENSION_MISMATCH,
    }
    assert content_reasons <= DRIVER_SENTENCES.keys()
    assert all(sentence.endswith(".") for sentence in DRIVER_SENTENCES.values())
