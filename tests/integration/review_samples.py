"""Photos waiting for a dispatcher on the local stack, and waiting on a page under the board's CSP."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from local.stack import LocalStack
from services.router.domain import decide
from shared.aws.clients import client
from shared.aws.messaging import DecisionTopic
from shared.contracts import PhotoRef, Route
from tests.decisions import BIKE, MOTO, RULES, prediction
from tests.format_samples import jpeg, scene

REGION = "us-east-1"


def wait_until(page: Any, expression: str, timeout_ms: int) -> None:
    """Playwright's wait_for_function compiles its predicate in the page, which the board's CSP forbids
    (no eval): evaluate the expression from here instead, until it holds."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.05)


def waiting_for_review(
    stack: LocalStack,
    driver_id: str,
    *,
    uploaded_at: datetime | None = None,
    original_name: str | None = None,
    upload_key: str | None = None,
) -> PhotoRef:
    """A photo the router sent to manual review, published as the router would.

    Stored outside `photos/`, so the chain's ingest never sees it and the one decision is this one.
    With `upload_key` (an upload's `photos/{driver}/{token}.jpg`, so the driver's status finds it) the
    decision names that key and no object is stored: no second decision from the chain."""
    assert stack.resources is not None
    body = jpeg(scene((480, 360), seed=len(driver_id)))
    key = upload_key or f"review-samples/{driver_id}/{uuid.uuid4().hex}.jpg"
    put = {"ETag": uuid.uuid4().hex}
    if upload_key is None:
        s3 = client("s3", REGION)
        put = s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=body, ContentType="image/jpeg")
    ref = PhotoRef(
        bucket=stack.resources.bucket,
        key=key,
        etag=put["ETag"].strip('"'),
        version_id=put.get("VersionId"),
        size=len(body),
        uploaded_at=uploaded_at or datetime.now(UTC),
        original_name=original_name,
    )
    unsure = prediction({BIKE: 0.39, MOTO: 0.61, "none": 0.0}, key=key).model_copy(update={"photo": ref})
    decision = decide(unsure, RULES)
    if uploaded_at is not None:
        decision = decision.model_copy(update={"decided_at": uploaded_at})
    assert decision.outcome == Route.MANUAL_REVIEW and decision.driver_id == driver_id
    DecisionTopic(client("sns", REGION), stack.resources.topic_arn).publish(decision)
    return ref
