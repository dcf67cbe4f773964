"""The local stack deployed from infra/template.yaml into a real moto server, then exercised.

GIVEN a moto server of this module's own, on a free port
WHEN deploy_stack builds the stack from the template
THEN every resource exists as the template says, messages flow S3 → ingest queue and
     topic → capture queue (raw), redrive works, and a second deploy changes nothing.

The same deploy into in-process moto (no server, `deploy_stack(None)`) is checked last: unit tests
build their resources that way.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import moto
import pytest

from driver_routing.stack_outputs import QueueRef, StackNotFoundError, StackResources, describe_stack
from local.deploy import LocalStackError, StackVerificationError, deploy_stack, registry
from local.processes import free_port, stop_processes, wait_for_http
from services.router.domain import decide_review
from shared.aws.messaging import DecisionTopic
from shared.contracts import Review, RoutingDecision
from tests.decisions import BIKE, RULES, decided, sure, unsure

REGION = "us-east-1"
STACK = "test-routing"
# Short timeouts, as the local pollers use; MaxReceiveCount 2 makes redrive quick to see.
PARAMETERS = {"FunctionTimeout": "5", "QueueVisibilityTimeout": "30", "MaxReceiveCount": "2"}
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_http(f"{url}/moto-api/", 20, process)
        yield url
    finally:
        stop_processes(process, timeout_s=10)


@pytest.fixture(scope="module")
def deployed(endpoint: str) -> tuple[StackResources, float]:
    started = time.perf_counter()
    resources = deploy_stack(endpoint, stack_name=STACK, region=REGION, parameters=PARAMETERS)
    return resources, time.perf_counter() - started


@pytest.fixture(scope="module")
def stack(deployed: tuple[StackResources, float]) -> StackResources:
    return deployed[0]


def client(endpoint: str | None, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)  # type: ignore[call-overload]


def receive_all(sqs: Any, url: str, wanted: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < wanted and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)
    return messages


def depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


# ---------------------------------------------------------------- the deploy itself


def test_deploy_is_quick_and_returns_every_resource(deployed: tuple[StackResources, float]) -> None:
    stack, seconds = deployed
    assert seconds < 30, f"deploy_stack took {seconds:.1f} s"
    assert set(stack.queues) == {"ingest", "classify", "route", "capture"}
    for key, queue in stack.queues.items():
        # The routing topic is FIFO, so is its subscriber queue (and that queue's DLQ)
        fifo = ".fifo" if key == "capture" else ""
        assert queue.name == f"{STACK}-{key}{fifo}"
        assert queue.arn == f"arn:aws:sqs:{REGION}:123456789012:{STACK}-{key}{fifo}"
        assert queue.dlq_arn == f"arn:aws:sqs:{REGION}:123456789012:{STACK}-{key}-dlq{fifo}"
        assert queue.url.endswith(f"/{STACK}-{key}{fifo}") and queue.dlq_url.endswith(
            f"/{STACK}-{key}-dlq{fifo}"
        )
    assert stack.bucket == f"{STACK}-photos-123456789012-{REGION}"
    assert stack.topic_arn.endswith(f":{STACK}-routing.fifo")
    assert stack.capture_table == f"{STACK}-capture"


def test_environment_names_every_resource(stack: StackResources) -> None:
    env = stack.environment()
    assert set(env) == {
        "PHOTO_BUCKET",
        "ROUTING_TOPIC_ARN",
        "CAPTURE_TABLE",
        "UPLOADS_TABLE",
        *(f"{q}_{kind}_URL" for q in ("INGEST", "CLASSIFY", "ROUTE", "CAPTURE") for kind in ("QUEUE", "DLQ")),
    }
    assert env["CLASSIFY_QUEUE_URL"] == stack.queues["classify"].url
    assert env["ROUTE_DLQ_URL"] == stack.queues["route"].dlq_url


def test_queue_urls_point_at_the_moto_server(endpoint: str, stack: StackResources) -> None:
    for queue in stack.queues.values():
        assert queue.url.startswith(endpoint) and queue.dlq_url.startswith(endpoint)


def test_describe_stack_reads_the_same_resources(endpoint: str, stack: StackResources) -> None:
    assert describe_stack(STACK, region=REGION, endpoint_url=endpoint) == stack


def test_describe_stack_of_a_missing_stack_says_so(endpoint: str) -> None:
    with pytest.raises(StackNotFoundError, match="no-such-stack"):
        describe_stack("no-such-stack", region=REGION, endpoint_url=endpoint)


def test_parameters_are_checked_before_any_call(endpoint: str) -> None:
    with pytest.raises(ValueError, match="unknown template parameters"):
        deploy_stack(endpoint, stack_name="typo", parameters={"FunctionTimeOut": "5"})
    with pytest.raises(ValueError, match="below FunctionTimeout"):
        deploy_stack(
            endpoint, stack_name="short", parameters={"FunctionTimeout": "60", "QueueVisibilityTimeout": "30"}
        )


# ---------------------------------------------------------------- what flows


def test_a_photo_put_reaches_the_ingest_queue_after_s3_test_event(
    endpoint: str, stack: StackResources
) -> None:
    s3, sqs = client(endpoint, "s3"), client(endpoint, "sqs")
    put = s3.put_object(Bucket=stack.bucket, Key="photos/d1/a.jpg", Body=b"\xff\xd8 not really a jpeg")
    s3.put_object(Bucket=stack.bucket, Key="elsewhere/b.jpg", Body=b"outside the prefix")

    messages = receive_all(sqs, stack.queues["ingest"].url, wanted=2)
    # moto sends the notification during put_object: anything else would already be queued.
    assert sqs.receive_message(QueueUrl=stack.queues["ingest"].url, WaitTimeSeconds=0).get("Messages") is None

    bodies = [json.loads(m["Body"]) for m in messages]
    assert bodies[0]["Event"] == "s3:TestEvent"  # sent when the notification was configured
    assert bodies[0]["Bucket"] == stack.bucket
    records = [r for body in bodies[1:] for r in body["Records"]]
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in records] == ["photos/d1/a.jpg"]
    assert records[0]["eventName"].startswith("ObjectCreated:")
    assert records[0]["s3"]["bucket"]["name"] == stack.bucket
    assert records[0]["s3"]["object"]["eTag"].strip('"') == put["ETag"].strip('"')
    # The bucket is versioned, but moto's event record carries no versionId (AWS's does).
    assert put["VersionId"]


def test_a_decision_published_to_the_topic_reaches_the_capture_queue_raw(
    endpoint: str, stack: StackResources
) -> None:
    sns, sqs = client(endpoint, "sns"), client(endpoint, "sqs")
    topic = DecisionTopic(sns, stack.topic_arn)
    decision = decided(sure(), key="photos/d1/a.jpg")
    reviewed = decide_review(
        decided(unsure(), key="photos/d1/b.jpg"), Review(reviewer="pat", label=BIKE), RULES
    )

    for sent in (decision, decision, reviewed):  # the router's retry after a crash: FIFO keeps the first
        entry = topic.entry(0, sent)
        del entry["Id"]
        sns.publish(TopicArn=stack.topic_arn, **entry)

    # THEN the model's decision arrives once, raw (no SNS envelope), with the attributes it was sent
    # with; the dispatcher's review does not reach capture (the subscription's filter policy)
    (received,) = receive_all(sqs, stack.queues["capture"].url, wanted=2, timeout_s=2)
    assert RoutingDecision.model_validate_json(received["Body"]) == decision
    attributes = {name: value["StringValue"] for name, value in received["MessageAttributes"].items()}
    assert attributes == decision.message_attributes()
    assert (attributes["route"], attributes["outcome"], attributes["decided_by"]) == (
        "short-radius",
        "routed",
        "model",
    )


def test_a_message_received_too_often_moves_to_its_dlq(endpoint: str, stack: StackResources) -> None:
    sqs = client(endpoint, "sqs")
    queue: QueueRef = stack.queues["classify"]
    sqs.send_message(QueueUrl=queue.url, MessageBody="poison")

    for _ in range(int(PARAMETERS["MaxReceiveCount"])):
        got = sqs.receive_message(QueueUrl=queue.url, VisibilityTimeout=0, WaitTimeSeconds=1)
        assert got.get("Messages"), "the message should still be in the queue"
    sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=0)  # the receive that finds it over the limit

    (dead,) = receive_all(sqs, queue.dlq_url, wanted=1)
    assert dead["Body"] == "poison"


# ---------------------------------------------------------------- what the stack holds


def test_every_queue_has_its_redrive_policy_and_timeouts(endpoint: str, stack: StackResources) -> None:
    sqs = client(endpoint, "sqs")
    for key, queue in stack.queues.items():
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == queue.dlq_arn, key
        assert int(redrive["maxReceiveCount"]) == int(PARAMETERS["MaxReceiveCount"]), key
        assert attributes["VisibilityTimeout"] == PARAMETERS["QueueVisibilityTimeout"], key
        assert attributes["SqsManagedSseEnabled"] == "true", key


def test_queue_policies_admit_only_the_bucket_and_the_topic(endpoint: str, stack: StackResources) -> None:
    sqs = client(endpoint, "sqs")

    def allow(key: str) -> dict[str, Any]:
        url = stack.queues[key].url
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )
        (statement,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert statement["Resource"] == stack.queues[key].arn
        condition: dict[str, Any] = statement["Condition"]
        return condition

    ingest = allow("ingest")
    assert ingest["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{stack.bucket}"
    assert ingest["StringEquals"]["aws:SourceAccount"] == "123456789012"
    assert allow("capture")["ArnEquals"]["aws:SourceArn"] == stack.topic_arn


def test_bucket_blocks_public_access_and_is_versioned_encrypted_and_expiring(
    endpoint: str, stack: StackResources
) -> None:
    s3 = client(endpoint, "s3")
    block = s3.get_public_access_block(Bucket=stack.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    controls = s3.get_bucket_ownership_controls(Bucket=stack.bucket)["OwnershipControls"]["Rules"]
    assert controls == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=stack.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=stack.bucket)["Rules"]
    assert {r["ID"] for r in lifecycle} == {"expire-photos", "abort-incomplete-uploads"}


def test_tables_have_their_keys_indexes_ttl_and_pitr(endpoint: str, stack: StackResources) -> None:
    ddb = client(endpoint, "dynamodb")
    capture = ddb.describe_table(TableName=stack.capture_table)["Table"]
    assert capture["KeySchema"] == [{"AttributeName": "photo_id", "KeyType": "HASH"}]
    indexes = {g["IndexName"]: g for g in capture["GlobalSecondaryIndexes"]}
    assert indexes["by-driver"]["KeySchema"] == [
        {"AttributeName": "driver_id", "KeyType": "HASH"},
        {"AttributeName": "decided_at", "KeyType": "RANGE"},
    ]
    assert indexes["by-day"]["KeySchema"] == [
        {"AttributeName": "decision_day", "KeyType": "HASH"},
        {"AttributeName": "decided_at", "KeyType": "RANGE"},
    ]
    assert {g["Projection"]["ProjectionType"] for g in indexes.values()} == {"ALL"}
    assert capture["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    for table, attribute in ((stack.capture_table, "expires_at"),):
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", attribute)
        backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bucket_policy_is_left_out_locally(endpoint: str, stack: StackResources) -> None:
    # Its DenyInsecureTransport statement would make moto refuse every object call over plain HTTP.
    s3 = client(endpoint, "s3")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=stack.bucket)


def test_no_function_or_event_source_mapping_exists_in_moto(endpoint: str, stack: StackResources) -> None:
    lam = client(endpoint, "lambda")
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


# ---------------------------------------------------------------- idempotence and repair


def test_redeploy_changes_nothing_and_queues_no_second_test_event(
    endpoint: str, stack: StackResources, caplog: pytest.LogCaptureFixture
) -> None:
    sqs, sns = client(endpoint, "sqs"), client(endpoint, "sns")
    before = depth(sqs, stack.queues["ingest"].url)

    with caplog.at_level(logging.INFO, logger="local.deploy"):
        again = deploy_stack(endpoint, stack_name=STACK, region=REGION, parameters=PARAMETERS)

    assert again == stack
    assert "updating" not in caplog.text  # same template and parameters: no update_stack
    assert "deployed and verified" in caplog.text
    assert depth(sqs, stack.queues["ingest"].url) == before
    assert len(sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]) == 1


def test_redeploy_repairs_what_was_removed(endpoint: str, stack: StackResources) -> None:
    sqs, ddb = client(endpoint, "sqs"), client(endpoint, "dynamodb")
    sqs.set_queue_attributes(QueueUrl=stack.queues["capture"].url, Attributes={"Policy": ""})
    ddb.update_time_to_live(
        TableName=stack.capture_table,
        TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": False},
    )

    deploy_stack(endpoint, stack_name=STACK, region=REGION, parameters=PARAMETERS)

    attributes = sqs.get_queue_attributes(QueueUrl=stack.queues["capture"].url, AttributeNames=["Policy"])
    assert "sns.amazonaws.com" in attributes["Attributes"]["Policy"]
    ttl = ddb.describe_time_to_live(TableName=stack.capture_table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_changed_parameters_update_the_stack_in_place(endpoint: str) -> None:
    first = deploy_stack(endpoint, stack_name="test-update", region=REGION, parameters=PARAMETERS)
    sqs = client(endpoint, "sqs")
    sqs.send_message(QueueUrl=first.queues["route"].url, MessageBody="kept")

    second = deploy_stack(
        endpoint,
        stack_name="test-update",
        region=REGION,
        parameters={**PARAMETERS, "QueueVisibilityTimeout": "45"},
    )

    assert second == first
    attributes = sqs.get_queue_attributes(QueueUrl=second.queues["route"].url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["ApproximateNumberOfMessages"] == "1"


def test_verification_reports_what_moto_left_missing(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the step that applies queue policies does nothing (as moto's CloudFormation does)
    handler = registry.HANDLERS["AWS::SQS::QueuePolicy"]
    monkeypatch.setitem(
        registry.HANDLERS,
        "AWS::SQS::QueuePolicy",
        registry.Handler(registry.nothing_to_apply, handler.verify),
    )
    # WHEN a fresh stack is deployed THEN verification names both policies that are missing
    with pytest.raises(StackVerificationError) as raised:
        deploy_stack(endpoint, stack_name="test-unverified", region=REGION, parameters=PARAMETERS)
    assert sorted(p.split(":")[0] for p in raised.value.problems) == [
        "CaptureQueuePolicy",
        "IngestQueuePolicy",
    ]


# ---------------------------------------------------------------- in-process moto, no server


# moto warns for each resource its CloudFormation skips: those are SKIPPED_BY_MOTO, applied by deploy_stack.
in_process_moto = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


@pytest.fixture
def in_process() -> Iterator[tuple[StackResources, float]]:
    with moto.mock_aws():
        started = time.perf_counter()
        resources = deploy_stack(None, stack_name="unit-routing", region=REGION)
        yield resources, time.perf_counter() - started


@in_process_moto
def test_deploy_into_in_process_moto_builds_what_the_template_says(
    in_process: tuple[StackResources, float],
) -> None:
    # GIVEN mock_aws WHEN deploy_stack(None) (the fixture) THEN every resource is there, as the template says
    stack, seconds = in_process
    assert seconds < 10, f"in-process deploy_stack took {seconds:.1f} s"
    s3, sqs, sns, ddb = (client(None, s) for s in ("s3", "sqs", "sns", "dynamodb"))

    assert s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
    (notification,) = s3.get_bucket_notification_configuration(Bucket=stack.bucket)["QueueConfigurations"]
    assert notification["QueueArn"] == stack.queues["ingest"].arn
    assert set(stack.queues) == {"ingest", "classify", "route", "capture"}
    for key, queue in stack.queues.items():
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
        assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == queue.dlq_arn, key
        assert sqs.get_queue_attributes(QueueUrl=queue.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", stack.queues["capture"].arn)
    raw = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert raw["RawMessageDelivery"] == "true"
    for table, key, ttl_attribute in ((stack.capture_table, "photo_id", "expires_at"),):
        schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
        assert schema == [{"AttributeName": key, "KeyType": "HASH"}]
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", ttl_attribute)


@in_process_moto
def test_in_process_redeploy_returns_the_same_resources(in_process: tuple[StackResources, float]) -> None:
    # GIVEN a stack deployed into in-process moto WHEN deployed again THEN nothing differs
    assert deploy_stack(None, stack_name="unit-routing", region=REGION) == in_process[0]


def test_a_resource_type_without_a_handler_is_an_error_not_a_pass() -> None:
    # GIVEN a type the local stack was never checked with WHEN its handler is asked for THEN it refuses
    with pytest.raises(LocalStackError, match=r"AWS::Kinesis::Stream .*registry\.py"):
        registry.handler("AWS::Kinesis::Stream")
