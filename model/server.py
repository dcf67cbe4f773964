"""The model server: the SageMaker container contract, plus the SageMaker runtime API path.

* `GET /ping`, `POST /invocations` (port 8080): what SageMaker calls inside a bring-your-own container.
* `POST /endpoints/{name}/invocations`: what boto3's `sagemaker-runtime` client calls, so
  `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:8080` works with unchanged client code. On this
  path the container's own 4xx answers are wrapped the way the real runtime wraps them (HTTP 424,
  `ModelError`), so callers see the same exceptions locally and on AWS.

A plain WSGI app served by waitress (pure Python, multi-threaded). The port is bound first and the
model loads in a background thread; `/ping` answers 503 until it is ready.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from model.inference import (
    IMAGE_CONTENT_TYPES,
    JSONLINES_CONTENT_TYPES,
    MAX_PAYLOAD_BYTES,
    Predictor,
    RequestError,
    resolve_model_dir,
    unsupported_content_type,
)

log = logging.getLogger("model.server")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]

ACCOUNT_ID = "123456789012"
ENDPOINT_PATH = re.compile(r"^/endpoints/(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations$")
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    424: "Failed Dependency",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class FaultConfig:
    """Opt-in fault injection for chaos tests; everything off by default."""

    throttle_rate: float = 0.0  # share of /endpoints calls answered with ThrottlingException
    enable_outage_switch: bool = False  # POST /faults/outage?seconds=N
    seed: int | None = None
    outage_until: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self.rng.seed(self.seed)


class ModelApp:
    """The WSGI application. `predictor` is None until the background load finishes."""

    def __init__(
        self,
        model_dir: Path,
        endpoint_names: Iterable[str] = ("vehicle-classifier",),
        threads: int = 2,
        faults: FaultConfig | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.model_dir = model_dir
        self.threads = threads
        self.endpoint_names = set(endpoint_names)
        self.faults = faults or FaultConfig()
        self.region = region
        self.predictor: Predictor | None = None
        self.load_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def load(self) -> None:
        try:
            self.predictor = Predictor(self.model_dir, threads=self.threads)
            log.info(
                "model %s loaded from %s in %.2fs",
                self.predictor.version,
                self.model_dir,
                self.predictor.load_seconds,
            )
        except Exception as exc:  # reported through /ping, never crashes the listener
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model failed to load")

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    # -- WSGI ----------------------------------------------------------------------------------------
    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            if path == "/ping" and method in ("GET", "HEAD"):
                return self.ping(start_response)
            if path == "/invocations":
                if method != "POST":
                    return respond(start_response, 405, {"error": "method-not-allowed", "message": method})
                return self.invocations(environ, start_response)
            match = ENDPOINT_PATH.match(path)
            if match:
                return self.runtime_invoke(environ, start_response, match["name"])
            if path == "/faults/outage" and self.faults.enable_outage_switch and method == "POST":
                return self.outage(environ, start_response)
            return respond(start_response, 404, {"error": "not-found", "message": f"{method} {path}"})
        except Exception:  # a bug must still answer, and say so
            log.exception("unhandled error on %s %s", method, path)
            return respond(start_response, 500, {"error": "internal", "message": "internal server error"})

    def ping(self, start_response: StartResponse) -> Iterable[bytes]:
        if self.predictor is not None:
            return respond(start_response, 200, {"status": "ready", "model_version": self.predictor.version})
        status = "failed" if self.load_error else "loading"
        return respond(start_response, 503, {"status": status, "error": self.load_error})

    def invocations(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status, body, headers = self.invoke(environ)
        return respond(start_response, status, body, headers)

    def invoke(self, environ: Environ) -> tuple[int, Any, list[tuple[str, str]]]:
        """The container's own answer: (status, JSON-able body or jsonlines bytes, extra headers)."""
        predictor = self.predictor
        if predictor is None:
            return 503, {"error": "model-loading", "message": self.load_error or "model is loading"}, []
        started = time.perf_counter()
        try:
            content_type = media_type(environ.get("CONTENT_TYPE", ""))
            if content_type not in IMAGE_CONTENT_TYPES and content_type not in JSONLINES_CONTENT_TYPES:
                raise unsupported_content_type(content_type)
            body = read_body(environ)
            attributes = f"model_version={predictor.version}"
            headers = []
            if content_type in JSONLINES_CONTENT_TYPES:
                lines = predictor.predict_jsonlines(body)
                payload = "".join(json.dumps(item) + "\n" for item in lines).encode()
                headers.append(("Content-Type", "application/jsonlines"))
                result: Any = payload
            else:
                result, graph = predictor.classify(body)
                attributes += f",graph={graph}"  # which of the model's graphs answered (by upload size)
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", attributes))
            headers.append(("X-Inference-Ms", f"{(time.perf_counter() - started) * 1000:.3f}"))
            return 200, result, headers
        except RequestError as exc:
            return exc.status, exc.body(), []

    def runtime_invoke(self, environ: Environ, start_response: StartResponse, name: str) -> Iterable[bytes]:
        """SageMaker runtime InvokeEndpoint, including the runtime's own error shapes."""
        if environ.get("REQUEST_METHOD") != "POST":
            return respond(start_response, 405, {"error": "method-not-allowed", "message": "POST only"})
        if name not in self.endpoint_names and "*" not in self.endpoint_names:
            arn = f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:endpoint/{name.lower()}"
            return runtime_error(
                start_response,
                400,
                "ValidationError",
                f"Endpoint {name} of account {ACCOUNT_ID} not found.",
                {"EndpointArn": arn},
            )
        if time.monotonic() < self.faults.outage_until:
            drain(environ)
            return runtime_error(
                start_response,
                503,
                "ServiceUnavailable",
                "Service is temporarily unavailable (injected outage).",
            )
        if self.faults.throttle_rate and self.faults.rng.random() < self.faults.throttle_rate:
            drain(environ)
            return runtime_error(start_response, 400, "ThrottlingException", "Rate exceeded (injected)")
        status, body, headers = self.invoke(environ)
        if status == 200:
            return respond(
                start_response, 200, body, [*headers, ("X-Amzn-Invoked-Production-Variant", "AllTraffic")]
            )
        original = json.dumps(body)
        kind = "client" if status < 500 else "server"
        log_group = f"/aws/sagemaker/Endpoints/{name}"
        message = (
            f'Received {kind} error ({status}) from primary with message "{original}". '
            f"See https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#logEventViewer:group={log_group} in account {ACCOUNT_ID} for more information."
        )
        return runtime_error(
            start_response,
            424,
            "ModelError",
            message,
            {
                "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
                "OriginalStatusCode": status,
                "OriginalMessage": original,
                "LogStreamArn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{log_group}",
            },
        )

    def outage(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            seconds = float(query.get("seconds", ["10"])[0])
        except ValueError:
            return respond(
                start_response, 400, {"error": "bad-request", "message": "seconds must be a number"}
            )
        self.faults.outage_until = time.monotonic() + max(0.0, seconds)
        return respond(start_response, 200, {"outage_seconds": seconds})


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise RequestError(400, "bad-request", "invalid Content-Length") from exc
    if length > MAX_PAYLOAD_BYTES:
        raise RequestError(413, "too-large", f"body of {length} bytes; at most {MAX_PAYLOAD_BYTES}")
    stream = environ["wsgi.input"]
    body: bytes = stream.read(length) if length else stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise RequestError(413, "too-large", f"body over {MAX_PAYLOAD_BYTES} bytes")
    if not body:
        raise RequestError(400, "corrupt-image", "empty body")
    return body


def drain(environ: Environ) -> None:
    """Read (and drop) the request body so the connection can be reused."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if 0 < length <= MAX_PAYLOAD_BYTES:
        environ["wsgi.input"].read(length)


def respond(
    start_response: StartResponse, status: int, body: Any, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    headers = list(headers or [])
    if isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
    return [payload]


def runtime_error(
    start_response: StartResponse, status: int, code: str, message: str, extra: dict[str, Any] | None = None
) -> list[bytes]:
    """The SageMaker runtime's error shape: botocore reads the code from x-amzn-ErrorType."""
    body = (
        {"message": message, **(extra or {})}
        if code != "ModelError"
        else {"Message": message, **(extra or {})}
    )
    headers = [
        ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/"),
        ("x-amzn-RequestId", os.urandom(16).hex()),
        ("Content-Type", "application/json"),
    ]
    return respond(start_response, status, body, headers)


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    model_dir: str | None = None
    endpoint_names: tuple[str, ...] = ("vehicle-classifier",)
    threads: int = 4
    model_threads: int = 2
    throttle_rate: float = 0.0
    enable_fault_injection: bool = False
    fault_seed: int | None = None
    region: str = "us-east-1"


def build_app(options: ServerOptions) -> ModelApp:
    faults = FaultConfig(
        throttle_rate=options.throttle_rate,
        enable_outage_switch=options.enable_fault_injection,
        seed=options.fault_seed,
    )
    return ModelApp(
        resolve_model_dir(options.model_dir),
        endpoint_names=options.endpoint_names,
        threads=options.model_threads,
        faults=faults,
        region=options.region,
    )


def serve(options: ServerOptions) -> None:
    """Bind, announce the port on stdout (`listening on http://HOST:PORT`), load the model, serve."""
    from waitress import create_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(options)
    server: Any = create_server(
        app,
        host=options.host,
        port=options.port,
        threads=options.threads,
        # SageMaker's 6 MB limit is enforced by the app with a JSON 413; waitress buffers bodies up to
        # 64 MB so a mistaken full-size photo still gets that JSON answer; beyond it waitress drops
        # the connection. Bodies within the limit stay in memory (waitress's default spills anything
        # over 512 kB to a temporary file, which a 12-megapixel photo pays for on every request).
        max_request_body_size=64 * 1024 * 1024,
        inbuf_overflow=MAX_PAYLOAD_BYTES + 64 * 1024,
        recv_bytes=256 * 1024,
        channel_timeout=120,
        ident="model-server",
        clear_untrusted_proxy_headers=True,
    )
    port = server.effective_port
    print(f"listening on http://{options.host}:{port}", flush=True)
    app.load_in_background()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        sys.stdout.flush()
