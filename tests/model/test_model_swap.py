"""The local endpoint's model swap (`POST /_local/model`, what UpdateEndpoint does on AWS)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

from local.model_swap import MODEL_SWAP_PATH
from local.sagemaker_runtime import SageMakerRuntime, call
from model.metadata import METADATA_FILE, resolve_model_dir
from model.serving.server import ModelApp

SERVED = resolve_model_dir(None)


def post(app: Any, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    answer = call(app, environ)
    return answer.status, json.loads(answer.body)


def test_a_swap_serves_the_new_model_and_a_bad_one_leaves_the_old_serving(tmp_path: Path) -> None:
    # GIVEN the runtime serving the package's model, and a copy of it under another version
    container = ModelApp(SERVED, threads=1)
    container.load()
    runtime = SageMakerRuntime(container)
    old = container.predictor.version if container.predictor else ""
    candidate = tmp_path / "candidate"
    shutil.copytree(SERVED, candidate)
    meta = json.loads((candidate / METADATA_FILE).read_text())
    meta["model_version"] = "candidate-1"
    (candidate / METADATA_FILE).write_text(json.dumps(meta))

    # WHEN a folder without a model is sent, THEN it is refused and the old model still answers
    status, body = post(runtime, MODEL_SWAP_PATH, json.dumps({"model_dir": str(tmp_path)}).encode())
    assert status == 422 and body["error"] == "model-load"
    assert container.predictor is not None and container.predictor.version == old
    status, body = post(runtime, MODEL_SWAP_PATH, b"not json")
    assert status == 400

    # WHEN the candidate is sent, THEN it answers from then on
    status, body = post(runtime, MODEL_SWAP_PATH, json.dumps({"model_dir": str(candidate)}).encode())
    assert (status, body["model_version"]) == (200, "candidate-1")
    png = (Path(__file__).resolve().parents[2] / "docs" / "board.png").read_bytes()
    answer = call(
        runtime,
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/endpoints/vehicle-classifier/invocations",
            "CONTENT_TYPE": "image/png",
            "CONTENT_LENGTH": str(len(png)),
            "wsgi.input": io.BytesIO(png),
        },
    )
    headers = dict(answer.headers)
    assert (
        answer.status == 200 and "model_version=candidate-1" in headers["X-Amzn-SageMaker-Custom-Attributes"]
    )
