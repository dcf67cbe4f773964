"""The local stack: infra/template.yaml deployed into a moto server, then completed and verified.

Steps (`deploy_stack`):
1. SAM-translate the template locally (samtranslator, no AWS call) and drop the Lambda functions and
   their event-source mappings: moto would invoke them through Docker; the project's pollers play them.
2. create_stack (or update_stack when the template or parameters changed) in moto's CloudFormation.
3. Apply with boto3 what moto's CloudFormation skips, read from the same template: queue policies,
   the SNS subscription, the bucket's notification, public access block, versioning, lifecycle and
   ownership controls, the tables' TTL and point-in-time recovery (see SKIPPED_BY_MOTO). The bucket
   policy is left out on purpose (see LOCAL_OMITTED_TYPES).
4. Verify every resource against the template (CREATE_COMPLETE proves nothing in moto) and raise
   `StackVerificationError` listing every difference.

Each step is idempotent: a second call against a deployed stack changes nothing (in particular it does
not configure the bucket notification again, which would queue another s3:TestEvent) and returns the
same resources.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.config
from botocore.exceptions import ClientError

from driver_routing.stack_outputs import (
    COMPLETE,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    REQUIRED_OUTPUTS,
    StackError,
    StackResources,
    describe_stack,
    find_stack,
    resources_from_outputs,
)
from infra.cfn import (
    TEMPLATE_PATH,
    Resolver,
    Template,
    TemplateError,
    load_template,
    parameter_defaults,
    translate,
    without_functions,
)

log = logging.getLogger(__name__)

STACK_TIMEOUT_S = 120.0

# What moto 5.2.5's CloudFormation accepts and reports CREATE_COMPLETE for, yet does not apply
# (measured here). deploy_stack applies each with boto3, then verifies it.
SKIPPED_BY_MOTO = (
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Subscription (RawMessageDelivery included)",
    "AWS::S3::Bucket NotificationConfiguration",
    "AWS::S3::Bucket PublicAccessBlockConfiguration",
    "AWS::S3::Bucket VersioningConfiguration",
    "AWS::S3::Bucket LifecycleConfiguration",
    "AWS::S3::Bucket OwnershipControls",
    "AWS::DynamoDB::Table TimeToLiveSpecification",
    "AWS::DynamoDB::Table PointInTimeRecoverySpecification",
)
# Left out of the local stack on purpose. The local endpoint is plain HTTP, and moto 5.2.5 evaluates a
# bucket policy on object operations, treating a statement whose condition key is absent as a denial:
# the template's DenyInsecureTransport statement would refuse every Put/Get/HeadObject. (moto's
# CloudFormation skips the resource anyway; dropping it keeps a later moto from applying it.)
# The scanners and the template tests cover it.
LOCAL_OMITTED_TYPES = frozenset({"AWS::S3::BucketPolicy"})
# What moto cannot show, so cannot be verified locally (cfn-lint/checkov and the template tests cover it).
UNVERIFIABLE_IN_MOTO = (
    "AWS::DynamoDB::Table SSESpecification: moto's CloudFormation stores SSEEnabled under a key its "
    "DescribeTable ignores, and UpdateTable ignores SSESpecification",
    "queue policies: stored and read back, but moto does not enforce them",
)

_BROKEN = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}


class LocalStackError(StackError):
    """The local stack could not be deployed."""


class StackVerificationError(LocalStackError):
    """The stack reached CREATE_COMPLETE but resources differ from the template."""

    def __init__(self, stack_name: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n  - ".join(self.problems)
        super().__init__(f"stack {stack_name!r} does not match infra/template.yaml:\n  - {listing}")


# ---------------------------------------------------------------- public API


def deploy_stack(
    endpoint_url: str | None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    parameters: Mapping[str, str] | None = None,
) -> StackResources:
    """Deploy infra/template.yaml into the moto server at `endpoint_url`, complete it, verify it.

    `None` is boto3's default endpoint: in-process moto (`moto.mock_aws()`) in the tests."""
    started = time.perf_counter()
    sam = load_template(TEMPLATE_PATH)
    values = _parameter_values(sam, parameters)
    template = local_template(sam, region=region, parameters=values)
    aws = _Aws(endpoint_url, region)

    _create_or_update(aws, stack_name, template, values)
    deployed = _Deployed(aws, stack_name, template)
    for name, resource in template["Resources"].items():
        _handler(resource["Type"]).apply(deployed, name, resource.get("Properties", {}))
    problems = [
        problem
        for name, resource in template["Resources"].items()
        for problem in _handler(resource["Type"]).verify(deployed, name, resource.get("Properties", {}))
    ]
    problems += [f"output {key} is missing" for key in REQUIRED_OUTPUTS if key not in deployed.outputs]
    if problems:
        raise StackVerificationError(stack_name, problems)
    resources = resources_from_outputs(
        stack_name, deployed.outputs, region=aws.region, endpoint_url=aws.endpoint_url
    )
    log.info("stack %s deployed and verified in %.2f s", stack_name, time.perf_counter() - started)
    return resources


