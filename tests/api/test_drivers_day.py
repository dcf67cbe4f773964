"""What the phone reads while it waits, on the capture and uploads tables (in-process moto): an upload's
status by its ticket's claim, and the driver's day from midnight on the driver's index."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import boto3

from tests.api.conftest import DRIVER, Api, capture
from tests.decisions import decided, sure, unsure


def start(api: Api) -> dict[str, str]:
    status, ticket = api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 5000})
    assert status == 201
    return dict(ticket)


def test_a_claimed_upload_is_read_by_its_photo_and_one_whose_ticket_expired_through_the_index(
    api: Api,
) -> None:
    # GIVEN two uploads whose photos ingest claimed and the chain decided
    claimed, expired = start(api), start(api)
    capture(api, decided(sure(), key=claimed["key"]))
    capture(api, decided(unsure(), key=expired["key"]))
    # AND the second upload's ticket is gone (the uploads table keeps a ticket 15 days)
    uploads = boto3.client("dynamodb", region_name="us-east-1")
    uploads.delete_item(TableName="uploads", Key={"id": {"S": expired["upload_id"]}})
    # WHEN the driver reads both statuses
    _, routed = api.call("GET", f"/uploads/{claimed['upload_id']}", DRIVER)
    _, waiting = api.call("GET", f"/uploads/{expired['upload_id']}", DRIVER)
    # THEN each reads its own record
    assert (routed["status"], routed["bay"]) == ("routed", "B-NEAR-01")
    assert waiting["status"] == "manual-review"


def test_the_drivers_day_starts_at_midnight_utc(api: Api) -> None:
    # GIVEN a driver's upload decided before midnight (UTC) and two after it
    midnight = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    late, early, now = (
        start(api),
        start(api),
        start(api),
    )
    capture(api, decided(sure(), key=late["key"], decided_at=midnight - timedelta(seconds=1)))
    capture(api, decided(sure(), key=early["key"], decided_at=midnight))
    capture(api, decided(sure(), key=now["key"], decided_at=datetime.now(UTC)))
    # WHEN the driver reads the day
    status, day = api.call("GET", "/uploads", DRIVER)
    # THEN it holds today's two, newest first, and not yesterday's last
    assert status == 200
    assert [u["upload_id"] for u in day["uploads"]] == [now["upload_id"], early["upload_id"]]
