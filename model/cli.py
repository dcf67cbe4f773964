"""Click commands of the model: serve (the SageMaker `serve` entry point), train, evaluate (fetch-data
lives in `model.fetch_data`, promote in `model.promote_command`).

`commands` is what the project's `driver-routing` group adds; `python -m model.cli` runs them alone.
Everything beyond click is imported inside the commands: numpy, onnxruntime, torch and Pillow cost
only the command that needs them, and the serving image, which holds no training or evaluation code,
still loads this module.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

VEHICLES_ENV = "VEHICLES_DATA_DIR"
PHOTOS_ENV = "PHOTOS_DATA_DIR"
OTHER_ENV = "OTHER_DATA_DIR"


def _default_port() -> int:
    # SageMaker sets SAGEMAKER_BIND_TO_PORT for multi-container endpoints; 8080 otherwise
    return int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or os.environ.get("MODEL_SERVER_PORT") or 8080)


@click.command("serve")
@click.option(
    "--host",
    default=lambda: os.environ.get("MODEL_SERVER_HOST", "127.0.0.1"),
    show_default="127.0.0.1",
    help="Bind address (the Docker image sets MODEL_SERVER_HOST=0.0.0.0).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=_default_port,
    show_default="8080",
    help="0 picks a free port.",
)
@click.option(
    "--model-dir",
    default=None,
    help="Directory with model.onnx + metadata.json "
    "(default: $MODEL_DIR, /opt/ml/model, then the package's artifacts).",
)
@click.option(
    "--threads",
    type=int,
    envvar="MODEL_SERVER_THREADS",
    default=4,
    show_default=True,
    help="HTTP worker threads ($MODEL_SERVER_THREADS).",
)
@click.option(
    "--model-threads",
    type=int,
    envvar="MODEL_THREADS",
    default=2,
    show_default=True,
    help="onnxruntime intra-op threads ($MODEL_THREADS; about the vCPUs of the instance).",
)
def serve_command(host: str, port: int, model_dir: str | None, threads: int, model_threads: int) -> None:
    """Run the model server: the SageMaker container contract (GET /ping, POST /invocations)."""
    from model.serving.server import ServerOptions, serve

    try:
        serve(
            ServerOptions(
                host=host, port=port, model_dir=model_dir, threads=threads, model_threads=model_threads
            )
        )
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise click.ClickException(f"port {port} on {host} is in use: pick another with --port") from None


def _vehicles_default() -> str | None:
    from model.dataset import default_data_dir

    path = default_data_dir(VEHICLES_ENV, "cifar100-vehicles")
    return str(path) if path else None


def _other_default() -> str | None:
    from model.dataset import default_data_dir

    path = default_data_dir(OTHER_ENV, "other")
    return str(path) if path else None


def _recipe(name: str) -> Callable[[], Any]:
    """The training recipe's default for `name`, read when `train` runs (not when this module loads)."""

    def default() -> Any:
        from model.training.recipe import TrainConfig

        return getattr(TrainConfig, name)

    return default


