"""Unit tests run on in-process moto: never on a local stack another test module left running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.aws import clients
from shared.wiring import BuiltOnce


@pytest.fixture(autouse=True)
def _fresh_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test is a new execution environment: no endpoint override, no client, no handler wiring."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    clients.clear()
    BuiltOnce.reset_all()
    yield
    BuiltOnce.reset_all()
    clients.clear()
