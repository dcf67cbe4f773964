"""`driver-routing fetch-data`: CIFAR-100's bicycles and motorcycles for users without ../shared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("fetch-data")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cache/cifar100-vehicles"),
    show_default=True,
    help="Where to write {train,test}/{bicycle,motorcycle}/*.png + manifest.csv.",
)
@click.option(
    "--source",
    default=None,
    help="A cifar-100-python.tar.gz file, or a directory already in the "
    "cifar100-vehicles layout (manifest.csv) to copy/verify instead of downloading.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cache"),
    show_default=True,
    help="Where the downloaded tarball is kept.",
)
@click.option("--url", default=None, help="Override the official CIFAR-100 URL.")
def fetch_data_command(out: Path, source: str | None, cache_dir: Path, url: str | None) -> None:
    """Fetch CIFAR-100 (python version) and extract bicycle (8) and motorcycle (48) as PNGs."""
    from model.training.data import CIFAR100_URL, DataUnavailableError, prepare

    try:
        result = prepare(
            out, source=Path(source) if source else None, cache_dir=cache_dir, url=url or CIFAR100_URL
        )
    except DataUnavailableError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(json.dumps(result))
