"""GET /board, GET /photos/{id} and POST /reviews/{id} for dispatchers, on HTTP API events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aws_lambda_powertools import Logger, Metrics

from services.api.bootstrap import build_api
from services.api.identity import caller_from_claims
from services.api.models import ReviewRequest
from services.api.settings import ApiSettings
from services.capture.service import Capture
from shared.contracts import CaptureRecord, ReviewLabel, Route, RoutingDecision
from tests.api.conftest import DISPATCHER, DRIVER, Api, capture, decision_for


def manual_item(api: Api, name: str = "a1b2c3", driver: str = "d-001") -> CaptureRecord:
    return capture(
        api, decision_for(f"photos/{driver}/{name}.jpg", route=Route.MANUAL_REVIEW, confidence=0.6)
    )


def test_the_board_shows_todays_decisions_by_bay_newest_first_and_the_review_lane(api: Api) -> None:
    # GIVEN two bicycles, a motorcycle, one photo waiting for a person and one rejected, today
    now = datetime.now(UTC)
    older = capture(api, decision_for("photos/d-001/aa.jpg", decided_at=now - timedelta(seconds=20)))
    newer = capture(api, decision_for("photos/d-002/bb.jpg", decided_at=now - timedelta(seconds=10)))
    moto = capture(api, decision_for("photos/d-003/cc.jpg", route=Route.LONG_RADIUS))
    waiting = manual_item(api, "dd", "d-004")
    capture(api, decision_for("photos/d-005/ee.jpg", route=Route.REJECTED, reason="corrupt-image"))
    # WHEN a dispatcher opens the board
    status, board = api.call("GET", "/board", DISPATCHER)
    # THEN each bay lists its drivers newest first, and the open review is in its own lane
    assert status == 200
    assert board["full"] is True
    assert [i["photo_id"] for i in board["bays"]["B-NEAR-01"]] == [newer.photo_id, older.photo_id]
    assert [i["photo_id"] for i in board["bays"]["M-FAR-01"]] == [moto.photo_id]
    assert [i["photo_id"] for i in board["manual_review"]] == [waiting.photo_id]
    assert board["manual_review"][0]["confidence"] == 0.6
    assert [i["reason"] for i in board["rejected"]] == ["corrupt-image"]


def test_the_cursor_returns_only_what_changed(api: Api) -> None:
    # GIVEN a board read once, holding a decision written a minute ago
    past = datetime.now(UTC) - timedelta(minutes=1)
    capture(api, decision_for("photos/d-001/aa.jpg", decided_at=past), captured_at=past)
    _, first = api.call("GET", "/board", DISPATCHER)
    # WHEN a new decision arrives and the board asks from its cursor
    new = capture(api, decision_for("photos/d-002/bb.jpg"))
    status, change = api.call("GET", "/board", DISPATCHER, query=f"cursor={first['cursor']}")
    # THEN only the new decision comes back, and the cursor moves on to it
    assert status == 200
    assert change["full"] is False
    assert [i["photo_id"] for items in change["bays"].values() for i in items] == [new.photo_id]
    assert change["cursor"] > first["cursor"]
    assert api.call("GET", "/board", DISPATCHER, query="cursor=yesterday")[0] == 400


def test_only_dispatchers_see_the_board_and_photos(api: Api) -> None:
    record = manual_item(api)
    assert api.call("GET", "/board", DRIVER)[0] == 403
    assert api.call("GET", f"/photos/{record.photo_id}", DRIVER)[0] == 403
    assert api.call("POST", f"/reviews/{record.photo_id}", DRIVER, {"label": "bicycle"})[0] == 403
    assert api.call("GET", "/board", None)[0] == 401


def test_a_photo_link_is_a_short_lived_presigned_get_of_that_photo(api: Api) -> None:
    record = manual_item(api)
    status, link = api.call("GET", f"/photos/{record.photo_id}", DISPATCHER)
    assert status == 200
    url = urlparse(link["url"])
    assert url.path.endswith(record.photo_key)
    query = parse_qs(url.query)
    assert int(query["X-Amz-Expires"][0]) <= 120
    assert "X-Amz-Signature" in query
    assert api.call("GET", "/photos/nope", DISPATCHER)[0] == 404


def test_a_review_routes_the_driver_once_and_is_recorded(api: Api) -> None:
    # GIVEN a photo the model was unsure of
    record = manual_item(api)
    # WHEN a dispatcher says it is a motorcycle
    status, result = api.call(
        "POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "motorcycle", "note": "clear"}
    )
    # THEN the rules' motorcycle bay is the answer, decided by that dispatcher
    assert status == 200
    assert (result["route"], result["bay"], result["radius_km"]) == ("long-radius", "M-FAR-01", 12.0)
    assert result["decided_by"] == "dispatcher:pat"
    # AND exactly one 1.1 decision is published, carrying the review
    (decision,) = api.published()
    assert decision.schema_version == "1.1"
    assert decision.decided_by == "dispatcher:pat"
    assert decision.review is not None and decision.review.label == ReviewLabel.MOTORCYCLE
    assert decision.photo.photo_id == record.photo_id
    assert (decision.bay, decision.route) == ("M-FAR-01", Route.LONG_RADIUS)
    # AND the record keeps the model's prediction and gains the review
    stored = api.table.get(record.photo_id)
    assert stored is not None and stored.review is not None
    assert (stored.vehicle_class, stored.confidence, stored.p_bicycle) == (
        record.vehicle_class,
        record.confidence,
        record.p_bicycle,
    )
    assert (stored.review.reviewer, stored.review.label, stored.review.note) == ("pat", "motorcycle", "clear")
    assert (stored.route, stored.bay, stored.decided_by) == (Route.LONG_RADIUS, "M-FAR-01", "dispatcher:pat")
    # WHEN a second review of the same photo arrives THEN it is a 409 and nothing more is published
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})[0] == 409
    assert api.published() == []
    assert api.table.get(record.photo_id) == stored


def test_the_driver_sees_the_reviewed_bay(api: Api) -> None:
    _, ticket = api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10})
    record = capture(api, decision_for(ticket["key"], route=Route.MANUAL_REVIEW, confidence=0.6))
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    _, answer = api.call("GET", f"/uploads/{ticket['upload_id']}", DRIVER)
    assert (answer["status"], answer["bay"], answer["decided_by"]) == (
        "routed",
        "B-NEAR-01",
        "dispatcher:pat",
    )


def test_not_a_vehicle_rejects_the_photo_with_a_sentence_for_the_driver(api: Api) -> None:
    _, ticket = api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10})
    record = capture(api, decision_for(ticket["key"], route=Route.MANUAL_REVIEW, confidence=0.6))
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "not-a-vehicle"})[0] == 200
    (decision,) = api.published()
    assert (decision.route, decision.reason, decision.vehicle_class) == (
        Route.REJECTED,
        "not-a-vehicle",
        None,
    )
    _, answer = api.call("GET", f"/uploads/{ticket['upload_id']}", DRIVER)
    assert answer["status"] == "rejected"
    assert "bicycle or motorcycle" in answer["message"]


def test_the_board_moves_a_reviewed_photo_from_the_lane_to_its_bay(api: Api) -> None:
    record = manual_item(api)
    _, before = api.call("GET", "/board", DISPATCHER)
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    _, change = api.call("GET", "/board", DISPATCHER, query=f"cursor={before['cursor']}")
    assert change["manual_review"] == []
    (item,) = change["bays"]["B-NEAR-01"]
    assert (item["photo_id"], item["decided_by"], item["review_label"]) == (
        record.photo_id,
        "dispatcher:pat",
        "bicycle",
    )


@pytest.mark.parametrize(
    "body", [{"label": "truck"}, {}, {"label": "bicycle", "note": "x" * 501}, {"label": "bicycle", "x": 1}]
)
def test_a_bad_review_is_a_422(api: Api, body: dict[str, Any]) -> None:
    record = manual_item(api)
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, body)[0] == 422
    assert api.published() == []


def test_a_photo_the_model_routed_is_not_reviewed_again(api: Api) -> None:
    record = capture(api, decision_for("photos/d-001/aa.jpg"))
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "motorcycle"})[0] == 409
    assert api.call("POST", "/reviews/unknown", DISPATCHER, {"label": "motorcycle"})[0] == 404
    assert api.published() == []


class BrokenTopic:
    def publish(self, decision: RoutingDecision) -> str:
        raise ConnectionError("SNS is down")


def test_a_review_that_cannot_be_published_is_given_back(api: Api) -> None:
    # GIVEN a topic that refuses every publish
    record = manual_item(api)
    service = build_api(ApiSettings(), Logger(service="t"), Metrics(namespace="t"), topic=BrokenTopic())
    # WHEN a dispatcher reviews THEN they are told to try again, and the photo still waits for review
    with pytest.raises(Exception) as raised:
        service.review(
            caller_from_claims(DISPATCHER), record.photo_id, ReviewRequest(label=ReviewLabel.BICYCLE)
        )
    assert getattr(raised.value, "status_code", None) == 503
    assert api.table.get(record.photo_id) == record


def test_a_reader_of_the_1_0_fields_reads_a_reviewed_decision(api: Api) -> None:
    # GIVEN a published 1.1 decision
    record = manual_item(api)
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    (decision,) = api.published()
    body = decision.model_dump(mode="json")
    # WHEN a subscriber that knows only 1.0's fields reads it
    known_in_1_0 = set(RoutingDecision.model_fields) - {"decided_by", "review"}
    old = RoutingDecision.model_validate({k: v for k, v in body.items() if k in known_in_1_0})
    read = RoutingDecision.model_validate_json(decision.model_dump_json())
    # THEN both read the same route, bay and driver (the topic's contract ignores unknown fields)
    assert (old.route, old.bay, old.driver_id) == (read.route, read.bay, read.driver_id)
    assert RoutingDecision.model_validate({**body, "added_in_1_2": True}).bay == "B-NEAR-01"
    assert decision.message_attributes()["decided_by"] == "dispatcher:pat"


def test_capture_leaves_reviewed_decisions_to_the_api(api: Api) -> None:
    # GIVEN a reviewed photo, whose record the API has already updated
    record = manual_item(api)
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    (decision,) = api.published()
    stored = api.table.get(record.photo_id)
    metrics = Metrics(namespace="t")
    # WHEN the capture function receives the reviewed decision
    written = Capture(table=api.table, logger=Logger(service="t"), metrics=metrics).capture(decision)
    # THEN it writes nothing and counts no duplicate
    assert written is False
    assert api.table.get(record.photo_id) == stored
    assert "DuplicateDecision" not in metrics.metric_set
