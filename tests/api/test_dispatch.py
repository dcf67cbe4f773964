"""GET /board, GET /photos/{id} and POST /reviews/{id} for dispatchers, on HTTP API events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aws_lambda_powertools import Logger, Metrics
from pydantic import BaseModel, ConfigDict

from infra.template_file import load_template
from local.eventsource import LocalLambdaContext
from services.api import handler as api_handler
from services.api.bootstrap import build_api
from services.api.identity import caller_from_claims
from services.api.models import ReviewRequest
from services.api.settings import ApiSettings
from shared.answers import answer_line
from shared.contracts import CaptureRecord, Route, RoutingDecision
from tests.api.conftest import DISPATCHER, DRIVER, Api, capture
from tests.decisions import BIKE, MOTO, decided, rejected, sure, unsure


def manual_item(api: Api, name: str = "a1b2c3", driver: str = "d-001") -> CaptureRecord:
    """A photo the model was unsure of (70% bicycle), waiting for a dispatcher."""
    return capture(api, decided(unsure(), key=f"photos/{driver}/{name}.jpg"))


def test_the_board_shows_todays_decisions_by_bay_newest_first_and_the_review_lane(api: Api) -> None:
    # GIVEN two bicycles, a motorcycle, one photo waiting for a person and one rejected, today
    now = datetime.now(UTC)
    older = capture(api, decided(sure(), key="photos/d-001/aa.jpg", decided_at=now - timedelta(seconds=20)))
    newer = capture(api, decided(sure(), key="photos/d-002/bb.jpg", decided_at=now - timedelta(seconds=10)))
    moto = capture(api, decided(sure(MOTO), key="photos/d-003/cc.jpg"))
    waiting = manual_item(api, "dd", "d-004")
    capture(api, rejected("photos/d-005/ee.jpg"))
    # WHEN a dispatcher opens the board
    status, board = api.call("GET", "/board", DISPATCHER)
    # THEN each bay lists its drivers newest first, and the open review is in its own lane
    assert status == 200
    assert (board["full"], board["depot_id"]) == (True, "depot-1")
    assert [i["photo_id"] for i in board["bays"]["B-NEAR-01"]] == [newer.photo_id, older.photo_id]
    assert [i["photo_id"] for i in board["bays"]["M-FAR-01"]] == [moto.photo_id]
    assert [i["photo_id"] for i in board["manual_review"]] == [waiting.photo_id]
    [item] = board["manual_review"]
    assert (item["outcome"], item["model_answer"], item["vehicle_class"]) == ("manual-review", BIKE, None)
    assert item["confidence"] == 0.7
    assert [i["reason"] for i in board["rejected"]] == ["corrupt-image"]
    # AND every item says what was decided and why, in the one answer line
    assert item["answer"] == answer_line(waiting)
    assert board["bays"]["M-FAR-01"][0]["answer"] == answer_line(moto)


def test_the_cursor_returns_only_what_changed(api: Api) -> None:
    # GIVEN a board read once, holding a decision written a minute ago
    past = datetime.now(UTC) - timedelta(minutes=1)
    capture(api, decided(sure(), key="photos/d-001/aa.jpg", decided_at=past), captured_at=past)
    _, first = api.call("GET", "/board", DISPATCHER)
    # WHEN a new decision arrives and the board asks from its cursor
    new = capture(api, decided(sure(), key="photos/d-002/bb.jpg"))
    status, change = api.call("GET", "/board", DISPATCHER, query=f"cursor={first['cursor']}")
    # THEN only the new decision comes back, and the cursor moves on to it
    assert status == 200
    assert change["full"] is False
    assert [i["photo_id"] for items in change["bays"].values() for i in items] == [new.photo_id]
    assert change["cursor"] > first["cursor"]
    status, body = api.call("GET", "/board", DISPATCHER, query="cursor=yesterday")
    assert (status, body["statusCode"]) == (400, 400)
    assert "cursor" in body["message"]


def test_only_dispatchers_see_the_board_and_photos(api: Api) -> None:
    record = manual_item(api)
    assert api.call("GET", "/board", DRIVER)[0] == 403
    assert api.call("GET", f"/photos/{record.photo_id}", DRIVER)[0] == 403
    assert api.call("POST", f"/reviews/{record.photo_id}", DRIVER, {"label": "bicycle"})[0] == 403
    status, body = api.call("GET", "/board", None)
    assert (status, body["statusCode"]) == (401, 401)


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
    # THEN the rules' motorcycle bay is the answer, decided by that dispatcher, said in one line
    assert status == 200
    assert (result["outcome"], result["bay"], result["radius_km"]) == ("routed", "M-FAR-01", 12.0)
    assert result["decided_by"] == "dispatcher:pat"
    assert result["answer"].startswith("pat (dispatcher): motorcycle → bay M-FAR-01, 12 km")
    # AND exactly one decision is published, carrying the review
    (decision,) = api.published()
    assert decision.schema_version == "1.2"
    assert decision.decided_by == "dispatcher:pat"
    assert decision.review is not None and decision.review.label == MOTO
    assert decision.photo.photo_id == record.photo_id
    assert (decision.outcome, decision.bay, decision.route, decision.vehicle_class) == (
        Route.ROUTED,
        "M-FAR-01",
        "long-radius",
        MOTO,
    )
    # AND the record keeps what the model said and gains the review
    stored = api.table.get(record.photo_id)
    assert stored is not None and stored.review is not None
    assert (stored.model_answer, stored.confidence, stored.probabilities) == (
        record.model_answer,
        record.confidence,
        record.probabilities,
    )
    assert (stored.review.reviewer, stored.review.label, stored.review.note) == ("pat", "motorcycle", "clear")
    assert (stored.outcome, stored.vehicle_class, stored.bay, stored.decided_by) == (
        Route.ROUTED,
        MOTO,
        "M-FAR-01",
        "dispatcher:pat",
    )
    assert stored.decision() == decision
    # WHEN a second review of the same photo arrives THEN it is a 409 and nothing more is published
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})[0] == 409
    assert api.published() == []
    assert api.table.get(record.photo_id) == stored


def test_the_driver_sees_the_reviewed_bay(api: Api) -> None:
    _, ticket = api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10})
    record = capture(api, decided(unsure(), key=ticket["key"]))
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    _, answer = api.call("GET", f"/uploads/{ticket['upload_id']}", DRIVER)
    assert (answer["status"], answer["outcome"], answer["bay"], answer["decided_by"]) == (
        "routed",
        "routed",
        "B-NEAR-01",
        "dispatcher:pat",
    )
    assert answer["vehicle_class"] == BIKE
    assert answer["answer"].startswith("pat (dispatcher): bicycle → bay B-NEAR-01")


def test_not_a_vehicle_rejects_the_photo_with_a_sentence_for_the_driver(api: Api) -> None:
    _, ticket = api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10})
    record = capture(api, decided(unsure(), key=ticket["key"]))
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "not-a-vehicle"})[0] == 200
    (decision,) = api.published()
    assert (decision.outcome, decision.route, decision.reason, decision.vehicle_class) == (
        Route.REJECTED,
        "rejected",
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
    assert (item["photo_id"], item["decided_by"], item["review_label"], item["model_answer"]) == (
        record.photo_id,
        "dispatcher:pat",
        "bicycle",
        BIKE,
    )


def test_the_board_offers_the_review_choices_of_the_rules(api: Api) -> None:
    status, config = api.call("GET", "/config.json")
    assert status == 200
    assert [(c["label"], c["text"]) for c in config["review_choices"]] == [
        ("bicycle", "bicycle"),
        ("motorcycle", "motorcycle"),
        ("not-a-vehicle", "not a vehicle"),
    ]


@pytest.mark.parametrize(
    "body",
    [{"label": "Truck!"}, {}, {"label": "bicycle", "note": "x" * 501}, {"label": "bicycle", "x": 1}],
)
def test_a_malformed_review_is_a_422(api: Api, body: dict[str, Any]) -> None:
    record = manual_item(api)
    assert api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, body)[0] == 422
    assert api.published() == []


def test_a_label_the_rules_do_not_know_is_a_400_naming_the_labels_they_do(api: Api) -> None:
    record = manual_item(api)
    status, body = api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "truck"})
    assert (status, body["statusCode"]) == (400, 400)
    assert "bicycle, motorcycle, not-a-vehicle" in body["message"]
    assert api.published() == []
    assert api.table.get(record.photo_id) == record


def test_a_photo_the_model_routed_is_not_reviewed_again(api: Api) -> None:
    record = capture(api, decided(sure(), key="photos/d-001/aa.jpg"))
    status, body = api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "motorcycle"})
    assert (status, body["message"]) == (409, "this photo has already been decided")
    assert api.call("POST", "/reviews/unknown", DISPATCHER, {"label": "motorcycle"})[0] == 404
    assert api.published() == []


class DyingTopic:
    """The function's process ending at its publish: after the review's write, before SNS has it."""

    def publish(self, decision: RoutingDecision) -> None:
        raise SystemExit("killed between the write and the publish")


def scheduled_sweep(api: Api) -> dict[str, Any]:
    """The template's schedule invoking the function, as EventBridge does."""
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    result: dict[str, Any] = api_handler.lambda_handler(event, LocalLambdaContext("api", 30))  # type: ignore[arg-type]
    return result


