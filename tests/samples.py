"""Photos and bad inputs made on the fly for the tests (no image is committed)."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from dataclasses import dataclass

from PIL import Image


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def noisy_image(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (96, 72)) -> bytes:
    """A unique image per seed: random blocks of colour."""
    rng = random.Random(seed)
    small = Image.new("RGB", (8, 6))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(48)])
    out = io.BytesIO()
    small.resize(size, Image.Resampling.NEAREST).save(out, format=fmt)
    return out.getvalue()


def tiff_bytes(seed: int) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(noisy_image(seed, "PNG", (64, 48)))).save(out, format="TIFF")
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image: a decompression bomb in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class BadUpload:
    """An upload the chain must reject: where it goes (relative to a driver), what it holds, and why."""

    kind: str
    key: str
    body: bytes | None  # None: the notification names an object that is gone by the time ingest reads it
    reason: str
    # Which stage rejects it: ingest reads only the header, the classifier decodes every byte.
    stage: str = "ingest"


def bad_uploads(driver_id: str, seed: int, *, too_large_bytes: int) -> list[BadUpload]:
    """One of each kind of bad input, keys unique per seed."""
    whole = noisy_image(seed, "JPEG", (640, 480))
    png = noisy_image(seed, "PNG", (300, 300))
    base = f"photos/{driver_id}/bad-{seed}"
    return [
        BadUpload("zero bytes", f"{base}-empty.jpg", b"", "empty-object"),
        BadUpload("not an image", f"{base}-text.jpg", b"just some text, not a photo\n" * 20, "not-an-image"),
        BadUpload(
            "truncated jpeg", f"{base}-cut.jpg", whole[: len(whole) // 3], "corrupt-image", "classifier"
        ),
        BadUpload("truncated png", f"{base}-cut.png", png[: len(png) // 2], "corrupt-image", "classifier"),
        BadUpload(
            "decompression bomb",
            f"{base}-bomb.png",
            png_header_claiming(40_000, 40_000),
            "decompression-bomb",
        ),
        BadUpload("too large", f"{base}-huge.jpg", whole + b"\0" * too_large_bytes, "too-large"),
        BadUpload("lying extension", f"{base}-lies.png", whole, "extension-mismatch"),
        BadUpload("invalid driver id", f"photos/bad%driver!{seed}/a.jpg", whole, "invalid-driver-id"),
        BadUpload("key outside the pattern", f"photos/{driver_id}/deeper/{seed}.jpg", whole, "bad-key"),
        BadUpload("unsupported extension", f"{base}.txt", whole, "unsupported-extension"),
        BadUpload("a pdf", f"{base}.pdf", b"%PDF-1.7\n" + whole, "unsupported-format"),
        BadUpload("a tiff named as a jpeg", f"{base}-tiff.jpg", tiff_bytes(seed), "unsupported-format"),
        BadUpload("jpeg cut inside its header", f"{base}-head.jpg", whole[:200], "corrupt-image"),
        BadUpload("deleted before processing", f"{base}-gone.jpg", None, "object-missing"),
    ]


def s3_notification(
    bucket: str, key: str, etag: str, size: int, event_time: str = "2026-11-25T09:00:00.000Z"
) -> str:
    """An S3 ObjectCreated notification as S3 would send it again (keys URL-encoded, spaces as +)."""
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag},
        },
    }
    return json.dumps({"Records": [record]})
