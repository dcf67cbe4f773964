"""The SageMaker-runtime imitation in front of the model server: what boto3 sees, and injected faults.

In-process tests wrap a container WSGI app directly; the rest start `python -m local.sagemaker_runtime`
and call it the way the classifier function does, through boto3's `invoke_endpoint`.
"""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import parsers
from botocore.awsrequest import HeadersDict
from botocore.config import Config
from PIL import Image

from local.sagemaker_runtime import Faults, SageMakerRuntime
from model.serving.server import Environ, ModelApp, StartResponse
from shared.aws.endpoint import AnswerFacts, VehicleEndpoint
from shared.contracts import NONE
from tests.samples import noisy_image, png_header_claiming
from tests.servers import RunningServer, start_server, stop_server

ENDPOINT = "vehicle-classifier"
RUNTIME_PATH = f"/endpoints/{ENDPOINT}/invocations"
# The committed model's answer classes, as the model server names them in its custom attributes.
LABELS = ("bicycle", "motorcycle", NONE)


def call(
    app: SageMakerRuntime,
    path: str,
    body: bytes = b"",
    content_type: str = "",
    method: str = "POST",
    query: str = "",
) -> tuple[int, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    out = b"".join(app(environ, start_response))
    names = [k.lower() for k, _ in captured["headers"]]
    assert len(names) == len(set(names)), captured["headers"]  # one of each header, Content-Length above all
    return captured["status"], {k.lower(): v for k, v in captured["headers"]}, out


def answering(status: str, headers: list[tuple[str, str]], body: bytes) -> Any:
    """A container that answers every request alike, and records the paths it was asked for."""
    paths: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        paths.append(environ["PATH_INFO"])
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    app.paths = paths  # type: ignore[attr-defined]
    return app


def botocore_parse(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The exact bytes the wrapper sends, read by botocore's own rest-json parser."""
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    shape = client.meta.service_model.operation_model("InvokeEndpoint").output_shape
    assert shape is not None
    parsed: dict[str, Any] = parsers.create_parser("rest-json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, shape
    )
    return parsed


def test_a_runtime_call_goes_to_the_containers_invocations_and_its_answer_comes_back() -> None:
    container = answering(
        "200 OK",
        [
            ("Content-Type", "application/jsonlines"),
            ("X-Amzn-SageMaker-Custom-Attributes", "model_version=v,classes=bicycle|motorcycle|none"),
        ],
        b"[0.1, 0.9, 0.0]\n",
    )
    status, headers, body = call(SageMakerRuntime(container), RUNTIME_PATH, b"{}", "application/jsonlines")
    assert (status, body) == (200, b"[0.1, 0.9, 0.0]\n")
    assert container.paths == ["/invocations"]
    assert headers["content-type"] == "application/jsonlines"
    assert headers["content-length"] == str(len(body))
    assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    parsed = botocore_parse(status, headers, body)
    assert parsed["CustomAttributes"] == "model_version=v,classes=bicycle|motorcycle|none"
    assert AnswerFacts.of(parsed) == AnswerFacts("v", LABELS)


@pytest.mark.parametrize(
    ("status", "kind"), [("415 Unsupported Media Type", "CLIENT"), ("500 Error", "SERVER")]
)
def test_a_container_error_becomes_a_model_error_carrying_its_status_and_body(status: str, kind: str) -> None:
    original = b'{"error": "x", "message": "y"}'
    app = SageMakerRuntime(answering(status, [("Content-Type", "application/json")], original))
    got, headers, body = call(app, RUNTIME_PATH, b"x", "text/csv")
    assert got == 424
    assert botocore_parse(got, headers, body)["Error"]["Code"] == "ModelError"
    error = json.loads(body)
    assert error["OriginalStatusCode"] == int(status.split()[0])
    assert error["OriginalMessage"] == original.decode()
    assert error["ErrorCode"] == f"{kind}_ERROR_FROM_MODEL"


def test_an_unknown_endpoint_name_is_a_validation_error_and_never_reaches_the_container() -> None:
    container = answering("200 OK", [], b"[]")
    status, headers, body = call(
        SageMakerRuntime(container), "/endpoints/other/invocations", b"x", "image/png"
    )
    assert status == 400
    assert botocore_parse(status, headers, body)["Error"]["Code"] == "ValidationError"
    assert container.paths == []


def test_the_containers_own_paths_pass_through_unchanged() -> None:
    container = answering("200 OK", [("Content-Type", "application/json")], b'{"status": "ready"}')
    app = SageMakerRuntime(container)
    assert call(app, "/ping", method="GET")[::2] == (200, b'{"status": "ready"}')
    call(app, "/invocations", b"x", "image/png")
    assert container.paths == ["/ping", "/invocations"]


def test_throttle_rate_one_throttles_every_runtime_call_but_never_invocations(tmp_path: Path) -> None:
    app = SageMakerRuntime(ModelApp(tmp_path), faults=Faults(throttle_rate=1.0, seed=1))
    status, headers, body = call(app, RUNTIME_PATH, b"x", "image/png")
    assert status == 400
    assert headers["x-amzn-errortype"].startswith("ThrottlingException")
    assert "Rate exceeded" in json.loads(body)["message"]
    assert botocore_parse(status, headers, body)["Error"]["Code"] == "ThrottlingException"
    # the container path is what SageMaker itself calls: never throttled (here: model still loading)
    assert call(app, "/invocations", b"x", "image/png")[0] == 503


def test_faults_are_off_by_default(tmp_path: Path) -> None:
    app = SageMakerRuntime(ModelApp(tmp_path))
    assert call(app, "/faults/outage", query="seconds=5")[0] == 404
    status, _, body = call(app, RUNTIME_PATH, noisy_image(1), "image/jpeg")
    # model not loaded (empty dir): the container's 503 wrapped as ModelError, never throttled
    assert (status, json.loads(body)["OriginalStatusCode"]) == (424, 503)


def test_an_outage_answers_service_unavailable_on_the_runtime_path_only(tmp_path: Path) -> None:
    app = SageMakerRuntime(ModelApp(tmp_path), faults=Faults(enable_outage_switch=True))
    assert call(app, "/faults/outage", query="seconds=abc")[0] == 400
    assert call(app, "/faults/outage", query="seconds=60")[0] == 200
    status, headers, body = call(app, RUNTIME_PATH, b"x", "image/png")
    assert status == 503
    assert botocore_parse(status, headers, body)["Error"]["Code"] == "ServiceUnavailable"
    assert call(app, "/invocations", b"x", "image/png")[0] == 503  # the container's own (loading) answer


# --- python -m local.sagemaker_runtime, through boto3 ---------------------------------------------


@pytest.fixture(scope="module")
def runtime_endpoint() -> Iterator[RunningServer]:
    server = start_server("local.sagemaker_runtime", "--enable-fault-injection", "--endpoint-name", ENDPOINT)
    yield server
    stop_server(server)


def runtime(server: RunningServer) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def http(server: RunningServer, path: str, body: bytes, content_type: str | None = None) -> int:
    request = urllib.request.Request(server.url + path, data=body, method="POST")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def thumbnail_png() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(noisy_image(3, "PNG", (32, 32)))).convert("RGBA").save(out, format="PNG")
    return out.getvalue()


def assert_probabilities(value: Any) -> None:
    assert isinstance(value, list) and len(value) == len(LABELS)  # one per class the answer names
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in value)
    assert sum(value) == pytest.approx(1.0, abs=1e-5)


