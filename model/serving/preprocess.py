"""Image decoding and resizing shared by training, evaluation and the server.

Serving needs only Pillow and numpy. The same `to_model_input` turns a 32x32 thumbnail and a
12-megapixel phone photo into the network's square uint8 input, so training sees exactly what the
server will feed the model.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

# The decompression-bomb guard: an upload declaring more pixels than this is refused from its header,
# before any decoding. Pillow's own process-wide `Image.MAX_IMAGE_PIXELS` is left alone (other code in
# the process may rely on it); past twice its value Pillow refuses the image itself, with the same answer.
MAX_IMAGE_PIXELS = 50_000_000

# The square side the network sees and the resampling filter used for every resize.
RESAMPLE = Image.Resampling.BILINEAR


class ImageDecodeError(ValueError):
    """The bytes are not a decodable image (unknown format, truncated, corrupt)."""


class ImageTooLargeError(ValueError):
    """The image declares more pixels than the decompression-bomb guard allows."""


def decode_image(data: bytes, side: int) -> Image.Image:
    """Decode image bytes into an RGB image, at least `side` pixels on its shorter side when possible.

    JPEGs are decoded at reduced scale with `draft()` (DCT scaling), so a 12-megapixel photo costs a
    fraction of a full decode. EXIF orientation is applied so a phone's portrait photo stands upright.
    """
    return decode_sized(data, side)[0]


def decode_sized(data: bytes, side: int) -> tuple[Image.Image, int]:
    """`decode_image` and the longer side of the image as uploaded (before any reduced-scale decode)."""
    with warnings.catch_warnings():
        # A decoder warning (truncated data, a bad EXIF block...) becomes an error; Pillow's bomb
        # warning does not, since its global limit is not this guard's.
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size
            native_side = max(w, h)
            if w * h > MAX_IMAGE_PIXELS:
                raise ImageTooLargeError(f"image has {w * h} pixels, over the {MAX_IMAGE_PIXELS} limit")
            if img.format == "JPEG" and hasattr(img, "draft"):
                # draft() picks the largest DCT scale (1/2, 1/4, 1/8) still >= the requested size.
                img.draft("RGB", (side, side))
            img.load()
            img = ImageOps.exif_transpose(img) or img
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(str(exc)) from exc
        except ImageTooLargeError:
            raise
        except UnidentifiedImageError as exc:  # its message names an in-memory buffer, not the file
            raise ImageDecodeError("not an image: no known image header") from exc
        except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError...)
            raise ImageDecodeError(f"cannot decode image: {exc}") from exc
    return to_rgb(img), native_side


def to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode (RGBA, LA, P, L, I;16, CMYK) onto RGB; transparency goes onto white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / peak)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def to_model_input(img: Image.Image, side: int) -> NDArray[np.uint8]:
    """Resize (whole frame, no crop: a vehicle may fill the photo edge to edge) to side x side RGB uint8."""
    if img.size != (side, side):
        # reducing_gap: a cheap box reduction first, then the filter, for images much larger than side.
        img = img.resize((side, side), RESAMPLE, reducing_gap=3.0)
    return np.asarray(img, dtype=np.uint8)


def load_model_input(data: bytes, side: int) -> NDArray[np.uint8]:
    return to_model_input(decode_image(data, side), side)


def load_sized_input(data: bytes, side: int) -> tuple[NDArray[np.uint8], int]:
    """The model input and the upload's longer side (which graph answers depends on it)."""
    img, native_side = decode_sized(data, side)
    return to_model_input(img, side), native_side
