"""The SageMaker container contract and the runtime API path, against a real server subprocess."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from model.inference import MAX_PAYLOAD_BYTES
from tests.model.conftest import RunningServer
from tests.samples import noisy_image, png_header_claiming

ENDPOINT = "vehicle-classifier"


def http(
    server: RunningServer,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        server.url + path, data=body, method=method or ("POST" if body else "GET")
    )
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def runtime(server: RunningServer) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def thumbnail_png() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(noisy_image(3, "PNG", (32, 32)))).convert("RGBA").save(out, format="PNG")
    return out.getvalue()


def assert_probabilities(value: Any) -> None:
    assert isinstance(value, list) and len(value) == 2
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in value)
    assert sum(value) == pytest.approx(1.0, abs=1e-5)


def test_ping_reports_ready_with_the_model_version(model_server: RunningServer) -> None:
    status, _, body = http(model_server, "/ping")
    assert status == 200
    assert json.loads(body)["status"] == "ready"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", thumbnail_png()),
        ("image/jpeg", noisy_image(1, "JPEG", (640, 480))),
        ("application/x-image", noisy_image(2, "JPEG", (320, 240))),
        ("image/png; charset=binary", noisy_image(4, "PNG", (50, 40))),
    ],
)
def test_invocations_answers_two_probabilities(
    model_server: RunningServer, content_type: str, data: bytes
) -> None:
    status, headers, body = http(model_server, "/invocations", data, content_type)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-sagemaker-custom-attributes"].startswith("model_version=")
    assert_probabilities(json.loads(body))


def test_a_greyscale_and_a_palette_image_are_classified(model_server: RunningServer) -> None:
    for mode in ("L", "P", "LA"):
        out = io.BytesIO()
        Image.open(io.BytesIO(noisy_image(5, "PNG", (40, 40)))).convert(mode).save(out, format="PNG")
        status, _, body = http(model_server, "/invocations", out.getvalue(), "image/png")
        assert status == 200, (mode, body)
        assert_probabilities(json.loads(body))


def test_batch_of_jsonlines_answers_one_line_per_item_with_errors_in_place(
    model_server: RunningServer,
) -> None:
    good = [noisy_image(i, "JPEG", (64, 48)) for i in range(3)]
    items = [
        json.dumps({"image": base64.b64encode(good[0]).decode()}),
        json.dumps({"image": base64.b64encode(b"not an image at all").decode()}),
        json.dumps({"image": base64.b64encode(good[1]).decode()}),
        json.dumps({"picture": "wrong key"}),
        json.dumps({"image": base64.b64encode(png_header_claiming(40_000, 40_000)).decode()}),
        json.dumps({"image": base64.b64encode(good[2]).decode()}),
    ]
    status, headers, body = http(
        model_server, "/invocations", "\n".join(items).encode(), "application/jsonlines"
    )
    assert status == 200, body
    assert headers["content-type"] == "application/jsonlines"
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == 6
    for index in (0, 2, 5):
        assert_probabilities(lines[index])
    assert lines[1]["error"] == "corrupt-image"
    assert lines[3]["error"] == "bad-request"
    assert lines[4]["error"] == "decompression-bomb"
    # the batch answer for an image equals its single answer
    _, _, single = http(model_server, "/invocations", good[1], "image/jpeg")
    assert json.loads(single) == pytest.approx(lines[2], abs=1e-6)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (noisy_image(1, "JPEG"), "text/csv", 415, "unsupported-content-type"),
        (noisy_image(1, "JPEG"), "application/json", 415, "unsupported-content-type"),
        (b"this is not an image" * 10, "image/jpeg", 400, "corrupt-image"),
        (noisy_image(6, "JPEG", (640, 480))[:2000], "image/jpeg", 400, "corrupt-image"),  # truncated JPEG
        (noisy_image(6, "PNG", (300, 300))[:300], "image/png", 400, "corrupt-image"),  # truncated PNG
        (png_header_claiming(40_000, 40_000), "image/png", 400, "decompression-bomb"),
        (png_header_claiming(9_000, 7_000), "image/png", 400, "decompression-bomb"),  # 63 MP: over the guard
        (b"\xff\xd8" + b"\0" * (MAX_PAYLOAD_BYTES + 1), "image/jpeg", 413, "too-large"),
        (b"", "image/jpeg", 400, "corrupt-image"),
    ],
    ids=[
        "csv",
        "json",
        "undecodable",
        "truncated-jpeg",
        "truncated-png",
        "bomb",
        "bomb-over-guard",
        "413",
        "empty",
    ],
)
def test_bad_input_never_gets_a_5xx(
    model_server: RunningServer, data: bytes, content_type: str, status: int, code: str
) -> None:
    got, headers, body = http(model_server, "/invocations", data, content_type, method="POST")
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == code


def test_a_body_of_exactly_the_limit_is_classified(model_server: RunningServer) -> None:
    """6 MB is allowed (413 starts one byte above): a JPEG padded after its end-of-image marker."""
    photo = noisy_image(8, "JPEG", (4000, 3000))
    body = photo + b"\0" * (MAX_PAYLOAD_BYTES - len(photo))
    assert len(body) == MAX_PAYLOAD_BYTES
    status, headers, answer = http(model_server, "/invocations", body, "image/jpeg")
    assert status == 200, answer
    assert float(headers["x-inference-ms"]) > 0
    assert_probabilities(json.loads(answer))


def test_unknown_path_is_404_and_get_invocations_is_405(model_server: RunningServer) -> None:
    assert http(model_server, "/nope")[0] == 404
    assert http(model_server, "/invocations")[0] == 405


def test_boto3_invoke_endpoint_reaches_the_server(model_server: RunningServer) -> None:
    resp = runtime(model_server).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Accept="application/json", Body=thumbnail_png()
    )
    assert resp["ContentType"] == "application/json"
    assert resp["CustomAttributes"].startswith("model_version=")
    assert resp["CustomAttributes"].endswith(",graph=thumbnail")  # a 32x32 upload
    assert resp["InvokedProductionVariant"] == "AllTraffic"
    assert_probabilities(json.loads(resp["Body"].read()))


def test_boto3_batch_call(model_server: RunningServer) -> None:
    body = "\n".join(
        json.dumps({"image": base64.b64encode(noisy_image(i, "JPEG", (64, 64))).decode()}) for i in range(16)
    )
    resp = runtime(model_server).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="application/jsonlines", Body=body.encode()
    )
    assert resp["ContentType"] == "application/jsonlines"
    lines = resp["Body"].read().decode().splitlines()
    assert len(lines) == 16
    for line in lines:
        assert_probabilities(json.loads(line))


@pytest.mark.parametrize(
    ("data", "content_type", "original_status"),
    [
        (noisy_image(1, "JPEG"), "text/csv", 415),
        (b"garbage bytes", "image/png", 400),
        (png_header_claiming(40_000, 40_000), "image/png", 400),
    ],
)
def test_container_4xx_becomes_the_runtimes_model_error(
    model_server: RunningServer, data: bytes, content_type: str, original_status: int
) -> None:
    client = runtime(model_server)
    with pytest.raises(client.exceptions.ModelError) as raised:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType=content_type, Body=data)
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == original_status
    assert json.loads(response["OriginalMessage"])["error"]
    assert f"({original_status})" in response["Error"]["Message"]


def test_unknown_endpoint_is_a_validation_error(model_server: RunningServer) -> None:
    client = runtime(model_server)
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.invoke_endpoint(EndpointName="no-such-endpoint", ContentType="image/png", Body=thumbnail_png())
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_outage_switch_answers_service_unavailable_then_recovers(model_server: RunningServer) -> None:
    status, _, _ = http(model_server, "/faults/outage?seconds=0.6", b"", method="POST")
    assert status == 200
    client = runtime(model_server)
    with pytest.raises(client.exceptions.ServiceUnavailable) as raised:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=thumbnail_png())
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # /invocations (SageMaker's own health path) is not part of the runtime outage
    assert http(model_server, "/invocations", thumbnail_png(), "image/png")[0] == 200
    time.sleep(0.7)
    resp = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=thumbnail_png())
    assert_probabilities(json.loads(resp["Body"].read()))
