"""The routing topic and its subscriptions: the subscription (RawMessageDelivery included) that moto's
CloudFormation skips, applied with boto3 and then compared with the template."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from local.deploy.deployed import Deployed
from local.deploy.errors import error_code


def verify_topic(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    arn = deployed.physical.get(name, "")
    try:
        attributes = deployed.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    except ClientError as error:
        return [f"{name}: topic {arn!r} unreadable ({error_code(error)})"]
    problems = []
    if "TopicName" in p and not arn.endswith(f":{p['TopicName']}"):
        problems.append(f"{name}: topic {arn} is not named {p['TopicName']}")
    if str(p.get("FifoTopic", False)).lower() != attributes.get("FifoTopic", "false").lower():
        problems.append(f"{name}: FifoTopic is {attributes.get('FifoTopic')!r}")
    if "KmsMasterKeyId" in p and attributes.get("KmsMasterKeyId") != p["KmsMasterKeyId"]:
        problems.append(f"{name}: KmsMasterKeyId is {attributes.get('KmsMasterKeyId')!r}")
    return problems


def apply_topic(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    p = deployed.resolve(props)
    if "KmsMasterKeyId" in p:
        sns = deployed.client("sns")
        arn = deployed.physical_id(name)
        if sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId") != p["KmsMasterKeyId"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=p["KmsMasterKeyId"]
            )


_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")


def _subscription_wanted(deployed: Deployed, props: dict[str, Any]) -> tuple[str, str, str, dict[str, str]]:
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


def _find_subscription(deployed: Deployed, topic: str, protocol: str, endpoint: str) -> str | None:
    paginator = deployed.client("sns").get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic):
        for sub in page["Subscriptions"]:
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                arn: str = sub["SubscriptionArn"]
                return arn
    return None


def apply_subscription(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    topic, protocol, endpoint, attributes = _subscription_wanted(deployed, props)
    sns = deployed.client("sns")
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


def verify_subscription(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    topic, protocol, endpoint, attributes = _subscription_wanted(deployed, props)
    arn = _find_subscription(deployed, topic, protocol, endpoint)
    if arn is None:
        return [f"{name}: no {protocol} subscription of {endpoint} to {topic}"]
    current = deployed.client("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    return [
        f"{name}: {key} is {current.get(key)!r}, template wants {value!r}"
        for key, value in attributes.items()
        if current.get(key) != value
    ]
