"""Photo checks and the endpoint payload: pure functions on bytes, no AWS.

Decoding is `shared.decoding`'s, the formats `shared.formats`'s; this module turns what they find into
the chain's rejections, and makes the one payload both the classifier and `evaluate` send.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from shared.contracts import PhotoRejected, RejectionReason
from shared.decoding import (
    Decoded,
    DecodeError,
    ImageTooLarge,
    UnacceptedFormat,
    UnknownFormat,
    decode,
    decoder_faults,
    open_image,
    orientation,
    resize_square,
)
from shared.driver_messages import SENT_AS
from shared.formats import ACCEPTED, PHOTO_FORMATS, sniff_unsupported

# The endpoint payload is always a PNG: lossless, so the model sees the pixels this module made.
PAYLOAD_CONTENT_TYPE = "image/png"
# zlib level 1: a 192 px square encodes in about a millisecond; higher levels save bytes nobody pays for.
PNG_COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class ImageFacts:
    format: str
    content_type: str
    width: int
    height: int


def unsupported(what: str) -> PhotoRejected:
    """The rejection for a file we know and do not read (`what`: "a PDF document"); its detail is the
    sentence the driver is told."""
    return PhotoRejected(
        RejectionReason.UNSUPPORTED_FORMAT,
        f"This file is {what}, which we cannot read: send a photo from the camera as {SENT_AS}.",
    )


@contextmanager
def rejections() -> Iterator[None]:
    """The decoder's verdicts as the chain's rejection reasons."""
    try:
        yield
    except ImageTooLarge as error:
        raise PhotoRejected(RejectionReason.DECOMPRESSION_BOMB, str(error)) from error
    except UnacceptedFormat:
        raise
    except UnknownFormat as error:
        raise PhotoRejected(RejectionReason.NOT_AN_IMAGE, str(error)) from error
    except DecodeError as error:
        raise PhotoRejected(RejectionReason.CORRUPT_IMAGE, str(error)[:500]) from error


def decode_photo(data: bytes, *, side: int, max_pixels: int) -> Decoded:
    """Decode an upload of an accepted format, or reject it with the reason the driver is told."""
    what = sniff_unsupported(data)
    if what:
        raise unsupported(what)
    try:
        with rejections():
            return decode(data, side=side, max_pixels=max_pixels, accept=ACCEPTED)
    except UnacceptedFormat as error:
        raise unsupported(f"a {error.format} image") from error


def inspect_photo(
    data: bytes, *, extension: str, max_bytes: int, max_pixels: int, size: int | None = None
) -> ImageFacts:
    """Check from its header that `data` is a photo of an accepted format and sane size, named for what
    it is.

    `data` may be the object's first bytes only (`size` is then the whole object's): the header holds the
    format, the dimensions and the EXIF orientation, which is all this needs. Whether every byte decodes
    is found where the photo is decoded anyway, in `endpoint_payload` (`corrupt-image`), with the same
    decoder and the same rejections."""
    size = len(data) if size is None else size
    if not data or size == 0:
        raise PhotoRejected(RejectionReason.EMPTY_OBJECT)
    if size > max_bytes:
        raise PhotoRejected(RejectionReason.TOO_LARGE, f"{size} bytes > {max_bytes}")
    what = sniff_unsupported(data)
    if what:
        raise unsupported(what)
    with rejections():
        image = open_image(data, max_pixels)
        with decoder_faults():
            fmt, (width, height), turned = str(image.format), image.size, orientation(image) in (5, 6, 7, 8)
    photo_format = ACCEPTED.get(fmt)
    if photo_format is None:
        raise unsupported(f"a {fmt} image")
    if extension.lower() not in photo_format.extensions:
        raise PhotoRejected(
            RejectionReason.EXTENSION_MISMATCH, f"extension {extension!r} but content is {fmt}"
        )
    if turned:
        width, height = height, width
    return ImageFacts(fmt, photo_format.content_type, width, height)


def endpoint_payload(data: bytes, *, side: int, max_pixels: int) -> bytes:
    """What the endpoint is sent for an upload: the classifier's and `evaluate`'s, byte for byte.

    One decode (frame 0, JPEG draft, EXIF orientation, onto RGB); an image larger than `side` gets the
    one resize, to the model's side x side input, so the server resizes no more; a smaller one (a 32 px
    thumbnail) keeps its true pixels and size, which route it to the thumbnail graph. Then PNG, which
    the server reads whatever the upload was (HEIC, AVIF...). At most 3 bytes a pixel plus headers:
    a 1024 px side stays far below SageMaker's 6 MB payload limit.
    """
    decoded = decode_photo(data, side=side, max_pixels=max_pixels)
    image = decoded.image if max(decoded.image.size) <= side else resize_square(decoded.image, side)
    return encode_png(image)


def encode_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


__all__ = [
    "PAYLOAD_CONTENT_TYPE",
    "PHOTO_FORMATS",
    "ImageFacts",
    "PhotoRejected",
    "decode_photo",
    "endpoint_payload",
    "inspect_photo",
]
