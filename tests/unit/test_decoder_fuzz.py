"""Hostile files: whatever a decoder raises on a damaged upload ends as a rejection, never as an error
that fails the record (SQS would redeliver it into the DLQ with no decision)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

from model.serving.preprocess import ImageDecodeError, ImageTooLargeError, load_sized_input
from shared.contracts import PhotoRejected
from shared.imaging import endpoint_payload, inspect_photo
from tests.format_samples import FormatSample, format_samples

SEED = 20261201
PER_FORMAT = 160  # x 20 formats: 3,200 damaged files, a few seconds
LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 50_000_000}


def damaged(sample: FormatSample, others: list[bytes], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Truncated (inside the header and inside the data), bit-flipped, and spliced copies of a file."""
    data = sample.data
    for _ in range(PER_FORMAT // 4):
        cut = rng.choice([rng.randrange(1, min(len(data), 600)), rng.randrange(1, len(data))])
        yield "truncated", data[:cut]
    for _ in range(PER_FORMAT // 4):
        flipped = bytearray(data)
        # Most damage lands near the start, where the headers and tables a decoder trusts are.
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(min(len(data), 1024)) if rng.random() < 0.7 else rng.randrange(len(data))
            flipped[at] ^= 1 << rng.randrange(8)
        yield "bit-flipped", bytes(flipped)
    for _ in range(PER_FORMAT // 4):
        other = rng.choice(others)
        head, tail = rng.randrange(1, len(data)), rng.randrange(len(other))
        yield "spliced", data[:head] + other[tail:]
    for _ in range(PER_FORMAT // 4):
        garbled = bytearray(data)
        at = rng.randrange(len(data))
        garbled[at : at + rng.randint(1, 64)] = rng.randbytes(rng.randint(0, 64))
        yield "overwritten", bytes(garbled)


def test_damaged_files_of_every_format_end_as_a_decision_or_a_rejection() -> None:
    # GIVEN small pictures in every accepted format, damaged in thousands of ways with a fixed seed
    rng = random.Random(SEED)
    samples = format_samples((64, 48))
    originals = [s.data for s in samples]
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []

    for sample in samples:
        for damage, data in damaged(sample, originals, rng):
            # WHEN ingest checks it, the classifier makes its payload and the server decodes it
            try:
                inspect_photo(data, extension=sample.extension, **LIMITS)
                endpoint_payload(data, side=192, max_pixels=LIMITS["max_pixels"])
                outcomes["accepted"] += 1
            except PhotoRejected as rejected:
                outcomes[rejected.reason.value] += 1
            except Exception as error:  # the failure this test exists to find
                unexpected.append(f"{sample.name}/{damage}: {type(error).__name__}: {error}")
            try:
                load_sized_input(data, 192)
            except (ImageDecodeError, ImageTooLargeError):
                pass
            except Exception as error:
                unexpected.append(f"server {sample.name}/{damage}: {type(error).__name__}: {error}")

    # THEN every file was accepted or rejected with a reason, and nothing else escaped
    assert unexpected == []
    assert sum(outcomes.values()) == len(samples) * PER_FORMAT >= 19 * PER_FORMAT
    assert outcomes["corrupt-image"] > len(samples) * PER_FORMAT // 4  # the damage was real
