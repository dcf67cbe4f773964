"""The photo bucket: what moto's CloudFormation skips (notification, public access block, versioning,
lifecycle, ownership controls) applied with boto3, then every setting compared with the template."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from infra.template_file import TemplateError
from local.deploy.deployed import Deployed
from local.deploy.errors import error_code


def _bucket_wanted(deployed: Deployed, props: dict[str, Any]) -> dict[str, Any]:
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
        raise TemplateError(
            f"bucket notifications {sorted(unsupported)} are not handled by local/deploy/s3.py"
        )
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


def _bucket_actual(deployed: Deployed, bucket: str) -> dict[str, Any]:
    s3 = deployed.client("s3")

    def read(call: Callable[[], Any], missing: str) -> Any:
        try:
            return call()
        except ClientError as error:
            if error_code(error) == missing:
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


def apply_bucket(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    bucket = deployed.physical_id(name)
    s3 = deployed.client("s3")
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


def verify_bucket(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    bucket = deployed.physical.get(name, "")
    try:
        deployed.client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        return [f"{name}: bucket {bucket!r} does not exist"]
    wanted, actual = _bucket_wanted(deployed, props), _bucket_actual(deployed, bucket)
    return [
        f"{name}: {key} is {actual[key]!r}, template wants {value!r}"
        for key, value in wanted.items()
        if actual[key] != value
    ]