@click.command("train")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=_vehicles_default,
    help=f"Dataset dir with manifest.csv (default ${VEHICLES_ENV} or ../shared/data/...).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output dir for model.onnx + metadata.json (default model/artifacts).",
)
@click.option(
    "--backbone", type=click.Choice(["efficientnet-lite0", "efficientnet-lite2"]), default=_recipe("backbone")
)
@click.option(
    "--side", type=int, default=_recipe("side"), help="Input side in pixels (0: backbone's native)."
)
@click.option("--views", type=int, default=_recipe("views"), help="Augmented views per image (+ mirror).")
@click.option("--taps", type=int, default=_recipe("taps"), help="Last blocks pooled into the features.")
@click.option("--split", type=int, default=_recipe("split"), help="Blocks before this one stay frozen.")
@click.option("--finetune-epochs", type=int, default=_recipe("finetune_epochs"), help="0: linear probe only.")
@click.option("--folds", type=int, default=_recipe("folds"), help="Cross-validation folds (train split).")
@click.option("--lr", type=float, default=_recipe("lr"), help="Fine-tuning learning rate.")
@click.option("--l2sp", type=float, default=_recipe("l2sp"), help="Pull towards pre-trained weights.")
@click.option(
    "--thumbnail-epochs",
    type=int,
    default=_recipe("thumbnail_epochs"),
    help="Whole-network fine-tune for uploads of thumbnail size (0: the probe answers every upload).",
)
@click.option("--thumbnail-folds", type=int, default=_recipe("thumbnail_folds"), help="Its CV folds.")
@click.option(
    "--thumbnail-max-side",
    type=int,
    default=_recipe("thumbnail_max_side"),
    help="Uploads whose longer side is at most this many pixels go to the thumbnail graph.",
)
@click.option(
    "--thumbnail-soup",
    type=click.IntRange(min=1),
    default=_recipe("thumbnail_soup"),
    help="Fine-tunes (seeds) whose weights are averaged into the thumbnail graph (1: one network).",
)
@click.option(
    "--thumbnail-other-perturbed/--no-thumbnail-other-perturbed",
    default=_recipe("thumbnail_other_perturbed"),
    help="Fit the thumbnail graph's 'other' head on perturbed copies too (dim, grey, tilted...).",
)
@click.option(
    "--other",
    type=click.Path(file_okay=False, path_type=Path),
    default=_other_default,
    help=f"Photos with neither class, for the 'neither' screens (default ${OTHER_ENV} or "
    "../shared/data/other; '' for none: two probabilities, as before).",
)
@click.option(
    "--other-kept-target",
    type=float,
    default=_recipe("other_kept_target"),
    help="Share of the other photos the photo screen keeps from a bay (on the CV folds).",
)
@click.option(
    "--add-dataset",
    "add_data",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A `dataset from-reviews` folder whose train rows join the training data (repeatable).",
)
@click.option("--seed", type=int, default=_recipe("seed"))
@click.option("--threads", type=int, default=_recipe("threads"))
def train_command(
    data: Path | None,
    out: Path | None,
    backbone: str,
    side: int,
    views: int,
    taps: int,
    split: int,
    finetune_epochs: int,
    folds: int,
    lr: float,
    l2sp: float,
    thumbnail_epochs: int,
    thumbnail_folds: int,
    thumbnail_max_side: int,
    thumbnail_soup: int,
    thumbnail_other_perturbed: bool,
    other: Path | None,
    other_kept_target: float,
    add_data: tuple[Path, ...],
    seed: int,
    threads: int,
) -> None:
    """Train on the train split only and export the ONNX artifact (needs the `train` extra).

    Every option defaults to the served recipe (`model/training/recipe.py: TrainConfig`).
    """
    from model.training.recipe import TrainConfig
    from model.training.train import train

    if data is None:
        raise click.UsageError(f"give --data DIR (no ../shared/data here, and ${VEHICLES_ENV} is not set)")
    cfg = TrainConfig(
        data=data,
        backbone=backbone,
        side=side,
        views=views,
        taps=taps,
        split=split,
        finetune_epochs=finetune_epochs,
        folds=folds,
        lr=lr,
        l2sp=l2sp,
        thumbnail_epochs=thumbnail_epochs,
        thumbnail_folds=thumbnail_folds,
        thumbnail_max_side=thumbnail_max_side,
        thumbnail_soup=thumbnail_soup,
        thumbnail_other_perturbed=thumbnail_other_perturbed,
        other=other if other and str(other) not in ("", ".") else None,
        other_kept_target=other_kept_target,
        add_data=add_data,
        seed=seed,
        threads=threads,
    )
    if out is not None:
        cfg.out = out
    meta = train(cfg)
    click.echo(
        json.dumps(
            {
                "model_version": meta.model_version,
                "threshold": meta.threshold,
                "cv_accuracy": meta.cv.cv_accuracy,
                "sha256": meta.artifact.sha256,
                "thumbnail_sha256": meta.thumbnail.artifact.sha256 if meta.thumbnail else None,
                "seconds": meta.training.seconds,
            }
        )
    )


