"""The load: sample photos read once into memory, and uploads to the bucket at a fixed or unbounded rate."""

from __future__ import annotations

import mimetypes
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driver_routing.uploads import collect_photos

DRIVERS = 20  # photos are spread over this many driver ids, as if each driver sent a few


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    suffix: str
    content_type: str


def load_samples(sources: Sequence[Path]) -> list[Sample]:
    samples = []
    for path in collect_photos(sources):
        suffix = path.suffix.lower()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        samples.append(Sample(path.name, path.read_bytes(), suffix, content_type))
    return samples


@dataclass
class Uploaded:
    key: str
    start: float  # wall clock, when the put began
    done: float  # wall clock, when the put returned
    ok: bool = True


@dataclass
class Uploader:
    """Puts photo `index` under a fresh key of driver `index % DRIVERS`; safe to call from many threads."""

    s3: Any
    bucket: str
    samples: Sequence[Sample]
    prefix: str
    results: list[Uploaded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, index: int) -> Uploaded:
        sample = self.samples[index % len(self.samples)]
        key = f"photos/{self.prefix}-{index % DRIVERS:03d}/{uuid.uuid4().hex}{sample.suffix}"
        start = time.time()
        ok = True
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=sample.data, ContentType=sample.content_type)
        except Exception:
            # A failed put is counted (upload_errors), not raised: one bad put must not end the run.
            ok = False
        result = Uploaded(key, start, time.time(), ok)
        with self._lock:
            self.results.append(result)
        return result

    def keys(self) -> list[str]:
        with self._lock:
            return [u.key for u in self.results if u.ok]


def upload(uploader: Uploader, count: int, *, rate_per_s: float | None, workers: int) -> float:
    """Upload `count` photos: at `rate_per_s` (open loop: photo i is due at i / rate, however slow the
    chain answers) or as fast as the pool goes. Returns the wall-clock start."""
    started = time.time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        if rate_per_s is None:
            list(pool.map(uploader.put, range(count)))
        else:
            t0 = time.monotonic()
            futures = []
            for index in range(count):
                delay = t0 + index / rate_per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(uploader.put, index))
            for future in futures:
                future.result()
    return started
