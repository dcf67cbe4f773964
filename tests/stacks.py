"""A local stack for a test module or package, with this process's AWS clients pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.processes import free_port
from local.stack import LocalStack, StackConfig
from shared.aws import clients


@contextmanager
def running_stack(stack_name: str, state_dir: Path, **config: Any) -> Iterator[LocalStack]:
    saved = dict(os.environ)
    stack_config = StackConfig(
        aws_port=free_port(),
        endpoint_port=free_port(),
        api_port=free_port(),
        stack_name=stack_name,
        state_dir=state_dir,
        **config,
    )
    try:
        with LocalStack(stack_config) as running:
            os.environ.update(running.client_environment())
            clients.client.cache_clear()
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.client.cache_clear()
