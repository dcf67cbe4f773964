"""Photo checks and resizing with Pillow: pure functions on bytes, no AWS."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from shared.contracts import RejectionReason

# Pillow's format names for what the service accepts, and the extensions that may carry them.
ACCEPTED_FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
}
CONTENT_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png"}


class PhotoRejected(Exception):
    """A photo the service will never route: the reason goes on the record, the batch goes on."""

    def __init__(self, reason: RejectionReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageFacts:
    format: str
    content_type: str
    width: int
    height: int


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open with the decompression-bomb guard raised to an error at `max_pixels`."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoRejected(RejectionReason.DECOMPRESSION_BOMB, str(error)) from error
    except UnidentifiedImageError as error:
        raise PhotoRejected(RejectionReason.NOT_AN_IMAGE, "no known image header") from error
    except (OSError, SyntaxError, ValueError) as error:  # a header cut short
        raise PhotoRejected(RejectionReason.CORRUPT_IMAGE, str(error)) from error


def _decode(image: Image.Image, max_side: int) -> Image.Image:
    """Decode every byte (so truncation shows), at a reduced JPEG scale where that is enough."""
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoRejected(RejectionReason.DECOMPRESSION_BOMB, str(error)) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise PhotoRejected(RejectionReason.CORRUPT_IMAGE, str(error)) from error
    return image


def inspect_photo(
    data: bytes, *, extension: str, max_bytes: int, max_pixels: int, size: int | None = None
) -> ImageFacts:
    """Check from its header that `data` is a JPEG or PNG of sane size whose extension tells the truth.

    `data` may be the object's first bytes only (`size` is then the whole object's): the header holds
    the format and the dimensions, which is all this needs. Whether every byte decodes is found where
    the photo is decoded anyway, in `prepare_for_endpoint` (`corrupt-image`)."""
    size = len(data) if size is None else size
    if not data or size == 0:
        raise PhotoRejected(RejectionReason.EMPTY_OBJECT)
    if size > max_bytes:
        raise PhotoRejected(RejectionReason.TOO_LARGE, f"{size} bytes > {max_bytes}")
    image = _open(data, max_pixels)
    if image.format not in ACCEPTED_FORMATS:
        raise PhotoRejected(RejectionReason.NOT_AN_IMAGE, f"format {image.format} is not accepted")
    if extension.lower() not in ACCEPTED_FORMATS[image.format]:
        raise PhotoRejected(
            RejectionReason.EXTENSION_MISMATCH, f"extension {extension!r} but content is {image.format}"
        )
    width, height = image.size
    return ImageFacts(image.format, CONTENT_TYPES[image.format], width, height)


def prepare_for_endpoint(data: bytes, *, max_side: int, max_pixels: int, quality: int = 90) -> bytes:
    """A JPEG whose longer side is at most `max_side`: far below the 6 MB real-time payload limit.

    Small images (a 32x32 thumbnail) are sent as they are re-encoded, never up-scaled here: the model
    server owns the resize to its input size.
    """
    image = _decode(_open(data, max_pixels), max_side=max_side)
    rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality)
    return out.getvalue()
