"""Deploy the vehicle classifier to a SageMaker endpoint with plain boto3 (bring-your-own container).

Steps, each idempotent: package `model.tar.gz` (the graphs + metadata.json, byte-for-byte reproducible)
and upload it to S3; create the model (the Dockerfile's image, pushed to ECR); create an endpoint
config (instances with DataCaptureConfig, 100% of requests and responses to an S3 prefix; or
`--serverless` with ServerlessConfig); create the endpoint, or update an existing one in place to the
new config (SageMaker then swaps it with no downtime).

Names derive from the artifact's sha256 and the config's content, so running the same deploy twice
creates nothing new.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from model.metadata import METADATA_FILE, ModelMetadata

VARIANT = "AllTraffic"
CAPTURE_CONTENT_TYPES = {"JsonContentTypes": ["application/json", "application/jsonlines"]}


@dataclass(frozen=True)
class DeployConfig:
    endpoint_name: str
    image_uri: str
    role_arn: str
    bucket: str
    prefix: str = "vehicle-classifier"
    model_dir: Path = Path(__file__).resolve().parent.parent / "model" / "artifacts"
    instance_type: str = "ml.c5.large"
    instance_count: int = 1
    serverless: bool = False
    memory_mb: int = 2048
    max_concurrency: int = 5
    capture: bool | None = None  # None: on for instances, off for serverless (no data capture there)
    capture_uri: str | None = None  # default s3://{bucket}/{prefix}/data-capture
    sampling_percentage: int = 100
    tags: dict[str, str] = field(default_factory=lambda: {"project": "driver-routing"})

    @property
    def capture_enabled(self) -> bool:
        return (not self.serverless) if self.capture is None else self.capture

    @property
    def capture_destination(self) -> str:
        return self.capture_uri or f"s3://{self.bucket}/{self.prefix}/data-capture"


def artifact_files(model_dir: Path) -> list[str]:
    """metadata.json and every graph it names: the photo graph and, when trained, the thumbnail graph."""
    return [METADATA_FILE, *sorted(ModelMetadata.load(model_dir).graph_files().values())]


def package_model(model_dir: Path) -> bytes:
    """model.tar.gz with fixed order, mtimes and owners: the same artifact gives the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in artifact_files(model_dir):
            data = (model_dir / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def model_version(model_dir: Path) -> str:
    return ModelMetadata.load(model_dir).model_version


def _short(text: str, n: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _name(base: str, suffix: str) -> str:
    """SageMaker names: at most 63 characters of [a-zA-Z0-9-]."""
    return f"{base[: 62 - len(suffix)]}-{suffix}"


def production_variant(cfg: DeployConfig, model_name: str) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model_name}
    if cfg.serverless:
        variant["ServerlessConfig"] = {"MemorySizeInMB": cfg.memory_mb, "MaxConcurrency": cfg.max_concurrency}
    else:
        variant.update(
            {
                "InstanceType": cfg.instance_type,
                "InitialInstanceCount": cfg.instance_count,
                "InitialVariantWeight": 1.0,
            }
        )
    return variant


def data_capture(cfg: DeployConfig) -> dict[str, Any]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": cfg.sampling_percentage,
        "DestinationS3Uri": cfg.capture_destination,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": CAPTURE_CONTENT_TYPES,
    }


def _exists(call: Any, **kwargs: Any) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        result: dict[str, Any] = call(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if (
            code in ("ValidationException", "ResourceNotFound")
            or "not found" in message.lower()
            or ("could not find" in message.lower())
        ):
            return None
        raise
    return result


def deploy(cfg: DeployConfig, s3: Any, sagemaker: Any, wait: bool = False) -> dict[str, Any]:
    """Upload, create model + endpoint config, create or update the endpoint. Returns what was done."""
    tags = [{"Key": k, "Value": v} for k, v in sorted(cfg.tags.items())]
    artifact = package_model(cfg.model_dir)
    digest = hashlib.sha256(artifact).hexdigest()
    key = f"{cfg.prefix}/models/{digest[:16]}/model.tar.gz"
    s3.put_object(Bucket=cfg.bucket, Key=key, Body=artifact, ContentType="application/gzip")
    model_data_url = f"s3://{cfg.bucket}/{key}"
    actions = [f"uploaded {model_data_url}"]

    model_name = _name(cfg.endpoint_name, _short(f"{cfg.image_uri}|{model_data_url}|{cfg.role_arn}"))
    if _exists(sagemaker.describe_model, ModelName=model_name) is None:
        sagemaker.create_model(
            ModelName=model_name,
            PrimaryContainer={
                "Image": cfg.image_uri,
                "ModelDataUrl": model_data_url,
                "Mode": "SingleModel",
                "Environment": {"MODEL_VERSION": model_version(cfg.model_dir)},
            },
            ExecutionRoleArn=cfg.role_arn,
            Tags=tags,
        )
        actions.append(f"created model {model_name}")

    config: dict[str, Any] = {"ProductionVariants": [production_variant(cfg, model_name)]}
    if cfg.capture_enabled:
        config["DataCaptureConfig"] = data_capture(cfg)
    config_name = _name(cfg.endpoint_name, _short(json.dumps(config, sort_keys=True)))
    if _exists(sagemaker.describe_endpoint_config, EndpointConfigName=config_name) is None:
        sagemaker.create_endpoint_config(EndpointConfigName=config_name, Tags=tags, **config)
        actions.append(f"created endpoint config {config_name}")

    current = _exists(sagemaker.describe_endpoint, EndpointName=cfg.endpoint_name)
    if current is None:
        sagemaker.create_endpoint(EndpointName=cfg.endpoint_name, EndpointConfigName=config_name, Tags=tags)
        actions.append(f"created endpoint {cfg.endpoint_name}")
    elif current.get("EndpointConfigName") != config_name:
        sagemaker.update_endpoint(EndpointName=cfg.endpoint_name, EndpointConfigName=config_name)
        actions.append(f"updated endpoint {cfg.endpoint_name} in place to {config_name}")
    else:
        actions.append(f"endpoint {cfg.endpoint_name} already uses {config_name}")
    if wait:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=cfg.endpoint_name, WaiterConfig={"Delay": 15, "MaxAttempts": 80}
        )
        actions.append("endpoint InService")
    return {
        "endpoint_name": cfg.endpoint_name,
        "model_name": model_name,
        "endpoint_config_name": config_name,
        "model_data_url": model_data_url,
        "model_sha256": digest,
        "model_version": model_version(cfg.model_dir),
        "serverless": cfg.serverless,
        "data_capture": config.get("DataCaptureConfig"),
        "actions": actions,
    }


