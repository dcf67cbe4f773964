"""`driver-routing demo`: the whole chain on sample photos, from upload to captured record."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from driver_routing.subscription import DecisionSubscription
from driver_routing.uploads import Upload, collect_photos, upload_photos
from local.commands import API_PORT, AWS_PORT
from local.driver_demo import drive_one_photo, phone_lines, phone_photo
from local.processes import HOST, free_port
from local.stack import LocalStack, StackConfig
from services.router.rules import load_rules
from shared.answers import answer_line
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import RoutingDecision

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("DRIVER_ROUTING_DATA", REPO.parent / "shared" / "data"))


def default_samples() -> list[Path]:
    root = data_root()
    candidates = [root / "photos", root / "cifar100-vehicles" / "test"]
    return [p for p in candidates if p.is_dir()]


def summarise(
    uploads: list[Upload], decisions: dict[str, RoutingDecision], captured: set[str]
) -> dict[str, Any]:
    classes = load_rules().classes
    routes = Counter(d.outcome.value for d in decisions.values())
    known = [u for u in uploads if u.label_among(classes) is not None and u.key in decisions]
    routed_known = [u for u in known if decisions[u.key].is_routed]
    correct = [u for u in routed_known if decisions[u.key].vehicle_class == u.label_among(classes)]
    return {
        "uploaded": len(uploads),
        "decided": len(decisions),
        "captured": len(captured),
        "outcomes": dict(sorted(routes.items())),
        "labelled": len(known),
        "routed_to_a_bay": len(routed_known),
        "correct_bay": len(correct),
        "missing": sorted({u.key for u in uploads} - decisions.keys()),
    }


@click.command()
@click.argument("photos", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for every decision.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def demo(photos: tuple[Path, ...], timeout: float, as_json: bool) -> None:
    """Start the local stack, route sample photos end to end, print every decision and a summary, stop.

    PHOTOS default to the sample photos and the CIFAR-100 test split under ../shared/data
    (or $DRIVER_ROUTING_DATA), when present."""
    sources = list(photos) or default_samples()
    if not sources:
        raise click.UsageError(f"no photos given and no sample data under {data_root()}")
    paths = collect_photos(sources)
    config = StackConfig(
        aws_port=free_port(),
        endpoint_port=free_port(),
        api_port=free_port(),
        state_dir=Path(".driver-routing/demo"),
    )
    click.echo(f"starting the local stack (moto :{config.aws_port}, endpoint :{config.endpoint_port}) ...")
    started = time.monotonic()
    with LocalStack(config) as stack:
        resources = stack.resources
        assert resources is not None
        os.environ.update(stack.client_environment())
        region = config.region
        click.echo(f"stack ready in {time.monotonic() - started:.1f} s; uploading {len(paths)} photos")
        with DecisionSubscription(client("sqs", region), client("sns", region), resources.topic_arn) as sub:
            uploads: list[Upload] = []
            t0 = time.monotonic()
            # Twenty drivers at the rules' depots in turn, each sending a few of the photos.
            depots = list(load_rules().depots)
            for index, path in enumerate(paths):
                driver = index % 20
                depot = depots[driver % len(depots)]
                uploads += upload_photos(
                    client("s3", region), resources.bucket, [path], f"demo-{driver:03d}", depot_id=depot
                )
            decisions = sub.collect({u.key for u in uploads}, timeout, between_polls=stack.supervise)
            elapsed = time.monotonic() - t0
        table = CaptureTable(client("dynamodb", region), resources.capture_table)
        keys = {u.key for u in uploads}
        captured: set[str] = set()
        deadline = time.monotonic() + 30
        while len(captured) < len(decisions) and time.monotonic() < deadline:
            captured = {r.photo_key for r in table.scan() if r.photo_key in keys}
            time.sleep(0.5)
        photo = phone_photo(paths)
        driver_path = drive_one_photo(stack, photo) if photo else "no photo for the driver's path"
    classes = load_rules().classes
    for upload in uploads:
        decision = decisions.get(upload.key)
        if decision is None:
            click.echo(f"{upload.path.name:<28} NO DECISION")
            continue
        known = upload.label_among(classes)
        label = f"[{known}]" if known else ""
        depot = decision.depot_id or "-"
        click.echo(f"{upload.path.name[:28]:<28} {label:<12} {depot:<9} {answer_line(decision)}")
    summary = summarise(uploads, decisions, captured)
    summary["seconds"] = round(elapsed, 1)
    click.echo(
        f"\n{summary['uploaded']} uploaded, {summary['decided']} decided, {summary['captured']} captured "
        f"in {elapsed:.1f} s; outcomes: {summary['outcomes']}; "
        f"labelled photos routed to the right bay: {summary['correct_bay']}/{summary['routed_to_a_bay']} "
        f"({summary['labelled'] - summary['routed_to_a_bay']} sent to manual review)"
    )
    click.echo(f"\nthe driver's path (sign in, presigned POST, poll): {driver_path}")
    up = phone_lines(f"http://{HOST}:{API_PORT}", f"http://{HOST}:{AWS_PORT}")
    click.echo("\n".join(["with `driver-routing up` running (it stays up, this demo does not):", *up]))
    summary["driver_path"] = driver_path
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    if summary["missing"] or summary["captured"] < summary["uploaded"]:
        raise SystemExit(1)
