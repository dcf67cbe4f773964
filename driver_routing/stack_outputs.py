"""A deployed stack, found by its name: the bucket, queues, topic and tables from its outputs.

Works against AWS and the local stack alike (boto3 reads `AWS_ENDPOINT_URL`); nothing here deploys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from infra.functions import queues
from shared.aws.clients import client

DEFAULT_STACK_NAME = "driver-routing"
DEFAULT_REGION = "us-east-1"

# The stack's output for each queue and its DLQ, by the key StackResources.queues uses (the template's
# queue-fed functions, infra.functions).
QUEUE_OUTPUTS: dict[str, tuple[str, str]] = {
    key: (queue.url_output, queue.dlq_output) for key, queue in queues().items()
}
REQUIRED_OUTPUTS = (
    "PhotoBucketName",
    "RoutingTopicArn",
    "CaptureTableName",
    "UploadsTableName",
    *(key for pair in QUEUE_OUTPUTS.values() for key in pair),
)
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})


class StackError(RuntimeError):
    """The stack cannot be read: absent, incomplete, or missing a resource."""


class StackNotFoundError(StackError):
    """No deployed stack of that name at that endpoint."""


@dataclass(frozen=True)
class QueueRef:
    name: str
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class StackResources:
    stack_name: str
    region: str
    bucket: str
    queues: dict[str, QueueRef]  # keys: "ingest", "classify", "route", "capture"
    topic_arn: str
    capture_table: str
    uploads_table: str

    def environment(self) -> dict[str, str]:
        """The variables the services read (shared/settings.py names), plus every queue and DLQ URL."""
        env = {
            "PHOTO_BUCKET": self.bucket,
            "ROUTING_TOPIC_ARN": self.topic_arn,
            "CAPTURE_TABLE": self.capture_table,
            "UPLOADS_TABLE": self.uploads_table,
        }
        for key, queue in self.queues.items():
            env[f"{key.upper()}_QUEUE_URL"] = queue.url
            env[f"{key.upper()}_DLQ_URL"] = queue.dlq_url
        return env


def find_stack(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    """The live stack of that name, or None."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    return live[0] if live else None


def describe_stack(
    stack_name: str = DEFAULT_STACK_NAME, *, region: str = DEFAULT_REGION, endpoint_url: str | None = None
) -> StackResources:
    """The resources of a stack deployed earlier (by another process), read from its outputs."""
    stack = find_stack(client("cloudformation", region, endpoint_url), stack_name)
    if stack is None or stack["StackStatus"] not in COMPLETE:
        status = "absent" if stack is None else stack["StackStatus"]
        raise StackNotFoundError(f"no deployed stack {stack_name!r} ({status})")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise StackError(f"stack {stack_name!r} lacks outputs {missing}")
    return resources_from_outputs(stack_name, outputs, region=region, endpoint_url=endpoint_url)


def resources_from_outputs(
    stack_name: str, outputs: Mapping[str, str], *, region: str, endpoint_url: str | None = None
) -> StackResources:
    sqs = client("sqs", region, endpoint_url)

    def queue(url_from_stack: str) -> tuple[str, str, str]:
        name = urlparse(url_from_stack).path.rstrip("/").rsplit("/", 1)[-1]
        try:
            url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise StackError(f"queue {name} of stack {stack_name!r} is missing ({code})") from error
        return name, url, arn

    queues: dict[str, QueueRef] = {}
    for key, (queue_output, dlq_output) in QUEUE_OUTPUTS.items():
        name, url, arn = queue(outputs[queue_output])
        _, dlq_url, dlq_arn = queue(outputs[dlq_output])
        queues[key] = QueueRef(name=name, url=url, arn=arn, dlq_url=dlq_url, dlq_arn=dlq_arn)
    return StackResources(
        stack_name=stack_name,
        region=region,
        bucket=outputs["PhotoBucketName"],
        queues=queues,
        topic_arn=outputs["RoutingTopicArn"],
        capture_table=outputs["CaptureTableName"],
        uploads_table=outputs["UploadsTableName"],
    )
