"""Resource type → how the local stack applies and verifies it in moto.

A type missing here is an error, not a silent pass: moto's CloudFormation may report CREATE_COMPLETE
for a resource it never applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.deploy import cloudwatch, dynamodb, iam_logs, s3, sns, sqs
from local.deploy.deployed import Deployed
from local.deploy.errors import LocalStackError


@dataclass(frozen=True)
class Handler:
    apply: Callable[[Deployed, str, dict[str, Any]], None]
    verify: Callable[[Deployed, str, dict[str, Any]], list[str]]


def nothing_to_apply(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    return None


HANDLERS: dict[str, Handler] = {
    "AWS::S3::Bucket": Handler(s3.apply_bucket, s3.verify_bucket),
    "AWS::SQS::Queue": Handler(sqs.apply_queue, sqs.verify_queue),
    "AWS::SQS::QueuePolicy": Handler(sqs.apply_queue_policy, sqs.verify_queue_policy),
    "AWS::SNS::Topic": Handler(sns.apply_topic, sns.verify_topic),
    "AWS::SNS::Subscription": Handler(sns.apply_subscription, sns.verify_subscription),
    "AWS::DynamoDB::Table": Handler(dynamodb.apply_table, dynamodb.verify_table),
    "AWS::Logs::LogGroup": Handler(iam_logs.apply_log_group, iam_logs.verify_log_group),
    "AWS::IAM::Role": Handler(iam_logs.apply_role, iam_logs.verify_role),
    "AWS::CloudWatch::Alarm": Handler(cloudwatch.apply_alarm, cloudwatch.verify_alarm),
    "AWS::CloudWatch::Dashboard": Handler(nothing_to_apply, cloudwatch.verify_dashboard),
}


def handler(resource_type: str) -> Handler:
    if resource_type not in HANDLERS:
        # A resource type the local stack has never been checked with: moto may skip it silently.
        raise LocalStackError(
            f"local.deploy does not know how to apply and verify {resource_type} in moto; "
            "add a handler to local/deploy/registry.py"
        )
    return HANDLERS[resource_type]
