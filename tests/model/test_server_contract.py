"""The SageMaker container contract (GET /ping, POST /invocations), against a real server subprocess."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from model.metadata import ARTIFACTS_DIR
from model.serving.inference import MAX_PAYLOAD_BYTES
from model.serving.server import ModelApp
from services.router.rules import load_rules
from shared.aws.endpoint import AnswerFacts
from shared.contracts import NONE
from tests.samples import noisy_image, png_header_claiming
from tests.servers import RunningServer


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


def thumbnail_png() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(noisy_image(3, "PNG", (32, 32)))).convert("RGBA").save(out, format="PNG")
    return out.getvalue()


# The committed model's classes, as every answer names them: the rules' vehicle classes, then "none".
LABELS = (*load_rules().classes, NONE)


def assert_probabilities(value: Any) -> None:
    # one probability per class the answer names: the committed model answers "none" as a third class
    assert isinstance(value, list) and len(value) == len(LABELS) == 3
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
def test_invocations_answer_a_probability_per_class_it_names(
    model_server: RunningServer, content_type: str, data: bytes
) -> None:
    status, headers, body = http(model_server, "/invocations", data, content_type)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    # the custom attributes say the model's version and the class of each probability, in order
    facts = AnswerFacts.of({"CustomAttributes": headers["x-amzn-sagemaker-custom-attributes"]})
    assert facts.model_version and facts.labels == LABELS
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
    facts = AnswerFacts.of({"CustomAttributes": headers["x-amzn-sagemaker-custom-attributes"]})
    assert facts.labels == LABELS
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
    assert " object at 0x" not in json.loads(body).get("message", "")  # says what is wrong, not where


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


def test_the_runtime_api_is_not_part_of_the_container(model_server: RunningServer) -> None:
    """SageMaker calls only /ping and /invocations; /endpoints/{name}/invocations is the runtime's."""
    status, _, _ = http(
        model_server, "/endpoints/vehicle-classifier/invocations", thumbnail_png(), "image/png"
    )
    assert status == 404
    assert http(model_server, "/faults/outage?seconds=1", b"", method="POST")[0] == 404


def call(app: ModelApp, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    """One request through the WSGI app in this process."""
    captured: dict[str, int] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b"")}
    body = b"".join(app(environ, start_response))
    return captured["status"], json.loads(body)


def test_ping_is_503_until_the_model_is_loaded_then_200() -> None:
    app = ModelApp(ARTIFACTS_DIR)
    assert call(app, "/ping") == (503, {"status": "loading", "error": None})
    app.load()
    status, body = call(app, "/ping")
    assert (status, body["status"]) == (200, "ready")


def test_ping_reports_a_failed_load_and_invocations_say_the_model_is_not_there(tmp_path: Path) -> None:
    app = ModelApp(tmp_path)  # no model here
    app.load()
    status, body = call(app, "/ping")
    assert (status, body["status"]) == (503, "failed")
    status, body = call(app, "/invocations", method="POST")
    assert (status, body["error"]) == (503, "model-loading")
