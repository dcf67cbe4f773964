"""The template's facts that could silently go wrong, and the two scanners, run as the CI would.

GIVEN infra/template.yaml (SAM) and its local translation to plain CloudFormation
WHEN it is linted, scanned and read
THEN it has no finding and every queue, function, role, table and output is as the design says.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from infra.cfn import references, resources_of_type, translate, without_functions
from infra.template_file import load_template
from services.api.settings import ApiSettings
from services.capture.settings import CaptureSettings
from services.classifier.settings import ClassifierSettings
from services.ingest.settings import IngestSettings
from services.router.settings import RouterSettings

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "template.yaml"
CHECKOV_CONFIG = REPO / ".checkov.yaml"
BIN = Path(sys.executable).parent

FUNCTIONS = {  # logical id → (service package, the queue it consumes)
    "IngestFunction": ("ingest", "IngestQueue"),
    "ClassifierFunction": ("classifier", "ClassifyQueue"),
    "RouterFunction": ("router", "RouteQueue"),
    "CaptureFunction": ("capture", "CaptureQueue"),
}
# The fifth function, behind the HTTP API (tests/infra/test_api_template.py checks it).
API_FUNCTION = "ApiFunction"
API_OUTPUTS = {"ApiUrl", "UserPoolId", "UserPoolClientId"}
WORK_QUEUES = ("IngestQueue", "ClassifyQueue", "RouteQueue", "CaptureQueue")
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# Actions that have no resource-level permissions: the only ones allowed on Resource "*".
ACTIONS_WITHOUT_RESOURCES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
OUTPUTS = {
    "PhotoBucketName",
    "UploadsTableName",
    "IngestQueueUrl",
    "IngestDlqUrl",
    "ClassifyQueueUrl",
    "ClassifyDlqUrl",
    "RouteQueueUrl",
    "RouteDlqUrl",
    "CaptureQueueUrl",
    "CaptureDlqUrl",
    "RoutingTopicArn",
    "CaptureTableName",
    "AlarmTopicArn",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam, region="us-east-1")


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][name]["Properties"]
    return props


def parameter_default(template: dict[str, Any], name: str) -> int:
    return int(template["Parameters"][name]["Default"])


SETTINGS: dict[str, type[BaseSettings]] = {
    "IngestFunction": IngestSettings,
    "ClassifierFunction": ClassifierSettings,
    "RouterFunction": RouterSettings,
    "CaptureFunction": CaptureSettings,
    "ApiFunction": ApiSettings,
}


def settings_aliases(settings: type[BaseSettings]) -> tuple[set[str], set[str]]:
    """The environment names a settings class reads, and those it cannot start without."""
    fields = [f for f in settings.model_fields.values() if f.validation_alias]
    return {str(f.validation_alias) for f in fields}, {
        str(f.validation_alias) for f in fields if f.is_required()
    }


# ---------------------------------------------------------------- scanners


def test_cfn_lint_has_no_finding() -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.fixture(scope="module")
def checkov(cfn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run over the SAM template and its translation (the translation shows what SAM adds)."""
    translated = tmp_path_factory.mktemp("checkov") / "translated.json"
    translated.write_text(json.dumps(cfn))
    command = [str(BIN / "checkov"), "-f", str(TEMPLATE), "-f", str(translated)]
    command += ["--framework", "cloudformation", "--config-file", str(CHECKOV_CONFIG), "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300)
    report = json.loads(result.stdout)
    assert isinstance(report, dict), report
    return report


def checks(report: dict[str, Any], outcome: str, file_name: str) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']}"
        for c in report["results"][outcome]
        if Path(c["file_path"]).name == file_name
    ]


def test_checkov_passes_the_sam_template_beyond_justified_skips(checkov: dict[str, Any]) -> None:
    assert checks(checkov, "failed_checks", TEMPLATE.name) == []
    assert len(checks(checkov, "passed_checks", TEMPLATE.name)) > 40  # the scan really ran


def test_checkov_passes_the_translated_template(checkov: dict[str, Any]) -> None:
    assert checks(checkov, "failed_checks", "translated.json") == []
    assert len(checks(checkov, "passed_checks", "translated.json")) > 40


def test_every_checkov_skip_is_justified_in_writing() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s*-\s*CKV", line)]
    assert skips, "no skip found: update this test if the config moved"
    for index in skips:
        assert lines[index - 1].strip().startswith("#"), (
            f"{lines[index].strip()} has no justification above it"
        )


# ---------------------------------------------------------------- queues


