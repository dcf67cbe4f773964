"""Deploying the classifier to SageMaker with plain boto3.

GIVEN the committed model artifact and moto's in-process SageMaker and S3
WHEN deploy() runs (instances with data capture, or serverless)
THEN model.tar.gz is in S3, the model, endpoint config and endpoint exist as asked, and a second run
     creates nothing. moto does not implement update_endpoint: the in-place update is checked with
     botocore's Stubber, call by call.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner
from moto import mock_aws

from infra.sagemaker_endpoint import DeployConfig, command, deploy, package_model

REGION = "us-east-1"
BUCKET = "models-bucket"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/vehicle-classifier:1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
MODEL_DIR = Path(__file__).resolve().parents[2] / "model" / "artifacts"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield {"s3": s3, "sagemaker": boto3.client("sagemaker", region_name=REGION)}


def config(**overrides: Any) -> DeployConfig:
    return DeployConfig(
        endpoint_name="vehicle-classifier", image_uri=IMAGE, role_arn=ROLE, bucket=BUCKET, **overrides
    )


def test_model_tar_gz_holds_every_graph_and_is_reproducible() -> None:
    first = package_model(MODEL_DIR)
    assert first == package_model(MODEL_DIR)
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "model.onnx", "thumbnail.onnx"]
        for name in tar.getnames():
            member = tar.extractfile(name)
            assert member is not None
            assert member.read() == (MODEL_DIR / name).read_bytes()


def test_instance_endpoint_with_full_data_capture(aws: dict[str, Any]) -> None:
    result = deploy(config(), aws["s3"], aws["sagemaker"], wait=True)
    sm = aws["sagemaker"]

    key = result["model_data_url"].removeprefix(f"s3://{BUCKET}/")
    body = aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == package_model(MODEL_DIR)

    model = sm.describe_model(ModelName=result["model_name"])
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == result["model_data_url"]
    assert model["ExecutionRoleArn"] == ROLE

    endpoint_config = sm.describe_endpoint_config(EndpointConfigName=result["endpoint_config_name"])
    (variant,) = endpoint_config["ProductionVariants"]
    assert variant["ModelName"] == result["model_name"]
    assert variant["InstanceType"] == "ml.c5.large"
    assert variant["InitialInstanceCount"] == 1
    capture = endpoint_config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/vehicle-classifier/data-capture"
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}

    endpoint = sm.describe_endpoint(EndpointName="vehicle-classifier")
    assert endpoint["EndpointConfigName"] == result["endpoint_config_name"]
    assert endpoint["EndpointStatus"] == "InService"
    assert result["actions"][-1] == "endpoint InService"


def test_a_second_identical_deploy_creates_nothing(aws: dict[str, Any]) -> None:
    first = deploy(config(), aws["s3"], aws["sagemaker"])
    second = deploy(config(), aws["s3"], aws["sagemaker"])
    assert second["endpoint_config_name"] == first["endpoint_config_name"]
    assert second["actions"][1:] == [
        f"endpoint vehicle-classifier already uses {first['endpoint_config_name']}"
    ]
    assert len(aws["sagemaker"].list_models()["Models"]) == 1
    assert len(aws["sagemaker"].list_endpoint_configs()["EndpointConfigs"]) == 1


def test_serverless_variant_has_no_instances_and_no_capture_by_default(aws: dict[str, Any]) -> None:
    result = deploy(config(serverless=True, memory_mb=3072, max_concurrency=8), aws["s3"], aws["sagemaker"])
    described = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=result["endpoint_config_name"])
    (variant,) = described["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 8}
    assert "InstanceType" not in variant
    assert not described.get("DataCaptureConfig", {}).get("EnableCapture")  # moto answers {} when absent
    assert result["data_capture"] is None


def test_update_in_place_when_the_endpoint_exists_with_another_config(aws: dict[str, Any]) -> None:
    """moto lacks update_endpoint: the SageMaker calls are stubbed, S3 stays moto's."""
    sm = boto3.client("sagemaker", region_name=REGION)
    cfg = config(instance_type="ml.c5.xlarge")
    with Stubber(sm) as stub:
        stub.add_client_error("describe_model", "ValidationException", "Could not find model")
        stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"})
        stub.add_client_error(
            "describe_endpoint_config", "ValidationException", "Could not find endpoint config"
        )
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c"},
            {
                "EndpointConfigName": ANY,
                "ProductionVariants": ANY,
                "DataCaptureConfig": ANY,
                "Tags": ANY,
            },
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "vehicle-classifier",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/vehicle-classifier",
                "EndpointConfigName": "vehicle-classifier-old",
                "EndpointStatus": "InService",
                "CreationTime": "2024-01-01T00:00:00Z",
                "LastModifiedTime": "2024-01-01T00:00:00Z",
            },
            {"EndpointName": "vehicle-classifier"},
        )
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/vehicle-classifier"},
            {"EndpointName": "vehicle-classifier", "EndpointConfigName": ANY},
        )
        result = deploy(cfg, aws["s3"], sm)
        stub.assert_no_pending_responses()
    assert result["actions"][-1] == (
        f"updated endpoint vehicle-classifier in place to {result['endpoint_config_name']}"
    )


def test_real_errors_are_not_mistaken_for_absence(aws: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    sm = boto3.client("sagemaker", region_name=REGION)
    with Stubber(sm) as stub:
        stub.add_client_error("describe_model", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(ClientError, match="AccessDenied"):
            deploy(config(), aws["s3"], sm)


def test_cli_deploys_and_prints_json(aws: dict[str, Any]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        command,
        ["--image-uri", IMAGE, "--role-arn", ROLE, "--bucket", BUCKET, "--serverless", "--json"],
        env={"AWS_REGION": REGION},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["serverless"] is True
    assert summary["model_version"] == json.loads((MODEL_DIR / "metadata.json").read_text())["model_version"]
