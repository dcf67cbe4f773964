"""The local API gateway refuses what API Gateway refuses before the function runs: a body over 10 MB
(413) and requests over the template's throttles (429)."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from local.api_gateway.authorizer import JwtAuthorizer
from local.api_gateway.limits import Throttle, throttles_from_template
from local.api_gateway.routes import routes_from_template
from local.api_gateway.server import LocalApiGateway


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gateway(parameters: dict[str, str] | None = None, clock: Clock | None = None) -> tuple[Client, list[Any]]:
    calls: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"statusCode": 200, "body": "ok"}

    authorizer = JwtAuthorizer(issuer="https://issuer", audience="client", jwks_url="http://127.0.0.1:1/jwks")
    app = LocalApiGateway(
        handler,
        routes_from_template(),
        authorizer,
        throttles=throttles_from_template(parameters, clock or Clock()),
    )
    return Client(app), calls


def test_the_throttles_are_the_templates() -> None:
    # GIVEN the template's defaults WHEN the gateway reads them
    throttles = throttles_from_template()
    # THEN POST /uploads has its own route settings and every other route the stage's default
    assert throttles.settings("POST /uploads") == Throttle(rate_per_s=10.0, burst=50)
    assert throttles.settings("GET /board") == Throttle(rate_per_s=50.0, burst=100)
    # AND a stack's parameters override the defaults
    small = throttles_from_template({"UploadThrottlingBurstLimit": "2", "UploadThrottlingRateLimit": "1"})
    assert small.settings("POST /uploads") == Throttle(rate_per_s=1.0, burst=2)


def test_a_body_over_ten_megabytes_is_413_before_the_function_runs() -> None:
    # GIVEN the gateway WHEN 20 MB is posted, then 10 MB exactly
    client, calls = gateway()
    too_big = client.post("/uploads", data=b"{" + b" " * (20 * 1024 * 1024) + b"}")
    at_limit = client.get("/", data=b"x" * (10 * 1024 * 1024))
    # THEN the first is API Gateway's 413 and never reaches the function; the second does
    assert too_big.status_code == 413
    assert too_big.json == {"message": "Request Entity Too Large"}
    assert at_limit.status_code == 200
    assert len(calls) == 1


def test_a_burst_over_the_route_throttle_is_429_and_the_bucket_refills() -> None:
    # GIVEN POST /uploads throttled at a burst of 3 and 1 a second, on a clock that stands still
    clock = Clock()
    client, calls = gateway({"UploadThrottlingBurstLimit": "3", "UploadThrottlingRateLimit": "1"}, clock)
    # WHEN 5 requests come at once
    answers = [client.post("/uploads", json={}).status_code for _ in range(5)]
    # THEN 3 reach the authorizer (no token: 401) and 2 are throttled; other routes are not
    assert answers == [401, 401, 401, 429, 429]
    assert client.get("/").status_code == 200
    # AND one second later one more is let through
    clock.now += 1.0
    assert [client.post("/uploads", json={}).status_code for _ in range(2)] == [401, 429]
    assert len(calls) == 1  # only GET / ran the function
