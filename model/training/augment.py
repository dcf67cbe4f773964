"""Training-time augmentation: what phones and thumbnails do to a picture of a vehicle.

Flips, crops, light and colour, grey, tilt, JPEG compression, and down-scaling then up-scaling, so the
model sees 32x32 thumbnails and full photos alike. Pillow and numpy only; every draw comes from the
`random.Random` passed in, so a seed makes a run reproducible.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from model.serving.preprocess import RESAMPLE


def augment(img: Image.Image, side: int, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """One random view of an RGB image, returned at side x side."""
    w, h = img.size
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < 0.25 * strength:
        # down-scale then up-scale: a thumbnail of a thumbnail, or a low-resolution phone crop
        small = rng.randint(max(8, min(w, h) // 2), max(9, min(w, h) - 1))
        img = img.resize((small, max(1, round(small * h / w))), Image.Resampling.BOX).resize((w, h), RESAMPLE)
    if rng.random() < 0.3 * strength:
        # tilt: a phone held at an angle
        img = img.rotate(
            rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, expand=False, fillcolor=None
        )
    # random resized crop, in float coordinates of the source, resized once to the network's side
    scale = rng.uniform(0.65, 1.0) if rng.random() < 0.8 * strength else 1.0
    ratio = rng.uniform(0.8, 1.25)
    cw = min(w, w * (scale * ratio) ** 0.5)
    ch = min(h, h * (scale / ratio) ** 0.5)
    x0 = rng.uniform(0, w - cw)
    y0 = rng.uniform(0, h - ch)
    img = img.resize((side, side), RESAMPLE, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.8 * strength:
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.65, 1.35))
        img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.65, 1.35))
        img = ImageEnhance.Color(img).enhance(rng.uniform(0.5, 1.5))
    if rng.random() < 0.1 * strength:
        img = ImageOps.grayscale(img).convert("RGB")
    if rng.random() < 0.1 * strength:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.3 * strength:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(25, 90))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def mirror_and_shift(img: Image.Image, rng: random.Random, pixels: int = 2) -> Image.Image:
    """The classic CIFAR view: a coin-flip mirror and a shift of up to `pixels` (edges reflected).

    Same size as the input; what the whole-network fine-tune trains on (`experiments/full_finetune.py`).
    """
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if pixels <= 0:
        return img
    w, h = img.size
    padded = np.pad(np.asarray(img), ((pixels, pixels), (pixels, pixels), (0, 0)), mode="reflect")
    dx, dy = rng.randint(0, 2 * pixels), rng.randint(0, 2 * pixels)
    return Image.fromarray(np.ascontiguousarray(padded[dy : dy + h, dx : dx + w]))