def builtin_image_uri(region: str) -> str:
    """The original built-in image-classification algorithm's image (needs the optional `sagemaker` extra).

    For comparison runs only: that image serves its own MXNet artifact, not this project's ONNX model.
    """
    try:
        from sagemaker.core import image_uris
    except ImportError as exc:  # the SDK is ~1.2 GB: an optional extra, never in the runtime
        raise click.UsageError(
            "--image-uri builtin needs the sagemaker SDK: pip install -e '.[sagemaker]'"
        ) from exc
    return str(image_uris.retrieve("image-classification", region))


@click.command("deploy-endpoint")
@click.option("--endpoint-name", default="vehicle-classifier", show_default=True)
@click.option(
    "--image-uri",
    required=True,
    help="ECR URI of the image built from the Dockerfile "
    "('builtin': the built-in image-classification algorithm's image, via the sagemaker SDK).",
)
@click.option("--role-arn", required=True, help="Execution role SageMaker assumes (S3 read, ECR pull, logs).")
@click.option("--bucket", required=True, help="Bucket for model.tar.gz and data capture.")
@click.option("--prefix", default="vehicle-classifier", show_default=True)
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory with model.onnx + metadata.json (default model/artifacts).",
)
@click.option("--instance-type", default="ml.c5.large", show_default=True)
@click.option("--instance-count", type=int, default=1, show_default=True)
@click.option(
    "--serverless", is_flag=True, help="Serverless variant (ServerlessConfig) instead of instances."
)
@click.option(
    "--memory-mb",
    type=click.Choice(["1024", "2048", "3072", "4096", "5120", "6144"]),
    default="2048",
    show_default=True,
    help="Serverless memory.",
)
@click.option("--max-concurrency", type=click.IntRange(1, 200), default=5, show_default=True)
@click.option(
    "--capture/--no-capture",
    default=None,
    help="Data capture (default: on for instances; serverless endpoints do not support it).",
)
@click.option(
    "--capture-uri", default=None, help="S3 URI for captured data (default s3://BUCKET/PREFIX/data-capture)."
)
@click.option("--sampling-percentage", type=click.IntRange(0, 100), default=100, show_default=True)
@click.option("--region", envvar="AWS_REGION", default="us-east-1", show_default=True)
@click.option("--wait/--no-wait", default=False, show_default=True, help="Wait for InService.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def command(
    endpoint_name: str,
    image_uri: str,
    role_arn: str,
    bucket: str,
    prefix: str,
    model_dir: Path | None,
    instance_type: str,
    instance_count: int,
    serverless: bool,
    memory_mb: str,
    max_concurrency: int,
    capture: bool | None,
    capture_uri: str | None,
    sampling_percentage: int,
    region: str,
    wait: bool,
    as_json: bool,
) -> None:
    """Deploy (or update in place) the SageMaker endpoint serving model/artifacts."""
    from shared.aws.clients import client

    if image_uri == "builtin":
        image_uri = builtin_image_uri(region)
    cfg = DeployConfig(
        endpoint_name=endpoint_name,
        image_uri=image_uri,
        role_arn=role_arn,
        bucket=bucket,
        prefix=prefix.strip("/"),
        instance_type=instance_type,
        instance_count=instance_count,
        serverless=serverless,
        memory_mb=int(memory_mb),
        max_concurrency=max_concurrency,
        capture=capture,
        capture_uri=capture_uri,
        sampling_percentage=sampling_percentage,
    )
    if model_dir is not None:
        cfg = replace(cfg, model_dir=model_dir)
    if serverless and cfg.capture_enabled:
        click.echo("warning: SageMaker Serverless Inference does not support data capture", err=True)
    result = deploy(cfg, client("s3", region), client("sagemaker", region), wait)
    for action in result["actions"]:
        click.echo(action)
    if as_json:
        click.echo(json.dumps(result, default=str))