def test_a_review_whose_function_died_before_its_publish_is_published_once_by_the_sweep(api: Api) -> None:
    # GIVEN a photo waiting for review, and a function that dies right after recording the review
    record = manual_item(api)
    dying = build_api(ApiSettings(), Logger(service="t"), Metrics(namespace="t"), topic=DyingTopic())
    with pytest.raises(SystemExit):
        dying.desk.review(caller_from_claims(DISPATCHER), record.photo_id, ReviewRequest(label=BIKE))
    # THEN the review is recorded (the driver sees the bay) and nothing reached the topic
    stored = api.table.get(record.photo_id)
    assert stored is not None and stored.review is not None and api.published() == []
    # WHEN the schedule runs the sweep in a fresh environment, twice
    first, second = scheduled_sweep(api), scheduled_sweep(api)
    # THEN the reviewed decision is published exactly once
    assert (first["published"], second["published"]) == (1, 0)
    [decision] = api.published()
    assert (decision.photo.photo_id, decision.decided_by, decision.bay) == (
        record.photo_id,
        "dispatcher:pat",
        "B-NEAR-01",
    )


def test_a_review_and_its_correction_are_two_decisions_and_one_record_holding_both(api: Api) -> None:
    # GIVEN pat's review of a waiting photo
    record = manual_item(api)
    path = f"/reviews/{record.photo_id}"
    status, first = api.call("POST", path, DISPATCHER, {"label": "bicycle", "note": "a bike"})
    assert (status, first["number"], first["published"]) == (200, 1, True)
    # WHEN robin corrects review 1
    robin = {**DISPATCHER, "cognito:username": "robin"}
    status, second = api.call("POST", f"{path}/corrections", robin, {"label": "motorcycle", "replaces": 1})
    assert (status, second["number"], second["bay"]) == (200, 2, "M-FAR-01")
    # THEN exactly two decisions were published, the correction after the review
    published = api.published()
    assert [(d.decided_by, d.bay) for d in published] == [
        ("dispatcher:pat", "B-NEAR-01"),
        ("dispatcher:robin", "M-FAR-01"),
    ]
    # AND one record holds the latest decision and a history of both
    stored = api.table.get(record.photo_id)
    assert stored is not None and stored.bay == "M-FAR-01"
    assert [(r.number, r.reviewer, r.label, r.replaces) for r in stored.history] == [
        (1, "pat", BIKE, None),
        (2, "robin", MOTO, 1),
    ]
    status, history = api.call("GET", path, DISPATCHER)
    assert status == 200 and [e["note"] for e in history["reviews"]] == ["a bike", ""]
    # AND a correction of review 1, no longer the latest, is a 409 naming who corrected it
    status, stale = api.call("POST", f"{path}/corrections", DISPATCHER, {"label": "bicycle", "replaces": 1})
    assert status == 409 and "robin" in stale["message"]
    assert api.published() == []


