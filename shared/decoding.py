"""The one decoder of uploaded photos: bytes to an upright RGB picture, then the one resize.

Used by ingest (is it a whole photo?), the classifier (the endpoint payload), the model server and
`evaluate`, so every stage sees the same pixels. Pillow only, plus the HEIF plugin where installed:
the model server's image copies this module without the rest of `shared`.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

try:
    # pi-heif: libheif and libde265 (LGPL), decode only. Registering adds "HEIF" to Image.open.
    from pi_heif import register_heif_opener
except ImportError:  # pragma: no cover - every shipped environment has it; HEIC is then unknown
    HEIF_DECODER = False
else:
    register_heif_opener()
    HEIF_DECODER = True

# Every resize from an upload to the model's square input.
RESAMPLE = Image.Resampling.BILINEAR
# reducing_gap: a cheap box reduction first, then the filter, for images much larger than the target.
REDUCING_GAP = 3.0


class DecodeError(ValueError):
    """The bytes are not a whole image of a known format: truncated, corrupt, hostile."""


class UnknownFormat(DecodeError):
    """No decoder recognises the bytes."""


class UnacceptedFormat(DecodeError):
    """A format the decoder knows and the caller does not take (TIFF, BMP...)."""

    def __init__(self, format_name: str) -> None:
        super().__init__(f"format {format_name} is not accepted")
        self.format = format_name


class ImageTooLarge(ValueError):
    """The image declares more pixels than the decompression-bomb guard allows."""


@dataclass(frozen=True)
class Decoded:
    """An upload decoded: upright RGB, possibly at a reduced JPEG scale, and its size as uploaded."""

    image: Image.Image
    format: str
    width: int
    height: int

    @property
    def native_side(self) -> int:
        """The longer side as uploaded: which of the model's graphs answers depends on it."""
        return max(self.width, self.height)


@contextmanager
def decoder_faults() -> Iterator[None]:
    """Whatever a decoder raises on a hostile file is the file's fault, so it becomes `DecodeError`.

    Pillow and libheif raise OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
    struct.error, zlib.error and their own classes depending on where a file breaks: no list is complete,
    so every `Exception` inside a decoder call counts. The blocks this guards hold decoder calls only.
    A decoder warning (a truncated file Pillow would pad, a bad EXIF block) is an error too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The bomb guard is `max_pixels`, not Pillow's process-wide limit, which stays as it is.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            yield
        except (DecodeError, ImageTooLarge):
            raise
        except Image.DecompressionBombError as error:
            raise ImageTooLarge(str(error)) from error
        except UnidentifiedImageError as error:
            raise UnknownFormat("no known image header") from error
        except Exception as error:
            raise DecodeError(f"{type(error).__name__}: {error}") from error


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header only, and refuse an image declaring more than `max_pixels` before decoding it."""
    with decoder_faults():
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"{width}x{height} is {width * height} pixels, over the {max_pixels} limit")
    return image


def decode(data: bytes, *, side: int, max_pixels: int, accept: Collection[str] | None = None) -> Decoded:
    """One decode: frame 0, at the smallest JPEG scale still >= `side` (DCT scaling: a 12-megapixel photo
    costs a fraction of a full decode), EXIF orientation applied, flattened onto RGB.

    `accept`: the formats to decode (Pillow's names); any other raises `UnacceptedFormat` unread.
    """
    image = open_image(data, max_pixels)
    fmt = str(image.format)
    if accept is not None and fmt not in accept:
        raise UnacceptedFormat(fmt)
    with decoder_faults():
        width, height = image.size
        if fmt in ("JPEG", "MPO"):
            image.draft("RGB", (side, side))
        image.load()
        if orientation(image) in (5, 6, 7, 8):
            width, height = height, width
        upright = ImageOps.exif_transpose(image)
        rgb = to_rgb(upright)
    return Decoded(rgb, fmt, width, height)


def orientation(image: Image.Image) -> int:
    return int(image.getexif().get(0x0112, 1) or 1)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode onto 8-bit RGB: transparency onto white, 16-bit scaled (Pillow would clip), CMYK
    (Adobe's inverted CMYK is undone by Pillow's JPEG decoder) converted."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit samples to 8-bit over the full range: an explicit scale, since convert("L") clips.
        image = image.convert("I").point(lambda v: v / 257).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def resize_square(image: Image.Image, side: int) -> Image.Image:
    """The one resize: the whole frame to side x side, no crop (a vehicle may fill the photo edge to edge)."""
    if image.size == (side, side):
        return image
    return image.resize((side, side), RESAMPLE, reducing_gap=REDUCING_GAP)
