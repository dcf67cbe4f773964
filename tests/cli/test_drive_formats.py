"""`drive` sends every format the API takes (the chain's one table, `shared.formats`), as the phone does."""

from __future__ import annotations

from pathlib import Path

import pytest

from driver_routing.driver_app import DriverAppError, content_type_of
from shared.formats import PHOTO_FORMATS, UPLOAD_CONTENT_TYPES

EXTENSIONS = sorted({ext for fmt in PHOTO_FORMATS for ext in fmt.extensions})


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_drive_takes_every_extension_the_api_takes(extension: str) -> None:
    # GIVEN a photo with an extension of the chain's formats (HEIC, WebP, AVIF and GIF among them)
    # WHEN drive names its type THEN it is one the API's POST /uploads accepts
    assert content_type_of(Path(f"photo{extension.upper()}")) in UPLOAD_CONTENT_TYPES


def test_drive_covers_heic_webp_avif_and_gif() -> None:
    assert {".heic", ".webp", ".avif", ".gif", ".jpg", ".png"} <= set(EXTENSIONS)


@pytest.mark.parametrize("name", ["scan.tiff", "clip.mp4", "notes.txt", "noextension"])
def test_drive_refuses_what_the_api_does_not_take_in_one_sentence(name: str) -> None:
    with pytest.raises(DriverAppError, match="send a photo as"):
        content_type_of(Path(name))