def test_two_dispatchers_racing_for_one_photo_one_claims_it(api: Api) -> None:
    # GIVEN a waiting photo pat has opened
    record = manual_item(api)
    robin = {**DISPATCHER, "cognito:username": "robin"}
    status, claim = api.call("POST", f"/claims/{record.photo_id}", DISPATCHER)
    assert (status, claim["by"]) == (200, "pat")
    # WHEN robin opens it too, or tries to decide it THEN both are a 409 saying pat is looking
    for method, path, body in (
        ("POST", f"/claims/{record.photo_id}", None),
        ("POST", f"/reviews/{record.photo_id}", {"label": "motorcycle"}),
    ):
        status, refused = api.call(method, path, robin, body)
        assert status == 409 and "pat is looking" in refused["message"]
    # AND the board shows pat's claim on the card
    _, board = api.call("GET", "/board", robin)
    assert board["manual_review"][0]["claim"]["by"] == "pat"
    # WHEN pat releases it THEN robin claims it
    assert api.call("DELETE", f"/claims/{record.photo_id}", DISPATCHER)[0] == 204
    assert api.call("POST", f"/claims/{record.photo_id}", robin)[1]["by"] == "robin"
    assert api.published() == []


class _DecisionV11(BaseModel):
    """What a subscriber built on schema 1.1 holds of a decision (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")
    schema_version: str
    driver_id: str
    route: str
    bay: str | None
    radius_km: float | None
    vehicle_class: str | None
    decided_by: str


def test_a_reader_of_the_1_1_fields_reads_a_reviewed_decision(api: Api) -> None:
    # GIVEN a published reviewed decision
    record = manual_item(api)
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    (decision,) = api.published()
    # WHEN a subscriber that knows only 1.1's fields reads it
    old = _DecisionV11.model_validate_json(decision.model_dump_json())
    # THEN it reads the route by its 1.x name, the bay, the class and who decided
    assert (old.route, old.bay, old.radius_km, old.vehicle_class) == ("short-radius", "B-NEAR-01", 3.0, BIKE)
    assert (old.driver_id, old.decided_by, old.schema_version) == ("d-001", "dispatcher:pat", "1.2")
    # AND this version reads a later minor version's added fields without refusing it
    body = decision.model_dump(mode="json")
    assert RoutingDecision.model_validate({**body, "added_in_1_3": True}).bay == "B-NEAR-01"
    assert decision.message_attributes()["decided_by"] == "dispatcher:pat"


def _capture_filter() -> dict[str, list[str]]:
    [subscription] = [
        resource["Properties"]
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::SNS::Subscription"
        and resource["Properties"]["Endpoint"] == {"Fn::GetAtt": ["CaptureQueue", "Arn"]}
    ]
    policy: dict[str, list[str]] = subscription["FilterPolicy"]
    return policy


def _passes(policy: dict[str, list[str]], attributes: dict[str, str]) -> bool:
    return all(attributes.get(name) in values for name, values in policy.items())


def test_capture_is_sent_the_models_decisions_and_not_the_reviews_the_api_recorded(api: Api) -> None:
    # GIVEN a reviewed photo, whose record the API wrote in the review's conditional write
    record = manual_item(api)
    api.call("POST", f"/reviews/{record.photo_id}", DISPATCHER, {"label": "bicycle"})
    (reviewed,) = api.published()
    stored = api.table.get(record.photo_id)
    assert stored is not None and stored.review is not None
    # WHEN the topic filters the reviewed decision and the model's for the capture subscription
    policy = _capture_filter()
    # THEN the model's decision reaches capture, the reviewed one does not: nothing overwrites the review
    assert _passes(policy, record.decision().message_attributes())
    assert not _passes(policy, reviewed.message_attributes())
