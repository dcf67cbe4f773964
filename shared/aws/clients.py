"""boto3 clients built once per process, with connection reuse and botocore's own retries.

boto3 reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` itself, so the same code reaches AWS,
the moto server and the local model endpoint. This is the one place a client is built.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with exponential backoff and full jitter.
DEFAULT_ATTEMPTS = 5

# One session for every client of the process: each session costs memory of its own (loaders, caches).
_session_lock = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(
    service: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    signature_version: str | None = None,
) -> Any:
    """One client per service, region, endpoint and retry budget in this process; boto3 clients are
    thread-safe.

    `endpoint_url` is for tools that talk to a given server (the local stack's deployer); the
    services leave it to boto3's environment variables."""
    config = Config(
        retries={"mode": "standard", "max_attempts": attempts},
        max_pool_connections=32,
        signature_version=signature_version,
    )
    with _session_lock:  # creating clients from one session is not thread-safe
        return _session().client(  # type: ignore[call-overload]
            service, region_name=region, endpoint_url=endpoint_url, config=config
        )


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
    with _session_lock:
        return _session().client("sagemaker-runtime", region_name=region, config=config)


def clear() -> None:
    """Forget every client (tests that switch between in-process moto and a server)."""
    client.cache_clear()
    endpoint_client.cache_clear()
    _session.cache_clear()
