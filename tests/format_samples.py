"""The same picture in every format a phone may send, made on the fly (no image is committed).

Each sample holds the bytes an upload carries and the upright RGB picture a correct decoder must see:
the tests compare what the chain makes of the first with what it makes of the second as a JPEG.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec

import numpy as np
from PIL import Image, ImageDraw, ImageOps

JPEG_QUALITY = 95
# pillow-heif (the dev extra) encodes the HEIC samples; without it they are left out, the rest stay.
HEIC_ENCODER = find_spec("pillow_heif") is not None
# How a camera held sideways stores the pixels, per EXIF orientation it then writes.
_STORED_TURNS = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def scene(size: tuple[int, int] = (400, 300), seed: int = 0) -> Image.Image:
    """A photo-like picture: smooth sky and ground, a few solid shapes, mild noise. Not symmetric, so a
    wrong rotation or mirror changes it."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    sky = np.stack([90 + 60 * y / height, 140 + 40 * y / height, 230 - 50 * y / height], axis=-1)
    ground = np.stack([70 + 80 * x / width, 110 + 20 * y / height, 60 + 0 * x], axis=-1)
    pixels = np.where((y > height * 0.6)[..., None], ground, sky)
    pixels += rng.normal(0, 4, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.15, height * 0.5, width * 0.35, height * 0.8), outline=(20, 20, 20), width=6)
    draw.ellipse((width * 0.55, height * 0.5, width * 0.75, height * 0.8), outline=(20, 20, 20), width=6)
    draw.polygon([(width * 0.25, height * 0.65), (width * 0.45, height * 0.4), (width * 0.65, height * 0.65)])
    draw.rectangle((width * 0.8, height * 0.05, width * 0.95, height * 0.2), fill=(250, 220, 40))
    return image


def jpeg(image: Image.Image, **options: object) -> bytes:
    return save(image, "JPEG", quality=JPEG_QUALITY, **options)


def save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def heic(image: Image.Image, orientation: int = 1) -> bytes:
    """HEIC through pillow-heif's encoder (x265, GPL): a test-only dependency, never shipped. With an
    orientation, the pixels are stored turned and the EXIF tag says how to stand them up (an iPhone's)."""
    import pillow_heif

    exif = Image.Exif()
    if orientation != 1:
        image = image.transpose(_STORED_TURNS[orientation])
        exif[0x0112] = orientation
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=95, exif=exif.tobytes())
    return out.getvalue()


def png_16bit_rgb(image: Image.Image) -> bytes:
    """A 48-bit RGB PNG (Pillow writes none): every 8-bit sample v becomes 257 * v."""
    samples = np.asarray(image.convert("RGB"), dtype=">u2") * 257
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + samples[row].tobytes() for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(rows)),
            chunk(b"IEND", b""),
        ]
    )


