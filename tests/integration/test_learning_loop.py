"""From dispatchers' reviews to a promoted model, on the local stack: photos decided, reviewed, exported
as a dataset, a candidate scored against the served model by the gate, swapped in with no request
dropped, and the next photo's decision naming the candidate's version.

The candidate here is the served model's artifacts under a new version (a retrain needs torch, the
`train` extra: `tests/model/test_review_training.py` trains on such a dataset when it is installed).
"""

from __future__ import annotations

import csv
import functools
import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from driver_routing.uploads import upload_photos
from local.model_swap import swap_model
from local.stack import LocalStack
from model.dataset import CLASSES, load_samples
from model.evaluation.evaluate import request_body
from model.metadata import METADATA_FILE, resolve_model_dir
from services.api.reviews import first_review, reviewed_record
from services.router.domain import decide, decide_review
from services.router.rules import load_rules
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import PhotoRef, Prediction, Probabilities, Route, utc_now
from tests.conftest import DATA
from tests.integration.test_chain import REGION, cli, records_for, resources

SERVED = resolve_model_dir(None)


# The loop's commands answer refusals in their exit code, which the test reads.
run_cli = functools.partial(cli, check=False, timeout=120)


def outcome_of(runtime: Any, path: Path) -> Route:
    """What the chain would decide for this image, asked of the stack's own endpoint."""
    body, content_type = request_body(path, raw=False)
    answer = runtime.invoke_endpoint(EndpointName="vehicle-classifier", ContentType=content_type, Body=body)
    labels = dict(item.split("=", 1) for item in answer["CustomAttributes"].split(",") if "=" in item)[
        "classes"
    ].split("|")
    probabilities = Probabilities.from_endpoint(labels, json.loads(answer["Body"].read()))
    vehicle_class, confidence = probabilities.top
    photo = PhotoRef(bucket="b", key=str(path), etag="e", size=1, uploaded_at=utc_now())
    prediction = Prediction(
        photo=photo,
        driver_id="d",
        probabilities=probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name="vehicle-classifier",
    )
    return decide(prediction, load_rules()).outcome


@pytest.fixture
def swap_back(stack: LocalStack) -> Iterator[None]:
    """The stack serves the package's model again after the test (other tests share the stack)."""
    yield
    swap_model(stack.endpoint_url, SERVED)


