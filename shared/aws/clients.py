"""boto3 clients built once per process, with connection reuse and botocore's own retries.

boto3 reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` itself, so the same code reaches AWS,
the moto server and the local model endpoint.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with exponential backoff and full jitter.
_DEFAULT = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)


@cache
def client(service: str, region: str | None = None) -> Any:
    """One client per service and region in this process; boto3 clients are thread-safe."""
    return boto3.session.Session().client(service, region_name=region, config=_DEFAULT)  # type: ignore[call-overload]


@cache
def endpoint_client(region: str | None, attempts: int, timeout_s: float) -> Any:
    """sagemaker-runtime with its own budget: throttling and outages are retried with backoff and jitter
    inside the invocation, then the record goes back to SQS."""
    config = Config(
        retries={"mode": "standard", "max_attempts": attempts},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        max_pool_connections=32,
    )
    return boto3.session.Session().client("sagemaker-runtime", region_name=region, config=config)
