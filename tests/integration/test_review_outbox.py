"""The review desk on the local stack, through the local API gateway and the topic's subscribers.

GIVEN a photo waiting for a dispatcher
WHEN it is reviewed and corrected, or the API's process is killed between the review's write and its
publish
THEN subscribers get each decision once (two for a review and its correction), and one record holds
the whole history; a killed API's review is published by the schedule's sweep once the API is back.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from driver_routing.cli import main
from driver_routing.driver_app import sign_in
from driver_routing.people import create_user
from driver_routing.subscription import DecisionSubscription
from local.stack import LocalStack
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import CaptureRecord, PhotoRef, RoutingDecision
from tests.integration.review_samples import REGION, waiting_for_review

PASSWORD = "Review-Test-Pass-1"


def dispatcher_token(stack: LocalStack) -> tuple[str, str]:
    assert stack.identity is not None
    name = f"desk-{uuid.uuid4().hex[:6]}"
    create_user(client("cognito-idp", REGION), stack.identity.user_pool_id, name, PASSWORD, None)
    return name, sign_in(client("cognito-idp", REGION), stack.identity.client_id, name, PASSWORD)


def recorded(table: CaptureTable, photo: PhotoRef, timeout_s: float = 20) -> CaptureRecord:
    deadline = time.monotonic() + timeout_s
    while (record := table.get(photo.photo_id)) is None:
        assert time.monotonic() < deadline, "capture never recorded the photo"
        time.sleep(0.05)
    return record


def reviews_of(
    topic: DecisionSubscription, photo: PhotoRef, count: int, timeout_s: float
) -> list[RoutingDecision]:
    """The reviewed decisions of the photo the subscriber gets: until `count` arrived, then 2 s more."""
    seen: list[RoutingDecision] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(seen) < count:
        seen += [d for d in topic.receive(wait_s=1) if d.photo.key == photo.key and d.review is not None]
    seen += [d for d in topic.receive(wait_s=2) if d.photo.key == photo.key and d.review is not None]
    return seen


def post(stack: LocalStack, token: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_review_and_its_correction_are_two_published_decisions_and_one_history(stack: LocalStack) -> None:
    assert stack.resources is not None
    table = CaptureTable(client("dynamodb", REGION), stack.resources.capture_table)
    name, token = dispatcher_token(stack)
    with DecisionSubscription(
        client("sqs", REGION), client("sns", REGION), stack.resources.topic_arn
    ) as topic:
        driver_id = f"outbox-{uuid.uuid4().hex[:6]}"
        photo = waiting_for_review(stack, driver_id, original_name="bike at gate 3.jpg")
        recorded(table, photo)
        # WHEN the dispatcher reviews it, then corrects their review
        first = post(stack, token, f"reviews/{photo.photo_id}", {"label": "bicycle", "note": "a bike"})
        assert first.status_code == 200, first.text
        second = post(
            stack, token, f"reviews/{photo.photo_id}/corrections", {"label": "motorcycle", "replaces": 1}
        )
        assert second.status_code == 200, second.text
        # THEN subscribers get exactly two decisions, the correction last
        decisions = reviews_of(topic, photo, 2, timeout_s=10)
    assert [(d.review.number if d.review else 0, d.bay) for d in decisions] == [
        (1, "B-NEAR-01"),
        (2, "M-FAR-01"),
    ]
    # AND one record holds the correction's decision and the history of both
    record = table.get(photo.photo_id)
    assert record is not None and record.bay == "M-FAR-01"
    assert [(r.number, r.reviewer, r.label, r.replaces) for r in record.history] == [
        (1, name, "bicycle", None),
        (2, name, "motorcycle", 1),
    ]
    # AND `driver-routing query --photo` prints both, the correction naming what it replaced
    stack_name = ["--stack-name", stack.config.stack_name]
    by_name = ["--photo", "bike at gate 3.jpg", "--driver-id", driver_id]
    result = CliRunner().invoke(main, ["query", *by_name, *stack_name])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("review ")]
    assert [line.split(":")[0] for line in lines] == ["review 1", "review 2, replaces review 1"]
    assert lines[0].endswith(f'{name}: bicycle  "a bike"') and lines[1].endswith(f"{name}: motorcycle")


def test_status_shows_the_open_reviews_and_the_longest_wait(stack: LocalStack) -> None:
    assert stack.resources is not None
    table = CaptureTable(client("dynamodb", REGION), stack.resources.capture_table)
    # GIVEN a photo that has waited for a dispatcher since three days ago
    driver_id = f"status-{uuid.uuid4().hex[:6]}"
    photo = waiting_for_review(stack, driver_id, uploaded_at=datetime.now(UTC) - timedelta(days=3))
    recorded(table, photo)
    # WHEN an operator runs `driver-routing status`
    result = CliRunner().invoke(main, ["status", "--stack-name", stack.config.stack_name, "--json"])
    # THEN it counts the open reviews and names the oldest, three days waiting
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])["open_reviews"]
    assert photo.photo_id in summary["photos"] and summary["oldest_waiting_s"] >= 3 * 86400
    assert ", the oldest waiting 3 d 0 h" in result.output
    listed = [line.strip() for line in result.output.splitlines() if photo.key in line]
    assert len(listed) == 1 and listed[0].startswith(driver_id) and "waiting 3 d 0 h" in listed[0]


def test_an_api_killed_between_the_write_and_the_publish_still_publishes_once(stack: LocalStack) -> None:
    assert stack.resources is not None
    table = CaptureTable(client("dynamodb", REGION), stack.resources.capture_table)
    _, token = dispatcher_token(stack)
    with DecisionSubscription(
        client("sqs", REGION), client("sns", REGION), stack.resources.topic_arn
    ) as topic:
        photo = waiting_for_review(stack, f"killed-{uuid.uuid4().hex[:6]}")
        recorded(table, photo)
        # GIVEN an API process that dies at its next publish
        stack.crash_api_before_next_publish()
        # WHEN a dispatcher's review is written and the process dies before publishing it
        with pytest.raises(requests.ConnectionError):
            post(stack, token, f"reviews/{photo.photo_id}", {"label": "motorcycle"})
        record = table.get(photo.photo_id)
        assert record is not None and record.review is not None, "the review was not written"
        # AND the API comes back (its schedule with it)
        stack.restart_api()
        # THEN the sweep publishes the review: subscribers get it once
        decisions = reviews_of(topic, photo, 1, timeout_s=20)
    assert [(d.decided_by, d.bay) for d in decisions] == [
        (f"dispatcher:{record.review.reviewer}", "M-FAR-01")
    ]
    item = client("dynamodb", REGION).get_item(
        TableName=stack.resources.capture_table, Key={"photo_id": {"S": photo.photo_id}}, ConsistentRead=True
    )["Item"]
    assert "open_item" not in item, "the outbox still holds the published review"