def local_template(sam: Template, *, region: str, parameters: Mapping[str, str]) -> Template:
    """The CloudFormation the local stack creates: translated, without functions and local omissions."""
    template = without_functions(translate(sam, region=region, parameters=parameters))
    omitted = [n for n, r in template["Resources"].items() if r["Type"] in LOCAL_OMITTED_TYPES]
    for name in omitted:
        del template["Resources"][name]
    return template


# ---------------------------------------------------------------- clients


class _Aws:
    """boto3 clients on the moto endpoint; dummy credentials when the environment has none."""

    def __init__(self, endpoint_url: str | None, region: str) -> None:
        if boto3.session.Session().get_credentials() is None:
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._config = botocore.config.Config(
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                config=self._config,  # type: ignore[call-overload]
            )
        return self._clients[service]


# ---------------------------------------------------------------- stack create / update


def _parameter_values(template: Template, given: Mapping[str, str] | None) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = sorted(set(given or {}) - set(declared))
    if unknown:
        raise ValueError(f"unknown template parameters {unknown}; the template declares {sorted(declared)}")
    values = {**parameter_defaults(template), **{k: str(v) for k, v in (given or {}).items()}}
    timeout, visibility = int(values["FunctionTimeout"]), int(values["QueueVisibilityTimeout"])
    if visibility < timeout:
        # AWS refuses such an event source mapping: a message would reappear while still in work.
        raise ValueError(f"QueueVisibilityTimeout {visibility} s is below FunctionTimeout {timeout} s")
    if visibility < 6 * timeout:
        log.warning("QueueVisibilityTimeout %d s is below 6 x FunctionTimeout (%d s)", visibility, timeout)
    return values


def _create_or_update(aws: _Aws, stack_name: str, template: Template, values: Mapping[str, str]) -> None:
    cfn = aws.client("cloudformation")
    request: dict[str, Any] = {
        "StackName": stack_name,
        "TemplateBody": json.dumps(template),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    }
    stack = _wait(aws, stack_name)  # None when absent; waits out a deploy in progress elsewhere
    if stack is not None and stack["StackStatus"] in _BROKEN:
        log.warning("stack %s is %s: deleting it to create it again", stack_name, stack["StackStatus"])
        cfn.delete_stack(StackName=stack_name)
        stack = _wait(aws, stack_name)
    if stack is None:
        cfn.create_stack(**request)
    elif _deployed_as(aws, stack) != (template, dict(values)):
        log.info("stack %s: template or parameters changed, updating", stack_name)
        cfn.update_stack(**request)
    else:
        return
    stack = _wait(aws, stack_name)
    if stack is None or stack["StackStatus"] not in COMPLETE:
        status = "deleted" if stack is None else f"{stack['StackStatus']}: {stack.get('StackStatusReason')}"
        raise LocalStackError(f"stack {stack_name!r} did not deploy ({status})")


