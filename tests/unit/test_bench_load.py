"""bench.load: the photos read once, the uploader's keys and failures, the open-loop pacing."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.load import DRIVERS, Sample, Uploader, load_samples, upload

SAMPLES = [Sample("a.jpg", b"jpeg", ".jpg", "image/jpeg"), Sample("b.png", b"png", ".png", "image/png")]


class FakeS3:
    """Records every put; fails the puts whose index is in `failing`, counted in call order."""

    def __init__(self, failing: set[int] | None = None) -> None:
        self.puts: list[dict[str, Any]] = []
        self.failing = failing or set()
        self._lock = threading.Lock()

    def put_object(self, **params: Any) -> None:
        with self._lock:
            index = len(self.puts)
            self.puts.append(params)
        if index in self.failing:
            raise RuntimeError("throttled")


def test_load_samples_reads_bytes_suffix_and_content_type(tmp_path: Path) -> None:
    # GIVEN a folder with one JPEG and one PNG
    Image.new("RGB", (4, 4)).save(tmp_path / "bike.JPG", format="JPEG")
    Image.new("RGB", (4, 4)).save(tmp_path / "moto.png", format="PNG")

    # WHEN
    samples = sorted(load_samples([tmp_path]), key=lambda s: s.name)

    # THEN
    assert [(s.name, s.suffix, s.content_type) for s in samples] == [
        ("bike.JPG", ".jpg", "image/jpeg"),
        ("moto.png", ".png", "image/png"),
    ]
    assert samples[0].data == (tmp_path / "bike.JPG").read_bytes()


def test_put_spreads_photos_over_drivers_with_fresh_keys() -> None:
    # GIVEN an uploader over two sample photos
    s3 = FakeS3()
    uploader = Uploader(s3, "bucket", SAMPLES, "tput")

    # WHEN photo 0, photo 1 and photo DRIVERS (the same driver as photo 0) are put
    first, second, again = uploader.put(0), uploader.put(1), uploader.put(DRIVERS)

    # THEN keys name the phase and the driver, each key is new, and the photo's bytes and type go along
    assert re.fullmatch(r"photos/tput-000/[0-9a-f]{32}\.jpg", first.key)
    assert second.key.startswith("photos/tput-001/") and second.key.endswith(".png")
    assert again.key.startswith("photos/tput-000/") and again.key != first.key
    assert s3.puts[1] == {"Bucket": "bucket", "Key": second.key, "Body": b"png", "ContentType": "image/png"}
    assert first.start <= first.done


def test_a_failed_put_is_counted_not_raised_and_left_out_of_the_keys() -> None:
    # GIVEN an S3 that fails the second put
    uploader = Uploader(FakeS3(failing={1}), "bucket", SAMPLES, "lat")

    # WHEN three photos are put
    results = [uploader.put(i) for i in range(3)]

    # THEN every put is recorded, the failed one is not ok, and keys() lists only the photos in the bucket
    assert [r.ok for r in results] == [True, False, True]
    assert uploader.keys() == [results[0].key, results[2].key]


def test_upload_at_a_rate_spaces_the_puts_open_loop() -> None:
    # GIVEN 5 photos offered at 50/s: photo i is due at i / 50 s
    uploader = Uploader(FakeS3(), "bucket", SAMPLES, "lat")

    # WHEN
    started = time.monotonic()
    upload(uploader, 5, rate_per_s=50.0, workers=2)
    elapsed = time.monotonic() - started

    # THEN the last photo went no earlier than 4 / 50 s after the first, and all were put
    assert elapsed >= 4 / 50
    assert len(uploader.keys()) == 5
    starts = sorted(r.start for r in uploader.results)
    assert starts[-1] - starts[0] >= 4 / 50 - 0.005


def test_upload_without_a_rate_puts_every_photo_and_returns_the_start() -> None:
    # GIVEN
    uploader = Uploader(FakeS3(), "bucket", SAMPLES, "tput")
    before = time.time()

    # WHEN
    start = upload(uploader, 30, rate_per_s=None, workers=4)

    # THEN
    assert before <= start <= min(r.start for r in uploader.results)
    assert len(set(uploader.keys())) == 30
