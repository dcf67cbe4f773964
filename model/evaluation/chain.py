"""Evaluate through the whole chain: each image uploaded as a driver's photo, its answer read from its
capture record, so the figures are those of what ingest, the classifier and the endpoint do together.

The stack is the one `AWS_ENDPOINT_URL` (or a running `driver-routing up`) points at; else a local one
is started for the run on free ports and stopped after it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from model.dataset import CLASSES, Sample
from model.evaluation.outcomes import Outcome

DRIVER_ID = "evaluate"
POLL_S = 0.5


class ChainError(RuntimeError):
    """The chain did not answer for every image: which ones, and why."""


@contextmanager
def chain_stack(stack_name: str, model_dir: str | None) -> Iterator[Any]:
    """The stack's resources (`StackResources`), with this process's AWS clients pointed at it."""
    from driver_routing.connection import connect, use_local_stack_if_running
    from shared.aws import clients

    use_local_stack_if_running()
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield connect(stack_name)
        return
    from local.processes import free_port
    from local.stack import LocalStack, StackConfig

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="evaluate-stack-") as state_dir:
        config = StackConfig(
            aws_port=free_port(),
            endpoint_port=free_port(),
            stack_name=stack_name,
            state_dir=Path(state_dir),
            endpoint_args=("--model-dir", model_dir) if model_dir else (),
        )
        try:
            with LocalStack(config) as running:
                os.environ.update(running.client_environment())
                clients.client.cache_clear()
                yield running.resources
        finally:
            os.environ.clear()
            os.environ.update(saved)
            clients.client.cache_clear()


def through_chain(samples: list[Sample], resources: Any, region: str, timeout_s: float) -> list[Outcome]:
    """Upload every sample, then wait for each capture record; latency is upload to decision."""
    from driver_routing.uploads import upload_photos
    from shared.aws.capture_table import CaptureTable
    from shared.aws.clients import client
    from shared.contracts import photo_id, photo_identity

    uploads = upload_photos(client("s3", region), resources.bucket, [s.path for s in samples], DRIVER_ID)
    table = CaptureTable(client("dynamodb", region), resources.capture_table)
    ids = {photo_id(photo_identity(resources.bucket, u.key, u.etag)): i for i, u in enumerate(uploads)}
    records: dict[int, Any] = {}
    deadline = time.monotonic() + timeout_s
    while len(records) < len(ids) and time.monotonic() < deadline:
        for pid, index in ids.items():
            if index not in records and (record := table.get(pid)) is not None:
                records[index] = record
        time.sleep(POLL_S if len(records) < len(ids) else 0)
    missing = [str(samples[i].path) for i in range(len(samples)) if i not in records]
    if missing:
        raise ChainError(f"no capture record within {timeout_s:g} s for {len(missing)}: {missing[:5]}")
    rejected = [f"{samples[i].path}: {r.reason}" for i, r in records.items() if r.probabilities is None]
    if rejected:
        raise ChainError(f"the chain rejected {len(rejected)} image(s): {rejected[:5]}")
    return [outcome(samples[i], records[i]) for i in range(len(samples))]


def outcome(sample: Sample, record: Any) -> Outcome:
    # The record keeps p(none) beside the vehicle classes: the "no two-wheeler" screen is judged too.
    probs = [float(record.probabilities[name]) for name in CLASSES]
    if record.none_probability is not None:
        probs.append(float(record.none_probability))
    latency_ms = (record.decided_at - record.uploaded_at).total_seconds() * 1000
    return Outcome(sample, probs, latency_ms, None)