def test_reviews_become_a_dataset_and_a_no_worse_candidate_is_swapped_in_without_dropping_a_request(
    stack: LocalStack, tmp_path: Path, swap_back: None
) -> None:
    # GIVEN test-split thumbnails the model sends to a person, and some it routes
    runtime = client("sagemaker-runtime", REGION, stack.endpoint_url)
    samples = load_samples(DATA / "cifar100-vehicles", "test")
    to_review: list[Path] = []
    routed: list[Path] = []
    truth: dict[Path, str] = {}
    for sample in samples[::3]:
        outcome = outcome_of(runtime, sample.path)
        bucket = to_review if outcome == Route.MANUAL_REVIEW else routed
        if len(bucket) < (3 if bucket is to_review else 4):
            bucket.append(sample.path)
            truth[sample.path] = CLASSES[sample.label]
        if len(to_review) == 3 and len(routed) == 4:
            break
    assert len(to_review) == 3, "the served model sends fewer than 3 of these images to review"
    # AND they are uploaded, decided and captured
    started = utc_now()
    uploads = upload_photos(client("s3", REGION), resources(stack).bucket, to_review + routed, "d-loop")
    by_key = {u.key: u.path for u in uploads}
    records = records_for(stack, set(by_key), timeout_s=60)
    assert records.keys() == by_key.keys()
    # AND a dispatcher reviews each photo sent to a person (the record write the API makes)
    table = CaptureTable(client("dynamodb", REGION), resources(stack).capture_table)
    waiting = [r for r in records.values() if r.outcome == Route.MANUAL_REVIEW]
    assert waiting
    for record in waiting:
        now = utc_now()
        review = first_review(record, "pat", truth[by_key[record.photo_key]], "", now)
        reviewed = reviewed_record(record, decide_review(record.decision(), review, load_rules()), now)
        assert table.put_decision(reviewed)

    # WHEN the reviews are exported (a third held back for the gate, every routed photo in the QA sample)
    exported = run_cli(
        stack,
        "dataset",
        "from-reviews",
        "--since",
        (started - timedelta(minutes=1)).isoformat(),
        "--out",
        str(tmp_path / "datasets"),
        "--holdout-share",
        "0.5",
        "--qa-share",
        "1",
        "--json",
    )
    assert exported.returncode == 0, exported.stderr
    dataset = Path(json.loads(exported.stdout.splitlines()[-1])["path"])

    # THEN the manifest names each reviewed photo's dispatcher label, who gave it and what the model said,
    # and the routed photos are a QA sample labelled by the model, apart from training
    with (dataset / "manifest.csv").open() as fh:
        rows = {row["photo_key"]: row for row in csv.DictReader(fh)}
    mine = {key: row for key, row in rows.items() if key in by_key}
    reviewed_rows = [row for row in mine.values() if row["labelled_by"] == "dispatcher:pat"]
    assert len(reviewed_rows) == len(waiting)
    for row in reviewed_rows:
        assert row["split"] in ("train", "holdout") and row["class"] == truth[by_key[row["photo_key"]]]
        assert row["model_version"] == records[row["photo_key"]].model_version and row["labelled_at"]
        assert (dataset / row["split"] / row["class"] / row["filename"]).is_file()
    qa = [row for row in mine.values() if row["split"] == "qa"]
    assert qa and all(row["labelled_by"] == "model" for row in qa)
    assert json.loads((dataset / "dataset.json").read_text())["version"] in dataset.name

    # WHEN a candidate (the served graphs under a new version) goes through the gate while the endpoint
    # is being called without pause
    candidate = tmp_path / "candidate"
    shutil.copytree(SERVED, candidate)
    meta = json.loads((candidate / METADATA_FILE).read_text())
    meta["model_version"] = new_version = meta["model_version"] + "-reviews"
    (candidate / METADATA_FILE).write_text(json.dumps(meta))
    tiny = tmp_path / "tiny"
    for path in to_review + routed:
        (tiny / truth[path]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tiny / truth[path] / path.name)
    calls: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    body, content_type = request_body(routed[0], raw=False)

    def keep_calling() -> None:
        caller = client("sagemaker-runtime", REGION, stack.endpoint_url)
        while not stop.is_set():
            try:
                answer = caller.invoke_endpoint(
                    EndpointName="vehicle-classifier", ContentType=content_type, Body=body
                )
                calls.append(answer["CustomAttributes"].split(",")[0].removeprefix("model_version="))
            except Exception as error:
                errors.append(repr(error))

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        promoted = run_cli(
            stack,
            "promote",
            str(candidate),
            "--reviews",
            str(dataset),
            "--data",
            str(tiny),
            "--photos",
            str(tiny),
            "--json",
        )
        time.sleep(0.5)
    finally:
        stop.set()
        caller.join(30)

    # THEN it passes the gate (no worse on the same images), is swapped in, and no call failed
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    result = json.loads(promoted.stdout.splitlines()[-1])
    assert result["promote"] is True and result["deployed"]["model_version"] == new_version
    assert set(result["scores"]) >= {"cifar-test", "photos"}
    assert errors == [] and calls and calls[-1] == new_version
    first_new = calls.index(new_version)
    assert set(calls[first_new:]) == {new_version}, "an answer from the old model after the swap"

    # AND the next photo's decision names the candidate's version
    [upload] = upload_photos(client("s3", REGION), resources(stack).bucket, routed[:1], "d-loop2")
    record = records_for(stack, {upload.key}, timeout_s=60)[upload.key]
    assert record.model_version == new_version
