"""The deployed stack as the apply and verify steps see it: physical ids, outputs, clients on its
endpoint, and a resolver for the template's intrinsics against what moto created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from driver_routing.stack_outputs import find_stack
from infra.cfn import Resolver
from infra.template_file import Template, TemplateError
from local.deploy.errors import LocalStackError
from shared.aws.clients import client


class Deployed:
    """The stack's physical ids and a resolver for the template's intrinsics against them.

    `endpoint_url` None leaves the endpoint to boto3 (in-process moto, or `AWS_ENDPOINT_URL`)."""

    def __init__(self, stack_name: str, template: Template, *, region: str, endpoint_url: str | None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.template = template
        stack = find_stack(self.client("cloudformation"), stack_name)
        if stack is None:
            raise LocalStackError(f"stack {stack_name!r} vanished after it was deployed")
        self.outputs: dict[str, str] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        arn = stack["StackId"].split(":")
        self.partition, self.account = arn[1], arn[4]
        summaries = self.client("cloudformation").list_stack_resources(StackName=stack_name)
        self.physical: dict[str, str] = {
            s["LogicalResourceId"]: s.get("PhysicalResourceId", "")
            for s in summaries["StackResourceSummaries"]
            if s.get("LogicalResourceId")
        }
        values: dict[str, str] = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        values.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": self.account,
                "AWS::Partition": self.partition,
                "AWS::StackName": stack_name,
                "AWS::StackId": stack["StackId"],
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        values.update(self.physical)
        self.resolver = Resolver(values=values, attribute=self._attribute)

    def client(self, service: str) -> Any:
        return client(service, self.region, self.endpoint_url)

    def resolve(self, node: Any) -> Any:
        return self.resolver.resolve(node)

    def physical_id(self, logical_id: str) -> str:
        physical = self.physical.get(logical_id)
        if not physical:
            raise LocalStackError(f"moto created no physical resource for {logical_id} (whatever the status)")
        return physical

    def queue_url(self, ref_value: str) -> str:
        """moto's CloudFormation reports https://sqs.<region>.amazonaws.com/... URLs: ask moto for its own."""
        name = urlparse(ref_value).path.rstrip("/").rsplit("/", 1)[-1]
        url: str = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource = self.template["Resources"].get(logical_id)
        physical = self.physical.get(logical_id)
        if resource is None or not physical:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource in the stack")
        p, r, a = self.partition, self.region, self.account
        kind = resource["Type"]
        name = physical.rstrip("/").rsplit("/", 1)[-1]
        known: dict[tuple[str, str], Callable[[], str]] = {
            ("AWS::SQS::Queue", "Arn"): lambda: f"arn:{p}:sqs:{r}:{a}:{name}",
            ("AWS::SQS::Queue", "QueueName"): lambda: name,
            ("AWS::SQS::Queue", "QueueUrl"): lambda: physical,
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:{p}:s3:::{physical}",
            ("AWS::S3::Bucket", "DomainName"): lambda: f"{physical}.s3.amazonaws.com",
            ("AWS::SNS::Topic", "TopicArn"): lambda: physical,
            ("AWS::SNS::Topic", "TopicName"): lambda: physical.rsplit(":", 1)[-1],
            ("AWS::DynamoDB::Table", "Arn"): lambda: f"arn:{p}:dynamodb:{r}:{a}:table/{physical}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:{p}:logs:{r}:{a}:log-group:{physical}:*",
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{p}:iam::{a}:role/{physical}",
        }
        if (kind, attribute) not in known:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not known to local/deploy/deployed.py"
            )
        return known[(kind, attribute)]()
