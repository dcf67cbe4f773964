"""Fault injection is opt-in: throttling the way the SageMaker runtime throttles, through the WSGI app."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from model.server import FaultConfig, ModelApp
from tests.samples import noisy_image


def call(
    app: ModelApp, path: str, body: bytes, content_type: str, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = {k.lower(): v for k, v in headers}

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    out = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], out


def test_throttle_rate_one_throttles_every_runtime_call_but_never_invocations(tmp_path: Any) -> None:
    app = ModelApp(tmp_path, faults=FaultConfig(throttle_rate=1.0, seed=1))
    status, headers, body = call(app, "/endpoints/vehicle-classifier/invocations", b"x", "image/png")
    assert status == 400
    assert headers["x-amzn-errortype"].startswith("ThrottlingException")
    assert "Rate exceeded" in json.loads(body)["message"]
    # the container path is what SageMaker itself calls: never throttled (here: model still loading)
    assert call(app, "/invocations", b"x", "image/png")[0] == 503


def test_botocore_reads_the_injected_throttle_as_a_throttling_exception(tmp_path: Any) -> None:
    """The exact bytes the server sends, parsed by botocore's own rest-json parser."""
    from botocore import parsers

    app = ModelApp(tmp_path, faults=FaultConfig(throttle_rate=1.0, seed=1))
    status, headers, body = call(app, "/endpoints/vehicle-classifier/invocations", b"x", "image/png")
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    operation = client.meta.service_model.operation_model("InvokeEndpoint")
    parsed = parsers.create_parser("rest-json").parse(
        {"status_code": status, "headers": headers, "body": body}, operation.output_shape
    )
    assert parsed["Error"]["Code"] == "ThrottlingException"


def test_faults_are_off_by_default(tmp_path: Any) -> None:
    app = ModelApp(tmp_path)
    status, _, _ = call(app, "/faults/outage", b"", "", method="POST")
    assert status == 404
    status, _, _ = call(app, "/endpoints/vehicle-classifier/invocations", noisy_image(1), "image/jpeg")
    assert (
        status == 424
    )  # model not loaded (empty dir): a container 503 wrapped as ModelError, never throttled


@pytest.mark.parametrize("seconds", ["abc"])
def test_outage_switch_rejects_a_bad_duration(tmp_path: Any, seconds: str) -> None:
    app = ModelApp(tmp_path, faults=FaultConfig(enable_outage_switch=True))
    environ_path = "/faults/outage"
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])

    app(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": environ_path,
            "QUERY_STRING": f"seconds={seconds}",
            "wsgi.input": io.BytesIO(b""),
        },
        start_response,
    )
    assert captured["status"] == 400


def test_ping_is_503_until_the_model_is_loaded_then_200(tmp_path: Any) -> None:
    from model.inference import ARTIFACTS_DIR

    app = ModelApp(ARTIFACTS_DIR)
    status, _, body = call(app, "/ping", b"", "", method="GET")
    assert (status, json.loads(body)["status"]) == (503, "loading")
    app.load()
    status, _, body = call(app, "/ping", b"", "", method="GET")
    assert (status, json.loads(body)["status"]) == (200, "ready")


def test_ping_reports_a_failed_load(tmp_path: Any) -> None:
    app = ModelApp(tmp_path)  # no model here
    app.load()
    status, _, body = call(app, "/ping", b"", "", method="GET")
    assert status == 503
    assert json.loads(body)["status"] == "failed"