def _deployed_as(aws: _Aws, stack: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    body = aws.client("cloudformation").get_template(StackName=stack["StackName"])["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    return template, values


def _wait(aws: _Aws, stack_name: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while True:
        stack = find_stack(aws.client("cloudformation"), stack_name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"stack {stack_name!r} still {stack['StackStatus']} after {STACK_TIMEOUT_S} s"
            )
        time.sleep(0.05)


# ---------------------------------------------------------------- the deployed stack, resolved


class _Deployed:
    """The stack's physical ids and a resolver for the template's intrinsics against them."""

    def __init__(self, aws: _Aws, stack_name: str, template: Template) -> None:
        self.aws = aws
        self.template = template
        stack = find_stack(aws.client("cloudformation"), stack_name)
        assert stack is not None
        self.outputs: dict[str, str] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        arn = stack["StackId"].split(":")
        self.partition, self.account = arn[1], arn[4]
        summaries = aws.client("cloudformation").list_stack_resources(StackName=stack_name)
        self.physical: dict[str, str] = {
            s["LogicalResourceId"]: s.get("PhysicalResourceId", "")
            for s in summaries["StackResourceSummaries"]
            if s.get("LogicalResourceId")
        }
        values: dict[str, str] = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        values.update(
            {
                "AWS::Region": aws.region,
                "AWS::AccountId": self.account,
                "AWS::Partition": self.partition,
                "AWS::StackName": stack_name,
                "AWS::StackId": stack["StackId"],
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        values.update(self.physical)
        self.resolver = Resolver(values=values, attribute=self._attribute)

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
        url: str = self.aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource = self.template["Resources"].get(logical_id)
        physical = self.physical.get(logical_id)
        if resource is None or not physical:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource in the stack")
        p, r, a = self.partition, self.aws.region, self.account
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
                f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not known to infra/local.py"
            )
        return known[(kind, attribute)]()


# ---------------------------------------------------------------- per-type apply and verify


@dataclass(frozen=True)
class _Handler:
    apply: Callable[[_Deployed, str, dict[str, Any]], None]
    verify: Callable[[_Deployed, str, dict[str, Any]], list[str]]


def _nothing_to_apply(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    return None


def _handler(resource_type: str) -> _Handler:
    if resource_type not in _HANDLERS:
        # A resource type the local stack has never been checked with: moto may skip it silently.
        raise LocalStackError(
            f"infra/local.py does not know how to apply and verify {resource_type} in moto; add a handler"
        )
    return _HANDLERS[resource_type]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _same_json(a: Any, b: Any) -> bool:
    """Two JSON documents (text or parsed) are equal once parsed: key order and spacing aside."""
    left: object = json.loads(a) if isinstance(a, str) else a
    right: object = json.loads(b) if isinstance(b, str) else b
    return left == right


# -- S3 bucket


def _bucket_wanted(deployed: _Deployed, props: dict[str, Any]) -> dict[str, Any]:
    """The bucket's settings as the S3 API spells them (get_* answers), from the template's properties."""
    p = deployed.resolve(props)
    wanted: dict[str, Any] = {}
    if "BucketEncryption" in p:
        wanted["encryption"] = [
            rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
    if "PublicAccessBlockConfiguration" in p:
        wanted["public_access_block"] = {k: bool(v) for k, v in p["PublicAccessBlockConfiguration"].items()}
    if "OwnershipControls" in p:
        wanted["ownership"] = [r["ObjectOwnership"] for r in p["OwnershipControls"]["Rules"]]
    if "VersioningConfiguration" in p:
        wanted["versioning"] = p["VersioningConfiguration"]["Status"]
    if "LifecycleConfiguration" in p:
        wanted["lifecycle"] = sorted(
            (_lifecycle_rule(rule) for rule in p["LifecycleConfiguration"]["Rules"]), key=lambda r: r["ID"]
        )
    notification = p.get("NotificationConfiguration", {})
    unsupported = set(notification) - {"QueueConfigurations"}
    if unsupported:
        raise TemplateError(f"bucket notifications {sorted(unsupported)} are not handled by infra/local.py")
    if notification:
        wanted["notification"] = _canonical_notifications(
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in _rules(q)]}
                },
            }
            for q in notification["QueueConfigurations"]
        )
    return wanted


def _rules(queue_config: Mapping[str, Any]) -> list[dict[str, str]]:
    rules: list[dict[str, str]] = queue_config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    return rules


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    supported = {
        "Id",
        "Status",
        "Prefix",
        "ExpirationInDays",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    if set(rule) - supported:
        raise TemplateError(f"lifecycle rule keys {sorted(set(rule) - supported)} are not handled locally")
    api: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


def _canonical_notifications(configs: Any) -> list[dict[str, Any]]:
    canonical = [
        {
            "QueueArn": c["QueueArn"],
            "Events": sorted(c["Events"]),
            "FilterRules": sorted(
                (r["Name"].lower(), r["Value"])
                for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            ),
        }
        for c in configs
    ]
    return sorted(canonical, key=lambda c: json.dumps(c, sort_keys=True))


def _bucket_actual(deployed: _Deployed, bucket: str) -> dict[str, Any]:
    s3 = deployed.aws.client("s3")

    def read(call: Callable[[], Any], missing: str) -> Any:
        try:
            return call()
        except ClientError as error:
            if _error_code(error) == missing:
                return None
            raise

    actual: dict[str, Any] = {}
    encryption = read(
        lambda: s3.get_bucket_encryption(Bucket=bucket), "ServerSideEncryptionConfigurationNotFoundError"
    )
    actual["encryption"] = (
        None
        if encryption is None
        else [
            r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            for r in encryption["ServerSideEncryptionConfiguration"]["Rules"]
        ]
    )
    pab = read(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration")
    actual["public_access_block"] = None if pab is None else pab["PublicAccessBlockConfiguration"]
    ownership = read(
        lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError"
    )
    actual["ownership"] = (
        None if ownership is None else [r["ObjectOwnership"] for r in ownership["OwnershipControls"]["Rules"]]
    )
    actual["versioning"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    lifecycle = read(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "NoSuchLifecycleConfiguration"
    )
    actual["lifecycle"] = (
        None
        if lifecycle is None
        else sorted((_comparable_lifecycle(rule) for rule in lifecycle["Rules"]), key=lambda r: r["ID"])
    )
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    actual["notification"] = _canonical_notifications(notification.get("QueueConfigurations", []))
    return actual


def _comparable_lifecycle(rule: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("ID", "Status", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")
    comparable = {k: rule[k] for k in keys if k in rule}
    comparable["Filter"] = {"Prefix": rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))}
    return comparable


def _apply_bucket(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    bucket = deployed.physical_id(name)
    s3 = deployed.aws.client("s3")
    wanted, actual = _bucket_wanted(deployed, props), _bucket_actual(deployed, bucket)
    p = deployed.resolve(props)
    if "encryption" in wanted and actual["encryption"] != wanted["encryption"]:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "public_access_block" in wanted and actual["public_access_block"] != wanted["public_access_block"]:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=wanted["public_access_block"]
        )
    if "ownership" in wanted and actual["ownership"] != wanted["ownership"]:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": o} for o in wanted["ownership"]]}
        )
    if "versioning" in wanted and actual["versioning"] != wanted["versioning"]:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": wanted["versioning"]})
    if "lifecycle" in wanted and actual["lifecycle"] != wanted["lifecycle"]:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": wanted["lifecycle"]}
        )
    # Only when it differs: each configuration makes S3 (and moto) queue an s3:TestEvent.
    if "notification" in wanted and actual["notification"] != wanted["notification"]:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": c["QueueArn"],
                        "Events": c["Events"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in c["FilterRules"]]}
                        },
                    }
                    for c in wanted["notification"]
                ]
            },
        )