def test_every_work_queue_has_its_own_dlq_and_redrive_policy(sam: dict[str, Any]) -> None:
    queues = resources_of_type(sam, "AWS::SQS::Queue")
    targets = []
    for name in WORK_QUEUES:
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
        dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert "RedrivePolicy" not in queues[dlq]["Properties"], f"{dlq} is a DLQ with a DLQ"
        assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == 1209600  # the 14-day maximum
        targets.append(dlq)
    assert len(set(targets)) == len(WORK_QUEUES)
    assert set(queues) == set(WORK_QUEUES) | set(targets)
    assert parameter_default(sam, "MaxReceiveCount") == 5


def test_visibility_timeout_is_at_least_six_function_timeouts(sam: dict[str, Any]) -> None:
    assert parameter_default(sam, "QueueVisibilityTimeout") >= 6 * parameter_default(sam, "FunctionTimeout")
    for name in WORK_QUEUES:
        assert resource(sam, name)["VisibilityTimeout"] == {"Ref": "QueueVisibilityTimeout"}
    assert sam["Globals"]["Function"]["Timeout"] == {"Ref": "FunctionTimeout"}


def test_every_queue_is_encrypted(sam: dict[str, Any]) -> None:
    # The compensating control for checkov's CKV_AWS_27 skip.
    for name, queue in resources_of_type(sam, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


def test_only_the_bucket_may_send_to_the_ingest_queue(sam: dict[str, Any]) -> None:
    policy = resource(sam, "IngestQueuePolicy")
    assert policy["Queues"] == [{"Ref": "IngestQueue"}]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    source_arn = allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    bucket_name = resource(sam, "PhotoBucket")["BucketName"]["Fn::Sub"]
    assert source_arn == "arn:${AWS::Partition}:s3:::" + bucket_name
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    # S3 checks at creation that it may send: the policy must exist before the bucket.
    assert sam["Resources"]["PhotoBucket"]["DependsOn"] == "IngestQueuePolicy"


def test_only_the_topic_may_send_to_the_capture_queue(sam: dict[str, Any]) -> None:
    policy = resource(sam, "CaptureQueuePolicy")
    assert policy["Queues"] == [{"Ref": "CaptureQueue"}]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Ref": "RoutingTopic"}


# ---------------------------------------------------------------- bucket, topic, tables


def test_bucket_is_private_encrypted_and_notifies_the_ingest_queue(sam: dict[str, Any]) -> None:
    bucket = resource(sam, "PhotoBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "${AWS::AccountId}" in bucket["BucketName"]["Fn::Sub"]
    (notification,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "photos/"}]
    (deny,) = resource(sam, "PhotoBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_topic_is_encrypted_and_delivers_raw_to_the_capture_queue(sam: dict[str, Any]) -> None:
    assert resource(sam, "RoutingTopic")["KmsMasterKeyId"]
    subscription = resource(sam, "CaptureSubscription")
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["CaptureQueue", "Arn"]}
    assert subscription["TopicArn"] == {"Ref": "RoutingTopic"}
    assert subscription["RawMessageDelivery"] is True
    # capture records the model's decisions; a dispatcher's review is recorded by the API itself
    assert subscription["FilterPolicy"] == {"decided_by": ["model"]}


def key_schema(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def test_capture_table_keys_indexes_and_protection(sam: dict[str, Any]) -> None:
    table = resource(sam, "CaptureTable")
    assert key_schema(table["KeySchema"]) == [("photo_id", "HASH")]
    indexes = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert key_schema(indexes["by-driver"]["KeySchema"]) == [("driver_id", "HASH"), ("decided_at", "RANGE")]
    assert key_schema(indexes["by-day"]["KeySchema"]) == [("decision_day", "HASH"), ("decided_at", "RANGE")]
    depot_board = key_schema(indexes["by-depot-day"]["KeySchema"])
    assert depot_board == [("depot_day", "HASH"), ("decided_at", "RANGE")]
    open_items = key_schema(indexes["open-items"]["KeySchema"])
    assert open_items == [("open_item", "HASH"), ("decided_at", "RANGE")]
    assert {g["Projection"]["ProjectionType"] for g in indexes.values()} == {"ALL"}
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {
        "photo_id": "S",
        "driver_id": "S",
        "decision_day": "S",
        "depot_day": "S",
        "decided_at": "S",
        "open_item": "S",
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_routing_topic_is_fifo_and_so_are_its_subscriber_queues(sam: dict[str, Any]) -> None:
    # One decision per photo within SNS FIFO's deduplication window: the topic drops a repeated publish
    topic = resource(sam, "RoutingTopic")
    assert topic["FifoTopic"] is True and topic["TopicName"]["Fn::Sub"].endswith(".fifo")
    for queue in ("CaptureQueue", "CaptureDeadLetterQueue"):
        props = resource(sam, queue)
        assert props["FifoQueue"] is True and props["QueueName"]["Fn::Sub"].endswith(".fifo"), queue
    # No idempotency table for decisions: the topic deduplicates (the uploads table holds tickets).
    assert not resources_of_type(sam, "AWS::DynamoDB::Table").keys() - {"CaptureTable", "UploadsTable"}


def test_an_operator_is_woken_by_every_dlq_queue_function_and_the_endpoint(sam: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in resources_of_type(sam, "AWS::CloudWatch::Alarm").values()]
    watched = {
        (a["MetricName"], str(d["Value"]))
        for a in alarms
        for d in a.get("Dimensions", [])
        if d["Name"] != "VariantName"
    }
    for dlq in (
        "IngestDeadLetterQueue",
        "ClassifyDeadLetterQueue",
        "RouteDeadLetterQueue",
        "CaptureDeadLetterQueue",
    ):
        assert ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": [dlq, "QueueName"]})) in watched
    for queue in ("IngestQueue", "ClassifyQueue", "RouteQueue", "CaptureQueue"):
        assert ("ApproximateAgeOfOldestMessage", str({"Fn::GetAtt": [queue, "QueueName"]})) in watched
    for function in FUNCTIONS:
        assert {("Errors", str({"Ref": function})), ("Throttles", str({"Ref": function}))} <= watched
    assert {
        ("Invocation5XXErrors", "{'Ref': 'EndpointName'}"),
        ("ModelLatency", "{'Ref': 'EndpointName'}"),
    } <= watched
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_every_table_is_encrypted_and_recoverable(sam: dict[str, Any]) -> None:
    for name, table in resources_of_type(sam, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


# ---------------------------------------------------------------- functions


def test_functions_run_the_services_handlers(sam: dict[str, Any]) -> None:
    functions = resources_of_type(sam, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS) | {API_FUNCTION}
    # No shared CodeUri: each function ships its own artifact (make package, infra/packaging.py).
    assert "CodeUri" not in sam["Globals"]["Function"]
    for name, properties in ((n, f["Properties"]) for n, f in functions.items()):
        assert properties["CodeUri"].startswith("../build/") and properties["CodeUri"].endswith(".zip"), name
    assert sam["Globals"]["Function"]["Runtime"] in ("python3.12", "python3.13")
    for name, (service, _) in FUNCTIONS.items():
        assert functions[name]["Properties"]["Handler"] == f"services.{service}.handler.lambda_handler"
        assert functions[name]["Properties"]["CodeUri"] == f"../build/{service}.zip"


def test_every_function_consumes_its_queue_reporting_batch_item_failures(cfn: dict[str, Any]) -> None:
    mappings = resources_of_type(cfn, "AWS::Lambda::EventSourceMapping")
    consumed = {}
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BatchSize"] == 10
        assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchingWindow"}
        # The compensating control for checkov's CKV_AWS_115 skip.
        assert props["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaxConcurrency"}
        consumed[props["FunctionName"]["Ref"]] = props["EventSourceArn"]["Fn::GetAtt"][0]
    assert consumed == {name: queue for name, (_, queue) in FUNCTIONS.items()}


def test_each_function_is_given_only_what_its_settings_read_and_all_they_require(
    cfn: dict[str, Any],
) -> None:
    for name, settings in SETTINGS.items():
        reads, requires = settings_aliases(settings)
        variables = set(resource(cfn, name)["Environment"]["Variables"])
        assert variables - POWERTOOLS_VARIABLES <= reads, f"{name}: {variables - reads} are read by nothing"
        assert requires <= variables, f"{name} lacks {requires - variables}"
        assert (
            resource(cfn, name)["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "DriverRouting"
        )
    for name, (service, _) in FUNCTIONS.items():
        assert resource(cfn, name)["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == service
        assert resource(cfn, name)["Timeout"] == {"Ref": "FunctionTimeout"}


def test_a_function_without_a_required_setting_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a router whose environment lacks its topic
    monkeypatch.setenv("CAPTURE_TABLE", "capture")
    monkeypatch.delenv("ROUTING_TOPIC_ARN", raising=False)
    # THEN its settings refuse to load, naming what is missing
    with pytest.raises(ValidationError, match="ROUTING_TOPIC_ARN"):
        RouterSettings()


# ---------------------------------------------------------------- IAM


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for p in resource(template, role)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def target(resource_node: Any) -> str:
    """A readable name of what a statement's Resource points at."""
    if resource_node == "*":
        return "*"
    if "Fn::GetAtt" in resource_node:
        return ".".join(resource_node["Fn::GetAtt"])
    if "Ref" in resource_node:
        return str(resource_node["Ref"])
    return str(resource_node["Fn::Sub"])


def grants(template: dict[str, Any], function: str) -> set[tuple[str, str]]:
    role = resource(template, function)["Role"]["Fn::GetAtt"][0]
    found = set()
    for statement in statements(template, role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for node in as_list(statement["Resource"]):
                found.add((action, target(node)))
    return found


CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")
READ_PHOTOS = {
    ("s3:GetObject", "arn:${AWS::Partition}:s3:::${PhotoBucket}/photos/*"),
    ("s3:GetObjectVersion", "arn:${AWS::Partition}:s3:::${PhotoBucket}/photos/*"),
    ("s3:ListBucket", "PhotoBucket.Arn"),
}


def baseline(log_group: str, queue: str) -> set[tuple[str, str]]:
    return (
        {(a, f"{log_group}.Arn") for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
        | {(a, "*") for a in ACTIONS_WITHOUT_RESOURCES}
        | {(a, f"{queue}.Arn") for a in CONSUME}
    )


def test_each_role_grants_exactly_what_its_function_needs(sam: dict[str, Any]) -> None:
    endpoint = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/${EndpointName}"
    expected = {
        "IngestFunction": baseline("IngestLogGroup", "IngestQueue")
        | READ_PHOTOS
        | {("sqs:SendMessage", "ClassifyQueue.Arn"), ("sqs:SendMessage", "RouteQueue.Arn")}
        | {("dynamodb:UpdateItem", "UploadsTable.Arn")},
        "ClassifierFunction": baseline("ClassifierLogGroup", "ClassifyQueue")
        | READ_PHOTOS
        | {("sagemaker:InvokeEndpoint", endpoint), ("sqs:SendMessage", "RouteQueue.Arn")},
        "RouterFunction": baseline("RouterLogGroup", "RouteQueue")
        | {("sns:Publish", "RoutingTopic"), ("dynamodb:GetItem", "CaptureTable.Arn")},
        "CaptureFunction": baseline("CaptureLogGroup", "CaptureQueue")
        | {("dynamodb:PutItem", "CaptureTable.Arn")},
    }
    for function, wanted in expected.items():
        assert grants(sam, function) == wanted, function


def test_no_wildcard_action_and_no_wildcard_resource_where_an_arn_is_known(cfn: dict[str, Any]) -> None:
    roles = resources_of_type(cfn, "AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS) + 1
    for role in roles:
        for statement in statements(cfn, role):
            actions = as_list(statement["Action"])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], (role, actions)
            if "*" in as_list(statement["Resource"]):
                assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (role, actions)
        assert not resource(cfn, role).get("ManagedPolicyArns"), (
            f"{role}: managed policies apply to any resource"
        )


def test_sagemaker_endpoint_is_a_parameter(sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["EndpointName"]["Default"] == "vehicle-classifier"
    assert re.fullmatch(sam["Parameters"]["EndpointName"]["AllowedPattern"], "vehicle-classifier")


# ---------------------------------------------------------------- outputs and the local variant


def test_outputs_name_every_resource_the_local_stack_reads(sam: dict[str, Any]) -> None:
    assert set(sam["Outputs"]) == OUTPUTS | API_OUTPUTS


def test_local_template_has_no_function_and_keeps_everything_else(cfn: dict[str, Any]) -> None:
    local = without_functions(cfn)
    types = {r["Type"] for r in local["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Lambda::")}
    dropped = set(cfn["Resources"]) - set(local["Resources"])
    # The functions, and the alarms on their errors and throttles
    assert {cfn["Resources"][name]["Type"] for name in dropped} == {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        # the API's, played locally by local.api_gateway (its schedule too) and local.identity
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolGroup",
        "AWS::CloudWatch::Alarm",
    }
    assert set(local["Outputs"]) == OUTPUTS
    for name, res in local["Resources"].items():
        assert references(res) <= set(local["Resources"]) | set(local["Parameters"]), name