@click.command("evaluate")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=_vehicles_default,
    help="manifest.csv dir (use --split) or folders named bicycle/ and motorcycle/.",
)
@click.option("--split", default=None, help="Manifest split to use (e.g. test).")
@click.option("--endpoint-url", default=None, help="A running endpoint (default: start a local server).")
@click.option("--endpoint-name", default="vehicle-classifier", show_default=True)
@click.option("--model-dir", default=None, help="Model for the local server and its threshold.")
@click.option("--threshold", type=float, default=None, help="Confidence threshold (default: the model's).")
@click.option("--region", default=lambda: os.environ.get("AWS_REGION", "us-east-1"), show_default="us-east-1")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
@click.option(
    "--record-as",
    default=None,
    help="Store the headline figures under evaluation.NAME in the model's metadata.json.",
)
@click.option(
    "--confusion-png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the confusion matrix as PNG (needs matplotlib, the `bench` extra).",
)
@click.option("--reviews", is_flag=True, help="Live accuracy instead: the capture table's reviewed photos.")
@click.option("--since", default=None, help="With --reviews: decisions since (ISO 8601 or 15m, 2h, 7d ago).")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --reviews: draw the last seven days (reviews, agreement, overturned answers) as PNG "
    "(needs matplotlib, the `plot` extra).",
)
@click.option(
    "--through-chain",
    is_flag=True,
    help="Upload each image to the stack (AWS_ENDPOINT_URL's, a running `up`, else a local one started "
    "for the run) and read its capture record: the whole chain's figures.",
)
@click.option(
    "--raw-bytes",
    is_flag=True,
    help="Send the files as they are, not the payload the classifier makes of them.",
)
@click.option(
    "--stack-name",
    default="driver-routing",
    show_default=True,
    envvar="DRIVER_ROUTING_STACK",
    help="With --through-chain or --reviews.",
)
@click.option(
    "--chain-timeout", type=float, default=600.0, show_default=True, help="Seconds to wait for the records."
)
def evaluate_command(
    data: Path | None,
    split: str | None,
    endpoint_url: str | None,
    endpoint_name: str,
    model_dir: str | None,
    threshold: float | None,
    region: str,
    as_json: bool,
    record_as: str | None,
    confusion_png: Path | None,
    reviews: bool,
    since: str | None,
    plot: Path | None,
    through_chain: bool,
    raw_bytes: bool,
    stack_name: str,
    chain_timeout: float,
) -> None:
    """Send every image through the endpoint (boto3 invoke_endpoint), as the classifier sends it, or
    through the whole chain, and report accuracy and latency; with --reviews, the model's live accuracy
    on the photos dispatchers reviewed."""
    if reviews:
        from driver_routing.review_report import report

        report(stack_name, since, as_json, plot)
        return
    if plot is not None:
        raise click.UsageError("--plot draws the dispatchers' week: give it with --reviews")
    from model.evaluation.evaluate import confusion_png as write_png
    from model.evaluation.evaluate import dumps, evaluate, format_report

    if data is None:
        raise click.UsageError(f"give --data DIR (no ../shared/data here, and ${VEHICLES_ENV} is not set)")
    if through_chain and (raw_bytes or endpoint_url):
        raise click.UsageError(
            "--through-chain uploads photos: it takes neither --raw-bytes nor --endpoint-url"
        )
    if confusion_png is not None and importlib.util.find_spec("matplotlib") is None:
        raise click.ClickException(
            "--confusion-png needs the 'bench' extra (matplotlib is not installed): "
            "pip install 'driver-routing[bench]'"
        )
    from model.label_corrections import CorrectionMismatchError

    mode = "chain" if through_chain else "raw" if raw_bytes else "payload"
    try:
        summary = evaluate(
            data,
            split,
            endpoint_url,
            endpoint_name,
            model_dir,
            region,
            threshold,
            mode=mode,
            stack_name=stack_name,
            chain_timeout_s=chain_timeout,
        )
    except CorrectionMismatchError as error:
        raise click.ClickException(str(error)) from None
    click.echo(format_report(summary))
    if confusion_png is not None:
        write_png(summary, confusion_png)
        click.echo(f"confusion matrix written to {confusion_png}")
    if record_as:
        from model.evaluation.evaluate import record

        path = record(summary, model_dir, record_as, " ".join(["driver-routing evaluate", *sys.argv[2:]]))
        click.echo(f"recorded as evaluation.{record_as} in {path}")
    if as_json:
        click.echo(dumps(summary))


commands: list[click.Command] = [serve_command, train_command, evaluate_command]


@click.group()
def main() -> None:
    """Vehicle classifier: serve, train, evaluate, fetch-data."""


for _command in commands:
    main.add_command(_command)

if __name__ == "__main__":
    main()
