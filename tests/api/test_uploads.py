"""POST /uploads and GET /uploads/{id} on HTTP API events, with the claims the authorizer would pass.

In-process moto accepts presigned POSTs without checking their policy, so these tests read the policy
itself; the local stack's S3 checks it (tests/local/test_s3_post_policy.py, tests/integration).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from services.api import handler as api_handler
from services.api.bootstrap import build_api
from services.api.page_security import photo_origins
from services.api.settings import get_api_settings
from shared.answers import answer_line
from shared.aws.photo_store import DEPOT_ID
from shared.aws.upload_tickets import UploadTicketTable
from shared.contracts import RejectionReason, ReviewReason
from shared.driver_messages import FALLBACK, REVIEW_SENTENCES, SENTENCES, sentence_for
from tests.api.conftest import DISPATCHER, DRIVER, OTHER_DRIVER, Api, capture
from tests.decisions import decided, no_two_wheeler, rejected, sure, unsure


def policy_of(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def start(api: Api, claims: dict[str, Any] = DRIVER, **body: Any) -> tuple[int, Any]:
    return api.call("POST", "/uploads", claims, {"content_type": "image/jpeg", "size": 5000, **body})


def test_a_driver_gets_a_presigned_post_for_one_key_under_their_own_prefix(api: Api) -> None:
    # GIVEN a signed-in driver d-001
    # WHEN they ask to upload a JPEG
    before = datetime.now(UTC)
    status, ticket = start(api)
    after = datetime.now(UTC)
    # THEN the key is chosen by the server under photos/d-001/, named by the upload id
    assert status == 201
    token = ticket["upload_id"].split(".", 1)[1]
    assert ticket["upload_id"].startswith("d-001.")
    assert ticket["key"] == f"photos/d-001/{token}.jpg"
    assert ticket["fields"]["key"] == ticket["key"]
    assert ticket["fields"]["Content-Type"] == "image/jpeg"
    # AND the signed policy holds exactly that key, type and upload id, exactly the declared 5000 bytes,
    # and at most 5 minutes
    policy = policy_of(ticket["fields"])
    conditions = policy["conditions"]
    assert {"key": ticket["key"]} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 5000, 5000] in conditions
    assert {"x-amz-meta-upload-id": ticket["upload_id"]} in conditions
    assert ticket["fields"]["x-amz-meta-upload-id"] == ticket["upload_id"]
    assert {"bucket": "photos"} in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    # AND a driver without a depot claim names no depot: the rules' default one routes the photo
    assert not [c for c in conditions if isinstance(c, dict) and f"x-amz-meta-{DEPOT_ID}" in c]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before < expiration <= after + timedelta(seconds=301)
    assert datetime.fromisoformat(ticket["expires_at"].replace("Z", "+00:00")) <= after + timedelta(
        seconds=300
    )


def test_the_drivers_depot_is_pinned_on_the_upload(api: Api) -> None:
    # GIVEN a driver whose account names their depot
    # WHEN they ask to upload
    status, ticket = start(api, {**DRIVER, "custom:depot_id": "depot-2"})
    # THEN the form sets the depot on the object, and the signed policy holds exactly that value
    assert status == 201
    meta = f"x-amz-meta-{DEPOT_ID}"
    assert ticket["fields"][meta] == "depot-2"
    assert {meta: "depot-2"} in policy_of(ticket["fields"])["conditions"]


def test_two_uploads_get_two_keys(api: Api) -> None:
    # GIVEN a driver WHEN they start two uploads THEN each has its own key
    assert start(api)[1]["key"] != start(api)[1]["key"]


def test_png_uploads_get_a_png_key_and_policy(api: Api) -> None:
    status, ticket = start(api, content_type="image/png")
    assert status == 201
    assert ticket["key"].endswith(".png")
    assert {"Content-Type": "image/png"} in policy_of(ticket["fields"])["conditions"]


def test_the_driver_id_never_comes_from_the_body(api: Api) -> None:
    # GIVEN a driver d-001 who names another driver in the body
    status, body = start(api, driver_id="d-002")
    # THEN the body is refused: the only driver id is the token's
    assert status == 422
    assert any(error["loc"][-1] == "driver_id" for error in body["detail"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "image/svg+xml", "size": 10}, "content_type"),
        ({"content_type": "image/jpeg", "size": 0}, "size"),
        ({"content_type": "image/jpeg"}, "size"),
        ({"size": 10}, "content_type"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    status, answer = api.call("POST", "/uploads", DRIVER, body)
    assert status == 422
    assert field in {error["loc"][-1] for error in answer["detail"]}


def test_a_photo_over_the_limit_is_refused_before_any_upload(api: Api) -> None:
    status, answer = start(api, size=1000001)
    assert status == 422
    assert "size" in answer["message"]


def test_only_drivers_upload(api: Api) -> None:
    # GIVEN a dispatcher, and a request with no verified claims at all
    # WHEN each asks to upload THEN the dispatcher is forbidden and the anonymous caller unauthorized
    assert start(api, DISPATCHER)[0] == 403
    assert api.call("POST", "/uploads", None, {"content_type": "image/jpeg", "size": 5})[0] == 401
    no_driver_id = {"cognito:username": "x", "cognito:groups": "[drivers]"}
    assert start(api, no_driver_id)[0] == 403


def test_status_goes_from_pending_to_routed(api: Api) -> None:
    # GIVEN an upload whose photo has arrived in the bucket
    _, ticket = start(api)
    api.s3.put_object(Bucket=api.bucket, Key=ticket["key"], Body=b"jpeg")
    path = f"/uploads/{ticket['upload_id']}"
    # WHEN the chain has not decided yet THEN it is pending
    status, answer = api.call("GET", path, DRIVER)
    assert (status, answer["upload_id"], answer["status"]) == (200, ticket["upload_id"], "pending")
    # WHEN the decision is captured THEN it is routed with the bay and radius
    record = capture(api, decided(sure(), key=ticket["key"]))
    status, answer = api.call("GET", path, DRIVER)
    assert status == 200
    assert (answer["status"], answer["outcome"]) == ("routed", "routed")
    assert (answer["bay"], answer["radius_km"], answer["vehicle_class"]) == ("B-NEAR-01", 3.0, "bicycle")
    assert answer["decided_by"] == "model"
    # AND the driver reads what was decided and why
    assert answer["answer"] == answer_line(record)
    assert "→ bay B-NEAR-01, 3 km" in answer["answer"]


def test_manual_review_and_rejections_tell_the_driver_what_next(api: Api) -> None:
    _, waiting = start(api)
    _, refused = start(api)
    capture(api, decided(unsure(), key=waiting["key"]))
    capture(api, rejected(refused["key"], RejectionReason.CORRUPT_IMAGE))
    _, answer = api.call("GET", f"/uploads/{waiting['upload_id']}", DRIVER)
    assert (answer["status"], answer["reason"]) == ("manual-review", "low-confidence")
    assert answer["message"] == REVIEW_SENTENCES[ReviewReason.LOW_CONFIDENCE]
    _, answer = api.call("GET", f"/uploads/{refused['upload_id']}", DRIVER)
    assert answer["status"] == "rejected"
    assert answer["reason"] == "corrupt-image"
    assert answer["message"] == SENTENCES[RejectionReason.CORRUPT_IMAGE]


def test_every_rejection_reason_has_its_own_sentence() -> None:
    assert set(SENTENCES) == set(RejectionReason)
    assert len(set(SENTENCES.values())) == len(SENTENCES)
    assert all(s.endswith(".") and len(s) < 120 for s in SENTENCES.values())
    assert sentence_for("some-future-code") == FALLBACK


def test_a_driver_reads_only_their_own_uploads(api: Api) -> None:
    # GIVEN d-001's routed upload
    _, ticket = start(api)
    capture(api, decided(sure(), key=ticket["key"]))
    path = f"/uploads/{ticket['upload_id']}"
    # WHEN another driver or a dispatcher asks for it THEN both are forbidden
    assert api.call("GET", path, OTHER_DRIVER)[0] == 403
    assert api.call("GET", path, DISPATCHER)[0] == 403


def test_unknown_uploads_are_404(api: Api) -> None:
    # GIVEN an id that was never handed out, one whose photo never arrived, and a malformed one
    _, ticket = start(api)
    assert api.call("GET", f"/uploads/d-001.{'0' * 32}", DRIVER)[0] == 404
    assert api.call("GET", f"/uploads/{ticket['upload_id']}", DRIVER)[0] == 404
    assert api.call("GET", "/uploads/not-an-id", DRIVER)[0] == 404


def test_a_photo_that_shows_no_two_wheeler_asks_the_driver_for_one(api: Api) -> None:
    # GIVEN a photo the model saw neither a bicycle nor a motorcycle in (manual review, its own reason)
    _, ticket = start(api)
    capture(api, decided(no_two_wheeler(), key=ticket["key"]))
    # WHEN the driver asks for its status
    _, answer = api.call("GET", f"/uploads/{ticket['upload_id']}", DRIVER)
    # THEN it waits for a dispatcher, and the driver is asked for a photo of the vehicle
    assert (answer["status"], answer["reason"]) == ("manual-review", "no-two-wheeler")
    assert answer["message"] == REVIEW_SENTENCES[ReviewReason.NO_TWO_WHEELER]
    assert "photo of your vehicle" in answer["message"]
    assert answer["answer"].startswith("no two-wheeler seen (93.00%")


def test_a_driver_over_the_per_minute_limit_gets_429_with_retry_after(api: Api) -> None:
    # GIVEN a limit of 10 new uploads a minute, 15 s into a minute that stands still
    settings = get_api_settings().model_copy(update={"driver_uploads_per_minute": 10})
    table = UploadTicketTable(boto3.client("dynamodb", region_name="us-east-1"), "uploads", lambda: 60e6 + 15)
    api_handler.dispatch.use(build_api(settings, api_handler.logger, api_handler.metrics, tickets=table))
    # WHEN one driver starts 11 uploads, and another driver one
    answers = [
        api.call("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10}) for _ in range(11)
    ]
    other, _ = start(api, OTHER_DRIVER)
    # THEN the eleventh is 429 with the seconds to the next minute; the other driver is not held back
    assert [status for status, _ in answers] == [201] * 10 + [429]
    assert "at most 10 new uploads a minute" in answers[-1][1]["message"]
    assert other == 201
    event_answer = api.raw("POST", "/uploads", DRIVER, {"content_type": "image/jpeg", "size": 10})
    assert (event_answer["statusCode"], event_answer["headers"]["Retry-After"]) == (429, "45")


def test_pages_carry_a_strict_content_security_policy(api: Api) -> None:
    # GIVEN the board page, its script and its config
    for path in ("/", "/board.js", "/config.json"):
        # WHEN each is fetched
        headers = api.raw("GET", path)["headers"]
        # THEN each forbids inline script, framing, sniffing and referrers
        policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'", path
        assert policy["default-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert policy["style-src"].startswith("'self' 'sha256-")
        assert (headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == ("nosniff", "no-referrer")
        assert headers["X-Frame-Options"] == "DENY"
    # AND the page itself has no inline script and no inline style attribute
    page = api.raw("GET", "/")["body"]
    assert "<script>" not in page and "style=" not in page and "onclick" not in page.lower()


def test_photo_links_are_allowed_from_the_bucket_and_no_other_origin() -> None:
    # GIVEN AWS's S3 endpoint, and a local one WHEN the page's image origins are worked out
    aws = photo_origins("https://s3.eu-west-1.amazonaws.com", "my-photos", "eu-west-1")
    local = photo_origins("http://127.0.0.1:5000", "my-photos", "us-east-1")
    # THEN they are the bucket's own hosts on AWS (what botocore presigns), the endpoint locally
    assert aws == ["https://my-photos.s3.amazonaws.com", "https://my-photos.s3.eu-west-1.amazonaws.com"]
    assert local == ["http://127.0.0.1:5000"]
