"""Roles and log groups: kept although no function runs in moto, because they are part of the stack.
Inline and managed policies and log retention are applied where missing, then verified."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from local.deploy.deployed import Deployed
from local.deploy.errors import error_code


def apply_log_group(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    group = _log_group(deployed, deployed.physical_id(name))
    if (
        group is not None
        and "RetentionInDays" in p
        and group.get("retentionInDays") != int(p["RetentionInDays"])
    ):
        deployed.client("logs").put_retention_policy(
            logGroupName=group["logGroupName"], retentionInDays=int(p["RetentionInDays"])
        )


def _log_group(deployed: Deployed, group_name: str) -> dict[str, Any] | None:
    groups = deployed.client("logs").describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == group_name), None)


def verify_log_group(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    group = _log_group(deployed, deployed.physical.get(name, ""))
    if group is None:
        return [f"{name}: log group {deployed.physical.get(name)!r} does not exist"]
    if "RetentionInDays" in p and group.get("retentionInDays") != int(p["RetentionInDays"]):
        return [f"{name}: retention is {group.get('retentionInDays')} days"]
    return []


def apply_role(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    iam = deployed.client("iam")
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


def verify_role(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    iam = deployed.client("iam")
    role = deployed.physical.get(name, "")
    try:
        have = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
        attached = {
            a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        }
    except ClientError as error:
        return [f"{name}: role {role!r} unreadable ({error_code(error)})"]
    missing = [x["PolicyName"] for x in p.get("Policies", []) if x["PolicyName"] not in have]
    missing += [arn for arn in p.get("ManagedPolicyArns", []) if arn not in attached]
    return [f"{name}: role {role} lacks policies {missing}"] if missing else []