def test_boto3_invoke_endpoint_reaches_the_server(runtime_endpoint: RunningServer) -> None:
    resp = runtime(runtime_endpoint).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Accept="application/json", Body=thumbnail_png()
    )
    assert resp["ContentType"] == "application/json"
    assert resp["CustomAttributes"].startswith("model_version=")
    assert resp["CustomAttributes"].endswith(",graph=thumbnail")  # a 32x32 upload
    assert AnswerFacts.of(resp).labels == LABELS
    assert resp["InvokedProductionVariant"] == "AllTraffic"
    assert_probabilities(json.loads(resp["Body"].read()))


def test_the_classifiers_adapter_reads_each_probability_under_its_class(
    runtime_endpoint: RunningServer,
) -> None:
    # GIVEN the classifier's endpoint adapter on a boto3 client of the local runtime
    endpoint = VehicleEndpoint(runtime(runtime_endpoint), ENDPOINT)
    # WHEN it classifies one image, and a batch of two
    one = endpoint.classify(thumbnail_png())
    batch = endpoint.send_batch([noisy_image(i, "JPEG", (64, 64)) for i in range(2)])
    # THEN every answer holds the model's classes by name, "none" among them, and its version
    for answer in (one, *batch):
        assert not isinstance(answer, Exception)
        assert tuple(answer.probabilities.root) == LABELS
        assert answer.probabilities.none is not None
        assert answer.model_version


def test_boto3_batch_call(runtime_endpoint: RunningServer) -> None:
    body = "\n".join(
        json.dumps({"image": base64.b64encode(noisy_image(i, "JPEG", (64, 64))).decode()}) for i in range(16)
    )
    resp = runtime(runtime_endpoint).invoke_endpoint(
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
    runtime_endpoint: RunningServer, data: bytes, content_type: str, original_status: int
) -> None:
    client = runtime(runtime_endpoint)
    with pytest.raises(client.exceptions.ModelError) as raised:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType=content_type, Body=data)
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == original_status
    assert json.loads(response["OriginalMessage"])["error"]
    assert f"({original_status})" in response["Error"]["Message"]


def test_unknown_endpoint_is_a_validation_error(runtime_endpoint: RunningServer) -> None:
    client = runtime(runtime_endpoint)
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.invoke_endpoint(EndpointName="no-such-endpoint", ContentType="image/png", Body=thumbnail_png())
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_outage_switch_answers_service_unavailable_then_recovers(runtime_endpoint: RunningServer) -> None:
    assert http(runtime_endpoint, "/faults/outage?seconds=0.6", b"") == 200
    client = runtime(runtime_endpoint)
    with pytest.raises(client.exceptions.ServiceUnavailable) as raised:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=thumbnail_png())
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # /invocations (SageMaker's own health path) is not part of the runtime outage
    assert http(runtime_endpoint, "/invocations", thumbnail_png(), "image/png") == 200
    time.sleep(0.7)
    resp = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=thumbnail_png())
    assert_probabilities(json.loads(resp["Body"].read()))
