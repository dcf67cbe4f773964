"""The model server: the SageMaker container contract, `GET /ping` and `POST /invocations` (port 8080).

What SageMaker calls inside a bring-your-own container, and nothing else: the runtime API in front of
it (`/endpoints/{name}/invocations`, its error shapes, injected faults) is imitated for a laptop by
`local.sagemaker_runtime`, which wraps this WSGI app.

A plain WSGI app served by waitress (pure Python, multi-threaded). The port is bound first and the
model loads in a background thread; `/ping` answers 503 until it is ready.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.metadata import resolve_model_dir
from model.serving.inference import JSONLINES_CONTENT_TYPES, MAX_PAYLOAD_BYTES, Predictor, RequestError
from model.serving.preprocess import IMAGE_CONTENT_TYPES

log = logging.getLogger("model.serving.server")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
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


class ModelApp:
    """The WSGI application. `predictor` is None until the background load finishes."""

    def __init__(self, model_dir: Path, threads: int = 2) -> None:
        self.model_dir = model_dir
        self.threads = threads
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

    def swap(self, model_dir: Path) -> str:
        """Load the model in `model_dir` beside the one serving, then answer with it: a request that
        has started keeps the predictor it took (`invoke` reads it once), so none is dropped. Returns
        the new model's version; on a load error the old model goes on serving and the error is raised."""
        predictor = Predictor(model_dir, threads=self.threads)
        self.model_dir, self.predictor, self.load_error = model_dir, predictor, None
        log.info("model %s now serving, from %s", predictor.version, model_dir)
        return predictor.version

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
            # The class of each probability travels with every answer: callers need no copy of the order.
            attributes = f"model_version={predictor.version},classes={'|'.join(predictor.labels)}"
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


def unsupported_content_type(content_type: str) -> RequestError:
    accepted = sorted(IMAGE_CONTENT_TYPES | {"application/jsonlines"})
    return RequestError(
        415, "unsupported-content-type", f"content type {content_type!r}; accepted: {accepted}"
    )


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


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    model_dir: str | None = None
    threads: int = 4
    model_threads: int = 2


def build_app(options: ServerOptions) -> ModelApp:
    return ModelApp(resolve_model_dir(options.model_dir), threads=options.model_threads)


def serve(options: ServerOptions, wrap: Callable[[ModelApp], WsgiApp] | None = None) -> None:
    """Bind, announce the port on stdout (`listening on http://HOST:PORT`), load the model, serve.

    `wrap` puts a WSGI app in front of the model server's (the local SageMaker-runtime imitation).
    """
    from waitress import create_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(options)
    server: Any = create_server(
        wrap(app) if wrap else app,
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