def _verify_bucket(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    bucket = deployed.physical.get(name, "")
    try:
        deployed.aws.client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        return [f"{name}: bucket {bucket!r} does not exist"]
    wanted, actual = _bucket_wanted(deployed, props), _bucket_actual(deployed, bucket)
    return [
        f"{name}: {key} is {actual[key]!r}, template wants {value!r}"
        for key, value in wanted.items()
        if actual[key] != value
    ]


# -- SQS


# CloudFormation queue property → (SQS attribute, how to compare the attribute's string).
_QUEUE_ATTRIBUTES: dict[str, str] = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
    "KmsMasterKeyId": "KmsMasterKeyId",
    "RedrivePolicy": "RedrivePolicy",
}


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
    deployed: _Deployed, name: str, props: dict[str, Any]
) -> tuple[str, dict[str, str], list[str]]:
    p = deployed.resolve(props)
    unknown = set(p) - set(_QUEUE_ATTRIBUTES) - {"QueueName", "Tags"}
    if unknown:
        raise TemplateError(f"{name}: queue properties {sorted(unknown)} are not handled by infra/local.py")
    url = deployed.queue_url(deployed.physical_id(name))
    actual = deployed.aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
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
            fixes[attribute] = wanted
            problems.append(f"{name}: {attribute} is {have!r}, template wants {wanted!r}")
    return url, fixes, problems


