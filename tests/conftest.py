"""Shared fixtures: images made on the fly (no data committed), and AWS credentials for moto."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.samples import image_bytes

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DRIVER_ROUTING_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "DriverRouting",
    }.items():
        monkeypatch.setenv(name, os.environ.get(name, value) if name.startswith("AWS_ACCESS") else value)
    yield


@pytest.fixture
def jpeg() -> bytes:
    return image_bytes("JPEG")


@pytest.fixture
def png() -> bytes:
    return image_bytes("PNG")
