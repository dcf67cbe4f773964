"""Perturbed copies of a picture: what phones do to a photo of a vehicle every day, one kind at a time.

`augment.augment` draws a mixture of these at random for training views; here each kind is applied
alone and at a fixed, noticeable strength, so a held-out check can say which kind a model fails on.
A copy keeps the picture's size (a 32 px thumbnail stays one, and so stays on the thumbnail graph) and
comes back as the bytes a phone would send: PNG, or JPEG for `jpeg`, and `chain_input` makes of those
bytes what the chain makes of an upload (the classifier's payload, the server's decode). Every draw
comes from a seeded generator.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance, ImageOps, ImageStat

from model.serving.preprocess import RESAMPLE, load_sized_input
from shared.imaging import endpoint_payload

PAYLOAD_SIDE = 192  # the classifier's ENDPOINT_IMAGE_SIDE default
PAYLOAD_MAX_PIXELS = 50_000_000  # and its MAX_PHOTO_PIXELS


def _light(img: Image.Image, rng: random.Random) -> Image.Image:
    """Sun or flash: brighter and flatter."""
    bright = ImageEnhance.Brightness(img).enhance(rng.uniform(1.4, 1.7))
    return ImageEnhance.Contrast(bright).enhance(rng.uniform(0.7, 0.85))


def _dim(img: Image.Image, rng: random.Random) -> Image.Image:
    """A loading bay at dusk: darker, less contrast."""
    dark = ImageEnhance.Brightness(img).enhance(rng.uniform(0.35, 0.55))
    return ImageEnhance.Contrast(dark).enhance(rng.uniform(0.75, 0.9))


def _grey(img: Image.Image, rng: random.Random) -> Image.Image:
    """A phone's mono mode, or a colourless sodium-lit yard."""
    return ImageOps.grayscale(img).convert("RGB")


def _crop(img: Image.Image, rng: random.Random) -> Image.Image:
    """Framed too tight: 60-80% of the area, off centre, back to the picture's size."""
    w, h = img.size
    scale = rng.uniform(0.6, 0.8) ** 0.5
    cw, ch = w * scale, h * scale
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    return img.resize((w, h), RESAMPLE, box=(x0, y0, x0 + cw, y0 + ch))


def _tilt(img: Image.Image, rng: random.Random) -> Image.Image:
    """Held at an angle: 8-15 degrees either way, the corners filled with the picture's mean colour."""
    angle = rng.uniform(8, 15) * rng.choice((-1, 1))
    fill = tuple(round(c) for c in ImageStat.Stat(img).mean[:3])
    return img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)


def _mirror(img: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(img)


def _jpeg(img: Image.Image, rng: random.Random) -> Image.Image:
    return img  # the compression happens in `perturbed_bytes`


KINDS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "light": _light,
    "dim": _dim,
    "grey": _grey,
    "crop": _crop,
    "tilt": _tilt,
    "mirror": _mirror,
    "jpeg": _jpeg,
}
JPEG_QUALITY = (10, 20)  # heavy compression: a messaging app's, on a weak connection


def perturbed(img: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    """`img` (RGB) with one kind of perturbation applied, same size."""
    return KINDS[kind](img, rng)


def perturbed_bytes(img: Image.Image, kind: str, rng: random.Random) -> bytes:
    """The file a phone would send for `img` perturbed by `kind`: JPEG for `jpeg`, else PNG."""
    out = io.BytesIO()
    copy = perturbed(img, kind, rng)
    if kind == "jpeg":
        copy.save(out, format="JPEG", quality=rng.randint(*JPEG_QUALITY))
    else:
        copy.save(out, format="PNG")
    return out.getvalue()


def seeded(seed: int, index: int, kind: str) -> random.Random:
    """The generator for copy `kind` of image `index`: the same copy whatever else is drawn."""
    return random.Random(f"{seed}:{index}:{kind}")


def chain_input(data: bytes, side: int) -> NDArray[np.uint8]:
    """A file's model input the way the chain makes it: the classifier's payload, the server's decode."""
    payload = endpoint_payload(data, side=PAYLOAD_SIDE, max_pixels=PAYLOAD_MAX_PIXELS)
    return load_sized_input(payload, side)[0]


def copies_of_kind(
    pictures: list[Image.Image], idx: NDArray[np.int64], kind: str, side: int, seed: int
) -> NDArray[np.uint8]:
    """Model inputs of one `kind` of copy of each picture in `idx`, through the chain's decode."""
    return np.stack(
        [chain_input(perturbed_bytes(pictures[i], kind, seeded(seed, int(i), kind)), side) for i in idx]
    )


def one_copy_each(
    pictures: list[Image.Image], idx: NDArray[np.int64], side: int, seed: int
) -> NDArray[np.uint8]:
    """Model inputs of one perturbed copy of each picture in `idx`, its kind drawn per picture."""
    kinds = list(KINDS)
    chosen = np.random.RandomState(seed % 2**32).randint(len(kinds), size=len(idx))
    return np.stack(
        [
            chain_input(perturbed_bytes(pictures[i], kinds[c], seeded(seed, int(i), kinds[c])), side)
            for i, c in zip(idx, chosen, strict=True)
        ]
    )
