"""Which stack a command talks to, and what to tell the user when it cannot be reached.

With `AWS_ENDPOINT_URL` set, that endpoint; else, when `driver-routing up` is running, the local stack
it recorded (found from any folder); else AWS itself, with the credentials boto3 finds.
"""

from __future__ import annotations

import os
from typing import Any

import click
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from driver_routing.local_record import default_state_dir, is_running, read_record
from driver_routing.stack_outputs import StackError, StackNotFoundError, StackResources


class StaleLocalStack(click.ClickException):
    """A record of a local stack whose `up` is gone."""


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def use_local_stack_if_running() -> None:
    """With no AWS endpoint set, use the local stack `up` recorded, if it still runs."""
    if os.environ.get("AWS_ENDPOINT_URL") == "":
        del os.environ["AWS_ENDPOINT_URL"]  # an empty value is no endpoint, not an invalid one
    if "AWS_ENDPOINT_URL" in os.environ:
        return
    state_dir = default_state_dir()
    record = read_record(state_dir)
    if record is None:
        return
    if not is_running(state_dir):
        raise StaleLocalStack(
            f"the local stack recorded in {record.path} is no longer running (its `up`, pid {record.pid}, "
            "has ended): start it again with `driver-routing up`, or delete that file to use AWS"
        )
    for name, value in record.environment.items():
        os.environ.setdefault(name, value)
    click.echo(f"using the local stack at {record.aws_url}", err=True)


def connect(stack_name: str) -> StackResources:
    from driver_routing.stack_outputs import describe_stack

    use_local_stack_if_running()
    return describe_stack(stack_name, region=region())


def aws_client(service: str) -> Any:
    from shared.aws.clients import client

    return client(service, region())


def _where() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or f"AWS ({region()})"


def explain(error: Exception) -> str | None:
    """One line for an error the user can act on; None for a fault of ours (keep its traceback)."""
    start_local = "start the local stack with `driver-routing up`, or set AWS_ENDPOINT_URL"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', _where())}: {start_local}"
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return f"no AWS credentials found: configure them (`aws configure`), or {start_local}"
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_REGION (for example us-east-1)"
    if isinstance(error, StackNotFoundError):
        return (
            f"{error} at {_where()}: deploy it (infra/README.md) or {start_local}; "
            "--stack-name names another stack"
        )
    if isinstance(error, StackError):
        return f"{error} at {_where()}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return (
            f"{_where()} refused {error.operation_name}: {details.get('Code', '?')}: "
            f"{details.get('Message', '')}".rstrip(": ")
        )
    return None