def _apply_queue(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    url, fixes, _ = _queue_differences(deployed, name, props)
    if fixes:
        deployed.aws.client("sqs").set_queue_attributes(QueueUrl=url, Attributes=fixes)


def _verify_queue(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    try:
        return _queue_differences(deployed, name, props)[2]
    except ClientError as error:
        return [f"{name}: queue {deployed.physical.get(name)!r} unreadable ({_error_code(error)})"]


def _queue_policy_targets(deployed: _Deployed, props: dict[str, Any]) -> tuple[list[str], Any]:
    p = deployed.resolve(props)
    return [deployed.queue_url(q) for q in p["Queues"]], p["PolicyDocument"]


def _queue_policy(deployed: _Deployed, url: str) -> str | None:
    attributes = deployed.aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    policy: str | None = attributes.get("Attributes", {}).get("Policy")
    return policy


def _apply_queue_policy(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    urls, document = _queue_policy_targets(deployed, props)
    for url in urls:
        current = _queue_policy(deployed, url)
        if current is None or not _same_json(current, document):
            deployed.aws.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(document)}
            )


def _verify_queue_policy(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    urls, document = _queue_policy_targets(deployed, props)
    problems = []
    for url in urls:
        current = _queue_policy(deployed, url)
        if current is None or not _same_json(current, document):
            problems.append(f"{name}: queue {url} lacks the template's policy")
    return problems


# -- SNS


def _verify_topic(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    arn = deployed.physical.get(name, "")
    try:
        attributes = deployed.aws.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    except ClientError as error:
        return [f"{name}: topic {arn!r} unreadable ({_error_code(error)})"]
    problems = []
    if "TopicName" in p and not arn.endswith(f":{p['TopicName']}"):
        problems.append(f"{name}: topic {arn} is not named {p['TopicName']}")
    if "KmsMasterKeyId" in p and attributes.get("KmsMasterKeyId") != p["KmsMasterKeyId"]:
        problems.append(f"{name}: KmsMasterKeyId is {attributes.get('KmsMasterKeyId')!r}")
    return problems


def _apply_topic(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    if "KmsMasterKeyId" in p:
        sns = deployed.aws.client("sns")
        arn = deployed.physical_id(name)
        if sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId") != p["KmsMasterKeyId"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=p["KmsMasterKeyId"]
            )


_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")


def _subscription_wanted(deployed: _Deployed, props: dict[str, Any]) -> tuple[str, str, str, dict[str, str]]:
    p = deployed.resolve(props)
    attributes = {
        key: (
            str(p[key]).lower()
            if isinstance(p[key], bool)
            else p[key]
            if isinstance(p[key], str)
            else json.dumps(p[key])
        )
        for key in _SUBSCRIPTION_ATTRIBUTES
        if key in p
    }
    return p["TopicArn"], p["Protocol"], p["Endpoint"], attributes


def _find_subscription(deployed: _Deployed, topic: str, protocol: str, endpoint: str) -> str | None:
    paginator = deployed.aws.client("sns").get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic):
        for sub in page["Subscriptions"]:
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                arn: str = sub["SubscriptionArn"]
                return arn
    return None


def _apply_subscription(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    topic, protocol, endpoint, attributes = _subscription_wanted(deployed, props)
    sns = deployed.aws.client("sns")
    arn = _find_subscription(deployed, topic, protocol, endpoint)
    if arn is None:
        sns.subscribe(
            TopicArn=topic,
            Protocol=protocol,
            Endpoint=endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return
    current = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    for key, value in attributes.items():
        if current.get(key) != value:
            sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=key, AttributeValue=value)


def _verify_subscription(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    topic, protocol, endpoint, attributes = _subscription_wanted(deployed, props)
    arn = _find_subscription(deployed, topic, protocol, endpoint)
    if arn is None:
        return [f"{name}: no {protocol} subscription of {endpoint} to {topic}"]
    current = deployed.aws.client("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    return [
        f"{name}: {key} is {current.get(key)!r}, template wants {value!r}"
        for key, value in attributes.items()
        if current.get(key) != value
    ]


# -- DynamoDB


def _keys(schema: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


def _table_state(deployed: _Deployed, table: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    ddb = deployed.aws.client("dynamodb")
    description = ddb.describe_table(TableName=table)["Table"]
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    return description, ttl, backups


def _pitr_wanted(p: Mapping[str, Any]) -> bool:
    return bool(p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False))


def _pitr_on(backups: Mapping[str, Any]) -> bool:
    return bool(
        backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED"
    )


def _ttl_ok(wanted: Mapping[str, Any] | None, ttl: Mapping[str, Any]) -> bool:
    if not wanted or not wanted.get("Enabled"):
        return True
    return (
        ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and ttl.get("AttributeName") == wanted["AttributeName"]
    )


def _apply_table(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    table = deployed.physical_id(name)
    ddb = deployed.aws.client("dynamodb")
    _, ttl, backups = _table_state(deployed, table)
    wanted_ttl = p.get("TimeToLiveSpecification")
    if not _ttl_ok(wanted_ttl, ttl):
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"AttributeName": wanted_ttl["AttributeName"], "Enabled": True},
        )
    if _pitr_wanted(p) and not _pitr_on(backups):
        ddb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _verify_table(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    table = deployed.physical.get(name, "")
    try:
        description, ttl, backups = _table_state(deployed, table)
    except ClientError as error:
        return [f"{name}: table {table!r} unreadable ({_error_code(error)})"]
    problems = []
    if _keys(description["KeySchema"]) != _keys(p["KeySchema"]):
        problems.append(f"{name}: key schema {description['KeySchema']}")
    wanted_attrs = sorted((a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"])
    have_attrs = sorted((a["AttributeName"], a["AttributeType"]) for a in description["AttributeDefinitions"])
    if wanted_attrs != have_attrs:
        problems.append(f"{name}: attribute definitions {have_attrs}")
    wanted_gsis = {
        g["IndexName"]: (_keys(g["KeySchema"]), g["Projection"]["ProjectionType"])
        for g in p.get("GlobalSecondaryIndexes", [])
    }
    have_gsis = {
        g["IndexName"]: (_keys(g["KeySchema"]), g["Projection"]["ProjectionType"])
        for g in description.get("GlobalSecondaryIndexes", [])
    }
    if wanted_gsis != have_gsis:
        problems.append(f"{name}: global secondary indexes {have_gsis}, template wants {wanted_gsis}")
    billing = description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing != p.get("BillingMode", "PROVISIONED"):
        problems.append(f"{name}: billing mode {billing}")
    if not _ttl_ok(p.get("TimeToLiveSpecification"), ttl):
        problems.append(f"{name}: time to live {ttl}")
    if _pitr_wanted(p) and not _pitr_on(backups):
        problems.append(f"{name}: point-in-time recovery is off")
    sse = description.get("SSEDescription")  # absent in moto (see UNVERIFIABLE_IN_MOTO)
    if (
        p.get("SSESpecification", {}).get("SSEEnabled")
        and sse
        and sse.get("Status") not in ("ENABLED", "UPDATING")
    ):
        problems.append(f"{name}: server-side encryption is {sse.get('Status')}")
    return problems


# -- CloudWatch Logs and IAM (kept although no function runs in moto: they are part of the stack)


def _apply_log_group(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    group = _log_group(deployed, deployed.physical_id(name))
    if (
        group is not None
        and "RetentionInDays" in p
        and group.get("retentionInDays") != int(p["RetentionInDays"])
    ):
        deployed.aws.client("logs").put_retention_policy(
            logGroupName=group["logGroupName"], retentionInDays=int(p["RetentionInDays"])
        )


def _log_group(deployed: _Deployed, group_name: str) -> dict[str, Any] | None:
    groups = deployed.aws.client("logs").describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == group_name), None)


def _verify_log_group(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    group = _log_group(deployed, deployed.physical.get(name, ""))
    if group is None:
        return [f"{name}: log group {deployed.physical.get(name)!r} does not exist"]
    if "RetentionInDays" in p and group.get("retentionInDays") != int(p["RetentionInDays"]):
        return [f"{name}: retention is {group.get('retentionInDays')} days"]
    return []


def _apply_role(deployed: _Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    iam = deployed.aws.client("iam")
    role = deployed.physical_id(name)
    have = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
    for policy in p.get("Policies", []):
        if policy["PolicyName"] not in have:
            iam.put_role_policy(
                RoleName=role,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
    attached = {a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    for arn in p.get("ManagedPolicyArns", []):
        if arn not in attached:  # AWS managed policies need MOTO_IAM_LOAD_MANAGED_POLICIES=true in moto
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def _verify_role(deployed: _Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    iam = deployed.aws.client("iam")
    role = deployed.physical.get(name, "")
    try:
        have = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
        attached = {
            a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        }
    except ClientError as error:
        return [f"{name}: role {role!r} unreadable ({_error_code(error)})"]
    missing = [x["PolicyName"] for x in p.get("Policies", []) if x["PolicyName"] not in have]
    missing += [arn for arn in p.get("ManagedPolicyArns", []) if arn not in attached]
    return [f"{name}: role {role} lacks policies {missing}"] if missing else []


_HANDLERS: dict[str, _Handler] = {
    "AWS::S3::Bucket": _Handler(_apply_bucket, _verify_bucket),
    "AWS::SQS::Queue": _Handler(_apply_queue, _verify_queue),
    "AWS::SQS::QueuePolicy": _Handler(_apply_queue_policy, _verify_queue_policy),
    "AWS::SNS::Topic": _Handler(_apply_topic, _verify_topic),
    "AWS::SNS::Subscription": _Handler(_apply_subscription, _verify_subscription),
    "AWS::DynamoDB::Table": _Handler(_apply_table, _verify_table),
    "AWS::Logs::LogGroup": _Handler(_apply_log_group, _verify_log_group),
    "AWS::IAM::Role": _Handler(_apply_role, _verify_role),
}


# ---------------------------------------------------------------- command line (debugging aid)


def _parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--parameter wants KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("command", choices=["deploy", "describe"])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        if args.command == "deploy":
            resources = deploy_stack(
                args.endpoint_url,
                stack_name=args.stack_name,
                region=args.region,
                parameters=_parse_parameters(args.parameter),
            )
        else:
            resources = describe_stack(args.stack_name, region=args.region, endpoint_url=args.endpoint_url)
    except (StackError, TemplateError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "stack_name": resources.stack_name,
                "seconds": round(time.perf_counter() - started, 3),
                "environment": resources.environment(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
