"""Putting driver photos into the bucket, as the driver app does."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from driver_routing.stack_outputs import StackResources
from driver_routing.subscription import DecisionSubscription
from shared.answers import answer_line
from shared.aws.photo_store import DEPOT_ID, original_name_metadata
from shared.contracts import RoutingDecision
from shared.formats import ACCEPTED_EXTENSIONS, content_type_for

PHOTO_SUFFIXES = ACCEPTED_EXTENSIONS


@dataclass(frozen=True)
class Upload:
    path: Path
    key: str
    etag: str

    def label_among(self, classes: Iterable[str]) -> str | None:
        """The class a labelled sample set gives by folder name (`.../<class>/x.png`), if any."""
        names = frozenset(classes)
        return next((part for part in reversed(self.path.parts[:-1]) if part in names), None)


def collect_photos(paths: Iterable[Path], suffixes: Iterable[str] = PHOTO_SUFFIXES) -> list[Path]:
    """Files as given; folders searched recursively for photo files, in a stable order."""
    wanted = frozenset(suffixes)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in wanted))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(path)
    return found


def photo_key(driver_id: str, path: Path) -> str:
    return f"photos/{driver_id}/{uuid.uuid4().hex}{path.suffix.lower()}"


def upload_photo(s3: Any, bucket: str, path: Path, key: str, depot_id: str | None = None) -> Upload:
    # Python's mimetypes knows neither HEIC nor AVIF everywhere: the chain's own table decides.
    content_type = content_type_for(path.suffix) or "application/octet-stream"
    metadata = original_name_metadata(path.name)
    if depot_id:
        metadata[DEPOT_ID] = depot_id
    response = s3.put_object(
        Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, Metadata=metadata
    )
    return Upload(path, key, str(response["ETag"]).strip('"'))


def upload_photos(
    s3: Any,
    bucket: str,
    paths: list[Path],
    driver_id: str,
    *,
    depot_id: str | None = None,
    workers: int = 8,
) -> list[Upload]:
    def one(path: Path) -> Upload:
        return upload_photo(s3, bucket, path, photo_key(driver_id, path), depot_id)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))


class UploadError(ValueError):
    """What the user gave cannot be uploaded; nothing was sent."""


def check_upload(paths: Iterable[Path], driver_id: str) -> list[Path]:
    """The photos to upload, or why not: checked here so that a mistake is said now, not as a
    rejection later. The chain checks again (ingest is the real guard)."""
    from shared.photo_keys import DRIVER_ID

    extensions = ACCEPTED_EXTENSIONS
    if not DRIVER_ID.fullmatch(driver_id):
        raise UploadError(
            f"--driver-id {driver_id!r}: use 1-64 of A-Z a-z 0-9 _ - (starting with a letter or digit)"
        )
    given = list(paths)
    wrong = [p for p in given if p.is_file() and p.suffix.lower() not in extensions]
    if wrong:
        names = ", ".join(str(p) for p in wrong[:3]) + (" ..." if len(wrong) > 3 else "")
        raise UploadError(f"{names}: not a photo type the chain takes ({', '.join(sorted(extensions))})")
    found = collect_photos(given, suffixes=extensions)
    if not found:
        raise UploadError(
            f"no photos in {', '.join(str(p) for p in given)}: give image files "
            f"({', '.join(sorted(extensions))}) or folders that hold them"
        )
    return found


PROGRESS_FROM = 20  # photos; a smaller upload needs no progress line
PROGRESS_EVERY_S = 2.0


def upload_and_wait(
    s3: Any,
    sqs: Any,
    sns: Any,
    resources: StackResources,
    paths: list[Path],
    driver_id: str,
    timeout_s: float,
    *,
    depot_id: str | None = None,
) -> dict[str, Any]:
    """Upload, then print each photo's decision as it arrives and a summary; returns the summary.

    The subscription exists before the first upload, so no decision can be missed."""
    with DecisionSubscription(sqs, sns, resources.topic_arn) as subscription:
        uploads = upload_photos(s3, resources.bucket, paths, driver_id, depot_id=depot_id)
        by_key = {u.key: u for u in uploads}
        started = last_progress = time.monotonic()
        decided = 0

        def show(decision: RoutingDecision) -> None:
            nonlocal decided
            decided += 1
            click.echo(f"{by_key[decision.photo.key].path.name}: {answer_line(decision)}")

        def progress() -> None:
            nonlocal last_progress
            if len(uploads) >= PROGRESS_FROM and time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                click.echo(f"... {decided}/{len(uploads)} decided", err=True)

        decisions = subscription.collect(set(by_key), timeout_s, on_decision=show, between_polls=progress)
    undecided = [u for u in uploads if u.key not in decisions]
    for item in undecided:
        click.echo(
            f"{item.path.name}: no decision within {timeout_s:g} s; it may still come "
            f"(driver-routing query --photo {item.key})"
        )
    routes = Counter(d.outcome.value for d in decisions.values())
    listing = ", ".join(f"{count} {route}" for route, count in sorted(routes.items())) or "none"
    click.echo(
        f"{len(uploads)} uploaded, {len(decisions)} decided in {time.monotonic() - started:.1f} s: {listing}"
        + (f"; {len(undecided)} without a decision" if undecided else "")
    )
    return {
        "uploaded": len(uploads),
        "decided": len(decisions),
        "outcomes": dict(sorted(routes.items())),
        "undecided": [u.key for u in undecided],
        "photos": [
            {"file": str(u.path), "key": u.key, **outcome_fields(decisions.get(u.key))} for u in uploads
        ],
    }


def outcome_fields(decision: RoutingDecision | None) -> dict[str, Any]:
    if decision is None:
        return {"outcome": None}
    return {
        "outcome": decision.outcome.value,
        "answer": answer_line(decision),
        "bay": decision.bay,
        "radius_km": decision.radius_km,
        "vehicle_class": decision.vehicle_class,
        "confidence": decision.confidence,
        "reason": decision.reason,
    }
