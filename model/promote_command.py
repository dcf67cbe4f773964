"""`driver-routing promote CANDIDATE`: the gate (`model.promotion`), then the candidate serves: on the
local stack by the endpoint's model swap, on AWS by a new endpoint configuration (`deploy-endpoint`'s).

Everything beyond click is imported inside the command, as in `model.cli`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from model.cli import PHOTOS_ENV, VEHICLES_ENV, _vehicles_default


def _photos_default() -> str | None:
    from model.dataset import default_data_dir

    path = default_data_dir(PHOTOS_ENV, "photos")
    return str(path) if path else None


@click.command("promote")
@click.argument("candidate", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--served",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The model serving now (default: the package's artifacts).",
)
@click.option(
    "--reviews",
    "review_sets",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A `dataset from-reviews` folder: its held-back reviewed photos join the gate (repeatable).",
)
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=_vehicles_default,
    help=f"CIFAR vehicles (its test split; default ${VEHICLES_ENV} or ../shared/data/...).",
)
@click.option(
    "--photos",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=_photos_default,
    help=f"Real photos in bicycle/ and motorcycle/ (default ${PHOTOS_ENV} or ../shared/data/photos).",
)
@click.option(
    "--perturbed/--no-perturbed",
    default=True,
    show_default=True,
    help="Score perturbed copies of the test split too (one of each kind: dim, grey, tilted, heavy JPEG...).",
)
@click.option("--dry-run", is_flag=True, help="Score and judge only; serve nothing.")
@click.option("--endpoint-name", default="vehicle-classifier", show_default=True)
@click.option("--role-arn", default=None, help="On AWS: the role SageMaker assumes (as deploy-endpoint).")
@click.option("--image-uri", default=None, help="On AWS: the model server's image in ECR.")
@click.option("--bucket", default=None, help="On AWS: the bucket for model.tar.gz and data capture.")
@click.option("--region", envvar="AWS_REGION", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def promote_command(
    candidate: Path,
    served: Path | None,
    review_sets: tuple[Path, ...],
    data: Path | None,
    photos: Path | None,
    perturbed: bool,
    dry_run: bool,
    endpoint_name: str,
    role_arn: str | None,
    image_uri: str | None,
    bucket: str | None,
    region: str,
    as_json: bool,
) -> None:
    """Score CANDIDATE and the served model on the same images and serve CANDIDATE only if neither its
    wrong bays nor its reviews get worse: locally by swapping the endpoint's model (no request dropped),
    on AWS (--role-arn, --image-uri, --bucket) by a new endpoint configuration, as deploy-endpoint."""
    from model.metadata import METADATA_FILE, resolve_model_dir
    from model.promotion import format_scores, gate_sets, judge, tally
    from services.router.rules import load_rules

    on_aws = [role_arn, image_uri, bucket]
    if any(on_aws) and not all(on_aws):
        raise click.UsageError("on AWS give all three of --role-arn, --image-uri and --bucket")
    if not (candidate / METADATA_FILE).is_file():
        raise click.UsageError(f"{candidate} holds no {METADATA_FILE}: give a trained model's folder")
    served_dir = served or resolve_model_dir(None)
    sets = gate_sets(data, photos, review_sets, perturbed=perturbed)
    if not sets:
        raise click.UsageError("nothing to score on: give --data, --photos or --reviews")
    rules = load_rules()
    before = {name: tally(served_dir, samples, rules) for name, samples in sets.items()}
    after = {name: tally(candidate, samples, rules) for name, samples in sets.items()}
    verdict = judge(before, after)
    click.echo(format_scores(before, after))
    result: dict[str, Any] = {
        "candidate": str(candidate),
        "served": str(served_dir),
        "promote": verdict.promote,
        "reasons": verdict.reasons,
        "scores": {n: {"served": before[n].figures(), "candidate": after[n].figures()} for n in sets},
    }
    for reason in verdict.reasons:
        click.echo(f"  worse: {reason}")
    if verdict.promote and not dry_run:
        if all(on_aws):
            result["deployed"] = _deploy_on_aws(candidate, endpoint_name, role_arn, image_uri, bucket, region)
        else:
            result["deployed"] = _swap_locally(candidate)
        click.echo(f"promoted: {result['deployed']['model_version']} now serves")
    elif verdict.promote:
        click.echo("passes the gate (dry run: nothing changed)")
    else:
        click.echo("not promoted: the served model stays")
    if as_json:
        click.echo(json.dumps(result))
    if not verdict.promote:
        sys.exit(1)


def _swap_locally(candidate: Path) -> dict[str, Any]:
    """The local endpoint loads the candidate beside the served model, then answers with it."""
    from driver_routing.connection import use_local_stack_if_running
    from local.model_swap import swap_model

    use_local_stack_if_running()
    runtime = os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    if not runtime:
        raise click.ClickException(
            "no local endpoint to swap: start `driver-routing up` (or set "
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME); on AWS give --role-arn, --image-uri and --bucket"
        )
    try:
        return swap_model(runtime, candidate)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


def _deploy_on_aws(
    candidate: Path,
    endpoint_name: str,
    role_arn: str | None,
    image_uri: str | None,
    bucket: str | None,
    region: str,
) -> dict[str, Any]:
    """A new model and endpoint configuration; SageMaker moves the endpoint to it (blue/green)."""
    from infra.sagemaker_endpoint import DeployConfig, deploy
    from shared.aws.clients import client

    assert role_arn and image_uri and bucket
    config = DeployConfig(
        endpoint_name=endpoint_name,
        image_uri=image_uri,
        role_arn=role_arn,
        bucket=bucket,
        model_dir=candidate,
    )
    return deploy(config, client("s3", region), client("sagemaker", region))
