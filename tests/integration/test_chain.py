"""The whole chain on the local stack: uploads in, decisions on the topic, records in the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from driver_routing.subscription import DecisionSubscription
from driver_routing.uploads import collect_photos, upload_photo, upload_photos
from local.stack import LocalStack
from services.router.rules import load_rules
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import CaptureRecord, Route
from tests.conftest import DATA
from tests.samples import bad_uploads, image_bytes, noisy_image, s3_notification

REGION = "us-east-1"


def resources(stack: LocalStack) -> Any:
    assert stack.resources is not None
    return stack.resources


def records_for(stack: LocalStack, keys: set[str], timeout_s: float = 30) -> dict[str, CaptureRecord]:
    table = CaptureTable(client("dynamodb", REGION), resources(stack).capture_table)
    found: dict[str, CaptureRecord] = {}
    deadline = time.monotonic() + timeout_s
    while keys - found.keys() and time.monotonic() < deadline:
        found = {r.photo_key: r for r in table.scan() if r.photo_key in keys}
        time.sleep(0.3)
    return found


def test_synthetic_photos_each_give_one_decision_and_one_record(stack: LocalStack, tmp_path: Path) -> None:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 240)]
    paths = []
    for index in range(12):
        path = tmp_path / f"synthetic {index}.{'png' if index % 2 else 'jpg'}"
        path.write_bytes(image_bytes("PNG" if index % 2 else "JPEG", (64 + index, 48), colours[index % 4]))
        paths.append(path)
    with DecisionSubscription(
        client("sqs", REGION), client("sns", REGION), resources(stack).topic_arn
    ) as sub:
        uploads = upload_photos(client("s3", REGION), resources(stack).bucket, paths, "it-synthetic")
        keys = {u.key for u in uploads}
        decisions = sub.collect(keys, 60, between_polls=stack.supervise)
        time.sleep(2)
        extra = sub.receive(wait_s=1)
    assert decisions.keys() == keys
    assert not [d for d in extra if d.photo.key in keys], "a photo was decided twice"
    assert all(d.outcome != Route.REJECTED for d in decisions.values())
    # a decision carries the model's vehicle classes by name (the 1.x shape), and p(none) beside them
    classes = set(load_rules().classes)
    for d in decisions.values():
        assert d.probabilities is not None and set(d.probabilities) == classes
        assert d.none_probability is not None
        assert sum(d.probabilities.values()) + d.none_probability == pytest.approx(1.0, abs=1e-5)
        assert (d.decided_by, d.depot_id) == ("model", load_rules().default_depot)
    records = records_for(stack, keys)
    assert records.keys() == keys
    for key, record in records.items():
        assert (record.outcome, record.route) == (decisions[key].outcome, decisions[key].route)
        assert record.driver_id == "it-synthetic"
        assert record.uploaded_at <= record.decided_at <= record.captured_at


@pytest.mark.skipif(not (DATA / "photos").is_dir(), reason="the sample photos are not beside the project")
def test_real_photos_of_known_class_get_their_class_bay(stack: LocalStack) -> None:
    classes = load_rules().classes
    paths = collect_photos([DATA / "photos"])
    with DecisionSubscription(
        client("sqs", REGION), client("sns", REGION), resources(stack).topic_arn
    ) as sub:
        uploads = upload_photos(client("s3", REGION), resources(stack).bucket, paths, "it-photos")
        decisions = sub.collect({u.key for u in uploads}, 120, between_polls=stack.supervise)
    assert len(decisions) == len(uploads) == len(paths)
    # a routed photo goes as its folder's class, never as the other one
    wrong = [
        u.path.name
        for u in uploads
        if decisions[u.key].is_routed and decisions[u.key].vehicle_class != u.label_among(classes)
    ]
    to_review = [u for u in uploads if decisions[u.key].outcome == Route.MANUAL_REVIEW]
    assert len(wrong) <= len(uploads) // 20, f"routed to the wrong bay: {wrong}"
    assert len(to_review) <= len(uploads) // 5
    assert records_for(stack, {u.key for u in uploads}).keys() == {u.key for u in uploads}


BAD_KINDS = [b.kind for b in bad_uploads("x", 0, too_large_bytes=1)]


@pytest.fixture(scope="module")
def bad_batch(stack: LocalStack) -> dict[str, Any]:
    """Every kind of bad input uploaded together with good photos around them (unicode and spaces in
    the keys), and the decisions and records they got."""
    s3, sqs, bucket = client("s3", REGION), client("sqs", REGION), resources(stack).bucket
    run = uuid.uuid4().hex[:6]
    # The test settings keep MAX_PHOTO_BYTES at its default (25 MiB): "too large" is just over it.
    bad = bad_uploads(f"it-bad-{run}", 1, too_large_bytes=25 * 1024 * 1024)
    good = [f"photos/it-bad-{run}/vélo à Zoë {n}.jpg" for n in range(3)]
    with DecisionSubscription(
        client("sqs", REGION), client("sns", REGION), resources(stack).topic_arn
    ) as sub:
        s3.put_object(Bucket=bucket, Key=good[0], Body=noisy_image(1))
        for item in bad:
            if item.body is None:
                sqs.send_message(
                    QueueUrl=resources(stack).queues["ingest"].url,
                    MessageBody=s3_notification(bucket, item.key, "0" * 32, 100),
                )
            else:
                s3.put_object(Bucket=bucket, Key=item.key, Body=item.body)
        for n, key in enumerate(good[1:], start=2):
            s3.put_object(Bucket=bucket, Key=key, Body=noisy_image(n))
        keys = {b.key for b in bad} | set(good)
        decisions = sub.collect(keys, 90, between_polls=stack.supervise)
    return {
        "bad": {b.kind: b for b in bad},
        "good": good,
        "decisions": decisions,
        "records": records_for(stack, keys),
    }


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_each_bad_input_is_rejected_with_its_reason(bad_batch: dict[str, Any], kind: str) -> None:
    item = bad_batch["bad"][kind]
    decision = bad_batch["decisions"].get(item.key)
    assert decision is not None, f"no decision for {kind}"
    assert (decision.outcome, decision.reason) == (Route.REJECTED, item.reason)
    record = bad_batch["records"].get(item.key)
    assert record is not None and (record.outcome, record.reason) == (Route.REJECTED, item.reason)


def test_good_photos_beside_bad_ones_are_routed(bad_batch: dict[str, Any]) -> None:
    for key in bad_batch["good"]:
        assert bad_batch["decisions"][key].outcome != Route.REJECTED
        assert key in bad_batch["records"]


def cli(
    stack: LocalStack, *args: str, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.client_environment(), "DRIVER_ROUTING_STACK": stack.config.stack_name}
    return subprocess.run(
        [sys.executable, "-m", "driver_routing.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def test_cli_upload_watch_and_query_from_another_terminal(stack: LocalStack, tmp_path: Path) -> None:
    photo = tmp_path / "my bike.jpg"
    photo.write_bytes(image_bytes("JPEG", (300, 200), (20, 120, 220)))
    driver = f"cli-{uuid.uuid4().hex[:6]}"
    watcher = subprocess.Popen(
        [sys.executable, "-m", "driver_routing.cli", "watch", "--count", "1", "--timeout", "60", "--json"],
        env={**os.environ, **stack.client_environment(), "DRIVER_ROUTING_STACK": stack.config.stack_name},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # the watcher subscribes before the upload
    uploaded = json.loads(
        cli(stack, "upload", str(photo), "--driver-id", driver, "--json").stdout.splitlines()[-1]
    )
    assert uploaded["uploaded"] == 1
    out, _ = watcher.communicate(timeout=90)
    decision = json.loads(out.splitlines()[-1])
    assert decision["photo"]["key"] == uploaded["keys"][0]
    records_for(stack, set(uploaded["keys"]))
    queried = json.loads(cli(stack, "query", "--driver-id", driver, "--json").stdout.splitlines()[-1])
    assert queried["count"] == 1
    assert queried["records"][0]["photo_key"] == uploaded["keys"][0]
    window = json.loads(
        cli(stack, "query", "--since", "10m", "--limit", "5000", "--json").stdout.splitlines()[-1]
    )
    assert uploaded["keys"][0] in {r["photo_key"] for r in window["records"]}


def test_upload_wait_prints_each_answer_and_the_photo_is_found_by_its_name(
    stack: LocalStack, tmp_path: Path
) -> None:
    # GIVEN a folder of three photos, one named with spaces and an accent
    folder = tmp_path / "shift"
    folder.mkdir()
    names = ["vélo du matin.jpg", "b.png", "c.jpg"]
    for index, name in enumerate(names):
        (folder / name).write_bytes(
            image_bytes("PNG" if name.endswith(".png") else "JPEG", (320, 240), (index * 60, 90, 30))
        )
    driver = f"wait-{uuid.uuid4().hex[:6]}"

    # WHEN the driver uploads them and waits
    result = cli(stack, "upload", str(folder), "--driver-id", driver, "--wait", "--json", timeout=180)

    # THEN one answer line per photo, a summary, and every photo decided
    lines = result.stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["uploaded"] == 3 and summary["decided"] == 3 and summary["undecided"] == []
    for name in names:
        assert any(line.startswith(f"{name}: ") for line in lines), result.stdout
    assert any(line.startswith("3 uploaded, 3 decided") for line in lines)

    # AND the record is found by the name the driver gave
    found = json.loads(
        cli(stack, "query", "--photo", names[0], "--driver-id", driver, "--json").stdout.splitlines()[-1]
    )
    assert found["count"] == 1 and found["records"][0]["original_name"] == names[0]


def test_the_plain_aws_cli_reaches_the_local_stack(stack: LocalStack, tmp_path: Path) -> None:
    photo = tmp_path / "seen-by-aws-cli.png"
    photo.write_bytes(image_bytes("PNG"))
    upload_photo(client("s3", REGION), resources(stack).bucket, photo, "photos/aws-cli/seen-by-aws-cli.png")
    aws = Path(sys.executable).parent / "aws"
    listing = subprocess.run(
        [
            str(aws),
            "--endpoint-url",
            stack.aws_url,
            "s3",
            "ls",
            f"s3://{resources(stack).bucket}/photos/aws-cli/",
        ],
        env={**os.environ, **stack.client_environment()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "seen-by-aws-cli.png" in listing.stdout


def test_a_malformed_message_reaches_the_dlq_and_redrive_moves_it_back(stack: LocalStack) -> None:
    sqs = client("sqs", REGION)
    route = resources(stack).queues["route"]
    sqs.send_message(QueueUrl=route.url, MessageBody='{"kind": "prediction", "garbage": true}')
    deadline = time.monotonic() + 60
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = json.loads(cli(stack, "status", "--json").stdout.splitlines()[-1])["queues"]
        if status["route-dlq"]["visible"] >= 1:
            break
        time.sleep(2)
    assert status["route-dlq"]["visible"] >= 1
    assert status["route-dlq"]["oldest_age_s"] is not None
    moved = json.loads(cli(stack, "redrive", "route", "--json").stdout.splitlines()[-1])
    assert moved["moved"] >= 1