def png_16bit_grey(image: Image.Image) -> bytes:
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    return save(Image.fromarray(grey), "PNG")


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    """A JPEG stored the way a phone held sideways stores it: pixels turned, the EXIF tag says how to
    stand it up again."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg(image.transpose(_STORED_TURNS[orientation]), exif=exif)


def on_white(image: Image.Image, alpha: Image.Image) -> Image.Image:
    white = Image.new("RGB", image.size, (255, 255, 255))
    return Image.composite(image, white, alpha)


def transparent(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The picture with its left third transparent, and what it looks like on white."""
    alpha = Image.new("L", image.size, 255)
    ImageDraw.Draw(alpha).rectangle((0, 0, image.width // 3, image.height), fill=0)
    rgba = image.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba, on_white(image, alpha)


def animated(image: Image.Image, fmt: str, **options: object) -> bytes:
    """Two frames, the picture first: only frame 0 must count."""
    other = ImageOps.invert(image)
    return save(image, fmt, save_all=True, append_images=[other], duration=100, loop=0, **options)


def adobe_cmyk(image: Image.Image) -> bytes:
    """A CMYK JPEG as Photoshop writes it: Pillow stores CMYK inverted with an Adobe APP14 marker."""
    data = jpeg(image.convert("CMYK"))
    assert b"Adobe" in data[:4096]
    return data


@dataclass(frozen=True)
class FormatSample:
    name: str
    extension: str
    data: bytes
    # What the decoder must see: the upright picture, on white where it was transparent.
    picture: Image.Image
    pillow_format: str


def format_samples(
    size: tuple[int, int] = (400, 300), picture: Image.Image | None = None
) -> list[FormatSample]:
    """The picture (`scene(size)` unless given) in every accepted format."""
    picture = scene(size) if picture is None else picture.convert("RGB")
    grey = picture.convert("L").convert("RGB")
    rgba, flattened = transparent(picture)
    palette = picture.quantize(256)
    makers: list[tuple[str, str, Callable[[], bytes], Image.Image, str]] = [
        ("jpeg", ".jpg", lambda: jpeg(picture), picture, "JPEG"),
        ("png", ".png", lambda: save(picture, "PNG"), picture, "PNG"),
        ("png-16bit-rgb", ".png", lambda: png_16bit_rgb(picture), picture, "PNG"),
        ("png-16bit-grey", ".png", lambda: png_16bit_grey(picture), grey, "PNG"),
        ("png-palette", ".png", lambda: save(palette, "PNG"), palette.convert("RGB"), "PNG"),
        ("png-transparent", ".png", lambda: save(rgba, "PNG"), flattened, "PNG"),
        ("jpeg-grey", ".jpg", lambda: jpeg(picture.convert("L")), grey, "JPEG"),
        ("jpeg-exif-rotated-90", ".jpg", lambda: with_orientation(picture, 6), picture, "JPEG"),
        ("jpeg-exif-rotated-270", ".jpeg", lambda: with_orientation(picture, 8), picture, "JPEG"),
        ("jpeg-cmyk-adobe", ".jpg", lambda: adobe_cmyk(picture), picture, "JPEG"),
        ("mpo", ".jpg", lambda: animated(picture, "MPO", quality=JPEG_QUALITY), picture, "MPO"),
        ("webp", ".webp", lambda: save(picture, "WEBP", quality=95), picture, "WEBP"),
        ("webp-lossless", ".webp", lambda: save(picture, "WEBP", lossless=True), picture, "WEBP"),
        ("webp-transparent", ".webp", lambda: save(rgba, "WEBP", lossless=True), flattened, "WEBP"),
        ("webp-animated", ".webp", lambda: animated(picture, "WEBP", lossless=True), picture, "WEBP"),
        ("avif", ".avif", lambda: save(picture, "AVIF", quality=95), picture, "AVIF"),
        ("heic", ".heic", lambda: heic(picture), picture, "HEIF"),
        ("heic-exif-rotated-90", ".heic", lambda: heic(picture, 6), picture, "HEIF"),
        ("gif", ".gif", lambda: save(palette, "GIF"), palette.convert("RGB"), "GIF"),
        ("gif-animated", ".gif", lambda: animated(palette, "GIF"), palette.convert("RGB"), "GIF"),
    ]
    return [
        FormatSample(name, ext, make(), ref, fmt)
        for name, ext, make, ref, fmt in makers
        if HEIC_ENCODER or fmt != "HEIF"
    ]


def unsupported_files() -> dict[str, tuple[str, bytes]]:
    """Files a driver may send that are not photos we read: name -> (extension, bytes)."""
    picture = scene((120, 90))
    return {
        "pdf": (".pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 4),
        "svg": (".svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>\n'),
        "tiff": (".tiff", save(picture, "TIFF")),
        "tiff-named-jpg": (".jpg", save(picture, "TIFF")),
        "raw-dng": (".dng", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 200),
        "raw-cr3": (".cr3", b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + b"\x00" * 200),
        "video-mov": (".mov", b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 200),
        "video-mp4-named-heic": (".heic", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 99),
        "bmp": (".bmp", save(picture, "BMP")),
    }
