"""Bodies the API cannot read get a 4xx in the API's own shape, never a 500 (found by schemathesis).

GIVEN the API handler with its in-process AWS
WHEN a body arrives as a multipart form without a boundary, as bytes that are not UTF-8, or with a
field missing
THEN the answer is 415, 400 or 422, and a 422 lists each error with loc, msg and type as the OpenAPI
document declares.
"""

from __future__ import annotations

import json

from local.api_gateway.events import http_api_event
from local.eventsource import LocalLambdaContext
from services.api import handler as api_handler
from tests.api.conftest import DRIVER, Api


def send(content_type: str, body: bytes) -> tuple[int, dict[str, object]]:
    event = http_api_event(
        method="POST",
        path="/uploads",
        headers=[("content-type", content_type), ("host", "api.local")],
        body=body,
        claims=DRIVER,
    )
    result = api_handler.lambda_handler(event, LocalLambdaContext("api", 30))
    return result["statusCode"], json.loads(result["body"])


def test_a_multipart_body_without_its_boundary_is_415(api: Api) -> None:
    assert send("multipart/form-data", b'{"content_type": "image/jpeg", "size": 1}')[0] == 415


def test_json_that_is_not_utf8_is_400(api: Api) -> None:
    status, body = send("application/json", b"C\x1c\xd1<:\x0c\xeb")
    assert (status, body["message"]) == (400, "the body is not UTF-8 JSON")


def test_a_422_names_each_error_with_its_message(api: Api) -> None:
    status, body = send("application/json", b'{"content_type": "image/jpeg"}')
    assert status == 422
    assert body["detail"] == [{"loc": ["body", "size"], "msg": "Field required", "type": "missing"}]
