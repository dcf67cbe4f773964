"""Image decoding and resizing shared by training, evaluation and the server.

The decoding is the chain's own (`shared.decoding`): the classifier's payload, `evaluate` and this
server see the same pixels. Serving needs only Pillow (with the HEIF plugin) and numpy. The same
`to_model_input` turns a 32x32 thumbnail and a 12-megapixel phone photo into the network's square
uint8 input, so training sees exactly what the server will feed the model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from shared.decoding import RESAMPLE, DecodeError, ImageTooLarge, decode, resize_square, to_rgb
from shared.formats import UPLOAD_CONTENT_TYPES

__all__ = [
    "IMAGE_CONTENT_TYPES",
    "MAX_IMAGE_PIXELS",
    "RESAMPLE",
    "ImageDecodeError",
    "ImageTooLargeError",
    "decode_image",
    "decode_sized",
    "load_model_input",
    "load_sized_input",
    "to_model_input",
    "to_rgb",
]

# The decompression-bomb guard: an upload declaring more pixels than this is refused from its header,
# before any decoding. Pillow's own process-wide `Image.MAX_IMAGE_PIXELS` is left alone (other code in
# the process may rely on it); past twice its value Pillow refuses the image itself, with the same answer.
MAX_IMAGE_PIXELS = 50_000_000

# What `POST /invocations` takes as one image: every format a driver may upload, and the generic types
# SageMaker's own image containers take. The bytes, not the declared type, decide how they are decoded.
IMAGE_CONTENT_TYPES = frozenset({*UPLOAD_CONTENT_TYPES, "image/jpg", "image/x-png", "application/x-image"})

# The request-level names the server answers with; the decoder's own classes.
ImageDecodeError = DecodeError
ImageTooLargeError = ImageTooLarge


def decode_image(data: bytes, side: int) -> Image.Image:
    """Image bytes as an upright RGB image, at least `side` pixels on its shorter side when possible."""
    return decode_sized(data, side)[0]


def decode_sized(data: bytes, side: int) -> tuple[Image.Image, int]:
    """`decode_image` and the longer side of the image as uploaded (before any reduced-scale decode)."""
    decoded = decode(data, side=side, max_pixels=MAX_IMAGE_PIXELS)
    return decoded.image, decoded.native_side


def to_model_input(img: Image.Image, side: int) -> NDArray[np.uint8]:
    """The one resize (none for a payload already side x side) to the network's RGB uint8 input."""
    return np.asarray(resize_square(img, side), dtype=np.uint8)


def load_model_input(data: bytes, side: int) -> NDArray[np.uint8]:
    return to_model_input(decode_image(data, side), side)


def load_sized_input(data: bytes, side: int) -> tuple[NDArray[np.uint8], int]:
    """The model input and the upload's longer side (which graph answers depends on it)."""
    img, native_side = decode_sized(data, side)
    return to_model_input(img, side), native_side
