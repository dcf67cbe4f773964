"""The local stack: infra/template.yaml deployed into moto, then completed and verified.

Steps (`deploy_stack`):
1. SAM-translate the template locally (samtranslator, no AWS call) and drop the Lambda functions and
   their event-source mappings: moto would invoke them through Docker; the project's pollers play them.
2. create_stack (or update_stack when the template or parameters changed) in moto's CloudFormation
   (`stack.py`).
3. Apply with boto3 what moto's CloudFormation skips, read from the same template: queue policies,
   the SNS subscription, the bucket's notification, public access block, versioning, lifecycle and
   ownership controls, the tables' TTL and point-in-time recovery (see SKIPPED_BY_MOTO). The bucket
   policy is left out on purpose (see LOCAL_OMITTED_TYPES). One module per service (`s3.py`, `sqs.py`,
   `sns.py`, `dynamodb.py`, `iam_logs.py`), chosen by resource type in `registry.py`.
4. Verify every resource against the template (CREATE_COMPLETE proves nothing in moto) and raise
   `StackVerificationError` listing every difference.

Each step is idempotent: a second call against a deployed stack changes nothing (in particular it does
not configure the bucket notification again, which would queue another s3:TestEvent) and returns the
same resources.

The endpoint is a moto server's URL, or None for boto3's own resolution: in-process moto
(`moto.mock_aws`), which gives unit tests the template's resources without a server.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

import boto3

from driver_routing.stack_outputs import (
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    REQUIRED_OUTPUTS,
    StackResources,
    resources_from_outputs,
)
from infra.cfn import translate, without_functions
from infra.template_file import TEMPLATE_PATH, Template, load_template
from local.deploy.deployed import Deployed
from local.deploy.errors import LocalStackError, StackVerificationError
from local.deploy.registry import handler
from local.deploy.stack import create_or_update, parameter_values
from shared.aws.clients import client

__all__ = [
    "LOCAL_OMITTED_TYPES",
    "SKIPPED_BY_MOTO",
    "UNVERIFIABLE_IN_MOTO",
    "LocalStackError",
    "StackVerificationError",
    "deploy_stack",
    "local_template",
    "needs_managed_policies",
]

log = logging.getLogger(__name__)

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
    "AWS::CloudWatch::Alarm",
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


def deploy_stack(
    aws_url: str | None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    parameters: Mapping[str, str] | None = None,
) -> StackResources:
    """Deploy infra/template.yaml into moto at `aws_url` (None: boto3's default endpoint, e.g. in-process
    moto), complete it, verify it."""
    started = time.perf_counter()
    sam = load_template(TEMPLATE_PATH)
    values = parameter_values(sam, parameters)
    template = local_template(sam, region=region, parameters=values)
    _dummy_credentials_unless_configured()

    create_or_update(client("cloudformation", region, aws_url), stack_name, template, values)
    deployed = Deployed(stack_name, template, region=region, endpoint_url=aws_url)
    for name, resource in template["Resources"].items():
        handler(resource["Type"]).apply(deployed, name, resource.get("Properties", {}))
    problems = [
        problem
        for name, resource in template["Resources"].items()
        for problem in handler(resource["Type"]).verify(deployed, name, resource.get("Properties", {}))
    ]
    problems += [f"output {key} is missing" for key in REQUIRED_OUTPUTS if key not in deployed.outputs]
    if problems:
        raise StackVerificationError(stack_name, problems)
    resources = resources_from_outputs(stack_name, deployed.outputs, region=region, endpoint_url=aws_url)
    log.info("stack %s deployed and verified in %.2f s", stack_name, time.perf_counter() - started)
    return resources


def local_template(sam: Template, *, region: str, parameters: Mapping[str, str]) -> Template:
    """The CloudFormation the local stack creates: translated, without functions and local omissions."""
    template = without_functions(translate(sam, region=region, parameters=parameters))
    omitted = [n for n, r in template["Resources"].items() if r["Type"] in LOCAL_OMITTED_TYPES]
    for name in omitted:
        del template["Resources"][name]
    return template


def needs_managed_policies(region: str = DEFAULT_REGION, parameters: Mapping[str, str] | None = None) -> bool:
    """Whether a role of the local stack attaches an AWS managed policy: moto then has to load its ~1,000
    managed policies (`MOTO_IAM_LOAD_MANAGED_POLICIES`, ~40 MB of the server's memory)."""
    sam = load_template(TEMPLATE_PATH)
    template = local_template(sam, region=region, parameters=parameter_values(sam, parameters))
    return any(
        resource.get("Properties", {}).get("ManagedPolicyArns")
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
    )


def _dummy_credentials_unless_configured() -> None:
    """moto accepts any credentials, but botocore signs nothing without some: a laptop without an AWS
    profile still gets a local stack."""
    if boto3.session.Session().get_credentials() is None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
