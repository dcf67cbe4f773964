"""Model server subprocesses shared by the tests of this package.

`model_server` is the SageMaker container (`python -m model.cli serve`); `runtime_endpoint` is the same
server behind the local SageMaker-runtime imitation, which is what boto3's `invoke_endpoint` talks to.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RunningServer, start_server, stop_server


@pytest.fixture(scope="session")
def model_server() -> Iterator[RunningServer]:
    server = start_server("model.cli", "serve")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def runtime_endpoint() -> Iterator[RunningServer]:
    server = start_server("local.sagemaker_runtime")
    yield server
    stop_server(server)
