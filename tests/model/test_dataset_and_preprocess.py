"""Labels from manifest or folder names; decoding rules shared by training and serving."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.dataset import default_data_dir, load_samples
from model.serving.preprocess import ImageDecodeError, ImageTooLargeError, decode_image, load_model_input
from tests.samples import noisy_image, png_header_claiming

MAX_IMAGE_PIXELS_DEFAULT = 1024 * 1024 * 1024 // 4 // 3  # Pillow's own, documented value


def test_labels_from_folder_names(tmp_path: Path) -> None:
    for cls in ("bicycle", "motorcycle"):
        (tmp_path / "x" / cls).mkdir(parents=True)
        (tmp_path / "x" / cls / "a.jpg").write_bytes(noisy_image(1))
    (tmp_path / "x" / "notes.txt").write_text("ignored")
    samples = load_samples(tmp_path)
    assert [(s.path.parent.name, s.label) for s in samples] == [("bicycle", 0), ("motorcycle", 1)]


def test_no_images_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_samples(tmp_path)


def test_env_var_wins_for_data_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_DATA_DIR", str(tmp_path))
    assert default_data_dir("SOME_DATA_DIR", "nope") == tmp_path


def test_jpeg_is_decoded_at_reduced_scale_and_exif_orientation_applied() -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1200, 1600, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: the stored landscape is a portrait
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    decoded = decode_image(out.getvalue(), 224)
    assert decoded.mode == "RGB"
    assert decoded.size[0] < decoded.size[1]  # upright portrait
    assert min(decoded.size) >= 224 and max(decoded.size) <= 800  # draft() scaled by 1/2 or 1/4
    assert load_model_input(out.getvalue(), 224).shape == (224, 224, 3)


def test_transparent_png_goes_onto_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(out, format="PNG")
    assert decode_image(out.getvalue(), 8).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"hello", ImageDecodeError),
        (noisy_image(1, "PNG", (200, 200))[:200], ImageDecodeError),
        (png_header_claiming(20_000, 20_000), ImageTooLargeError),
    ],
)
def test_bad_bytes_raise_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data, 224)


def test_the_pixel_guard_is_the_servers_own_and_leaves_pillows_global_alone() -> None:
    pillow_default = Image.MAX_IMAGE_PIXELS
    # 63 MP: under Pillow's default guard, over the server's 50 MP
    with pytest.raises(ImageTooLargeError, match="over the 50000000 limit"):
        decode_image(png_header_claiming(9_000, 7_000), 224)
    # 1.6 GP: Pillow refuses it itself (over twice its default), with the same error kind
    with pytest.raises(ImageTooLargeError):
        decode_image(png_header_claiming(40_000, 40_000), 224)
    assert Image.MAX_IMAGE_PIXELS == pillow_default == MAX_IMAGE_PIXELS_DEFAULT
