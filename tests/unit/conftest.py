"""Unit tests run on in-process moto: never on a local stack another test module left running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.aws import clients


@pytest.fixture(autouse=True)
def _no_endpoint_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    clients.clear()
    yield
    clients.clear()
