"""One local stack for the integration tests: moto server, model endpoint and the four pollers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.stacks import running_stack

# Debian's chromium (Playwright cannot download its own browser here), without the background
# connections this machine's closed network refuses.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The longest a page may take to show what the API or the chain answered. A bound against a page that stops
# following, not a speed check: on a loaded 2-core host a poll can wait seconds for the CPU. How fast the
# pages follow is printed by the tests (`-s`); the driver page's figure is `python -m bench.driver_page`'s.
FOLLOW_MS = 15_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Short timeouts so that a failing record reaches its DLQ within seconds (maxReceiveCount 2).
TEST_PARAMETERS = {"FunctionTimeout": "5", "QueueVisibilityTimeout": "5", "MaxReceiveCount": "2"}


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(
        "driver-routing-it",
        Path(tmp_path_factory.mktemp("stack")),
        parameters=TEST_PARAMETERS,
        function_settings={"ENDPOINT_ATTEMPTS": "3"},
    ) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless chromium for the browser tests (the board's and the driver's page)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and not item.get_closest_marker("chaos"):
            item.add_marker(pytest.mark.integration)
