"""Queues and queue policies: attributes moto's CloudFormation left different, and the policies it
skips, applied with boto3 and then compared with the template."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from infra.template_file import TemplateError
from local.deploy.deployed import Deployed
from local.deploy.errors import error_code

# CloudFormation queue property → SQS attribute; each is compared as the string SQS returns.
_QUEUE_ATTRIBUTES: dict[str, str] = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
    "KmsMasterKeyId": "KmsMasterKeyId",
    "RedrivePolicy": "RedrivePolicy",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
    "DeduplicationScope": "DeduplicationScope",
    "FifoThroughputLimit": "FifoThroughputLimit",
}
# Fixed when the queue is created: a difference cannot be applied, only reported.
_AT_CREATION = frozenset({"FifoQueue"})


def _queue_attribute(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps(_redrive(value))
    return str(value)


def _redrive(policy: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "deadLetterTargetArn": policy["deadLetterTargetArn"],
        "maxReceiveCount": int(policy["maxReceiveCount"]),
    }


def _queue_differences(
    deployed: Deployed, name: str, props: dict[str, Any]
) -> tuple[str, dict[str, str], list[str]]:
    p = deployed.resolve(props)
    unknown = set(p) - set(_QUEUE_ATTRIBUTES) - {"QueueName", "Tags"}
    if unknown:
        raise TemplateError(
            f"{name}: queue properties {sorted(unknown)} are not handled by local/deploy/sqs.py"
        )
    url = deployed.queue_url(deployed.physical_id(name))
    actual = deployed.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    fixes: dict[str, str] = {}
    problems: list[str] = []
    for prop, attribute in _QUEUE_ATTRIBUTES.items():
        if prop not in p:
            continue
        wanted = _queue_attribute(p[prop])
        have = actual.get(attribute)
        same = (
            have is not None and _redrive(json.loads(have)) == json.loads(wanted)
            if prop == "RedrivePolicy"
            else have == wanted
        )
        if not same:
            if prop not in _AT_CREATION:
                fixes[attribute] = wanted
            problems.append(f"{name}: {attribute} is {have!r}, template wants {wanted!r}")
    return url, fixes, problems


def apply_queue(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    url, fixes, _ = _queue_differences(deployed, name, props)
    if fixes:
        deployed.client("sqs").set_queue_attributes(QueueUrl=url, Attributes=fixes)


def verify_queue(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    try:
        return _queue_differences(deployed, name, props)[2]
    except ClientError as error:
        return [f"{name}: queue {deployed.physical.get(name)!r} unreadable ({error_code(error)})"]


def _queue_policy_targets(deployed: Deployed, props: dict[str, Any]) -> tuple[list[str], Any]:
    p = deployed.resolve(props)
    return [deployed.queue_url(q) for q in p["Queues"]], p["PolicyDocument"]


def _queue_policy(deployed: Deployed, url: str) -> str | None:
    attributes = deployed.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    policy: str | None = attributes.get("Attributes", {}).get("Policy")
    return policy


def apply_queue_policy(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    urls, document = _queue_policy_targets(deployed, props)
    for url in urls:
        current = _queue_policy(deployed, url)
        if current is None or not _same_json(current, document):
            deployed.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(document)}
            )


def verify_queue_policy(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    urls, document = _queue_policy_targets(deployed, props)
    problems = []
    for url in urls:
        current = _queue_policy(deployed, url)
        if current is None or not _same_json(current, document):
            problems.append(f"{name}: queue {url} lacks the template's policy")
    return problems


def _same_json(a: Any, b: Any) -> bool:
    """Two JSON documents (text or parsed) are equal once parsed: key order and spacing aside."""
    left: object = json.loads(a) if isinstance(a, str) else a
    right: object = json.loads(b) if isinstance(b, str) else b
    return left == right
