"""The SageMaker runtime API in front of the model server, on a laptop (never deployed).

`python -m local.sagemaker_runtime [--host H] [--port P] [--endpoint-name NAME ...] [--model-dir DIR]
[--fault-throttle-rate R] [--enable-fault-injection] [--fault-seed N]` serves the model server's own
WSGI app (`model.serving.server`) behind this wrapper:

* `POST /endpoints/{name}/invocations`: what boto3's `sagemaker-runtime` client calls, so
  `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://H:P` works with unchanged client code. The request goes
  to the container's `POST /invocations`; a container error comes back the way the real runtime wraps
  it (HTTP 424 `ModelError`, `OriginalStatusCode`), an unknown name is a 400 `ValidationError`, so
  callers see the same exceptions here and on AWS.
* `GET /ping`, `POST /invocations`: the container's, unchanged.
* Faults for chaos tests, all off by default: `--fault-throttle-rate R` answers a share R of runtime
  calls with `ThrottlingException`; with `--enable-fault-injection`, `POST /faults/outage?seconds=N`
  answers every runtime call with 503 `ServiceUnavailable` for N seconds.
* `POST /_local/model` `{"model_dir": DIR}`: what UpdateEndpoint does on AWS, for `driver-routing
  promote`: the model in DIR is loaded beside the one serving, then answers every new request; no
  request is dropped. (127.0.0.1 only, like everything here.)
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import click

from local.model_swap import MODEL_SWAP_PATH
from model.cli import serve_command
from model.serving.inference import MAX_PAYLOAD_BYTES, RequestError
from model.serving.server import Environ, ServerOptions, StartResponse, WsgiApp, read_body, respond, serve

log = logging.getLogger("local.sagemaker_runtime")

ACCOUNT_ID = "123456789012"
ENDPOINT_PATH = re.compile(r"^/endpoints/(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations$")


@dataclass
class Faults:
    """Opt-in fault injection for chaos tests; everything off by default."""

    throttle_rate: float = 0.0  # share of runtime calls answered with ThrottlingException
    enable_outage_switch: bool = False  # POST /faults/outage?seconds=N
    seed: int | None = None
    outage_until: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self.rng.seed(self.seed)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def call(app: WsgiApp, environ: Environ) -> Answer:
    """Run a WSGI app to completion and keep what it answered."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> None:
        captured["status"], captured["headers"] = int(status.split()[0]), headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(captured["status"], captured["headers"], body)


class SageMakerRuntime:
    """WSGI: the runtime's `/endpoints/{name}/invocations` over a container's WSGI app."""

    def __init__(
        self,
        container: WsgiApp,
        endpoint_names: Iterable[str] = ("vehicle-classifier",),
        region: str = "us-east-1",
        faults: Faults | None = None,
    ) -> None:
        self.container = container
        self.endpoint_names = set(endpoint_names)
        self.region = region
        self.faults = faults or Faults()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        match = ENDPOINT_PATH.match(path)
        try:
            if match:
                return self.invoke_endpoint(environ, start_response, match["name"])
            if path == "/faults/outage" and self.faults.enable_outage_switch and method == "POST":
                return self.outage(environ, start_response)
            if path == MODEL_SWAP_PATH and method == "POST":
                return self.swap_model(environ, start_response)
        except Exception:  # a bug must still answer, and say so
            log.exception("unhandled error on %s %s", method, path)
            return respond(start_response, 500, {"error": "internal", "message": "internal server error"})
        return self.container(environ, start_response)

    def invoke_endpoint(self, environ: Environ, start_response: StartResponse, name: str) -> list[bytes]:
        """InvokeEndpoint, including the runtime's own error shapes."""
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
        answer = call(self.container, {**environ, "PATH_INFO": "/invocations"})
        if answer.status == 200:
            headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
            headers.append(("X-Amzn-Invoked-Production-Variant", "AllTraffic"))
            return respond(start_response, 200, answer.body, headers)
        return self.model_error(start_response, name, answer)

    def model_error(self, start_response: StartResponse, name: str, answer: Answer) -> list[bytes]:
        """A container's error as the runtime reports it: 424 with the container's status and body."""
        original = answer.body.decode("utf-8", "replace")
        kind = "client" if answer.status < 500 else "server"
        log_group = f"/aws/sagemaker/Endpoints/{name}"
        message = (
            f'Received {kind} error ({answer.status}) from primary with message "{original}". '
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
                "OriginalStatusCode": answer.status,
                "OriginalMessage": original,
                "LogStreamArn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{log_group}",
            },
        )

    def swap_model(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """The local stand-in for UpdateEndpoint: `{"model_dir": DIR}` loads that model beside the one
        serving and then answers with it, dropping no request (`ModelApp.swap`)."""
        swap = getattr(self.container, "swap", None)
        try:
            model_dir = Path(json.loads(read_body(environ))["model_dir"])
        except (RequestError, ValueError, KeyError, TypeError):
            return respond(
                start_response, 400, {"error": "bad-request", "message": 'send {"model_dir": DIR}'}
            )
        if swap is None:
            return respond(start_response, 501, {"error": "not-supported", "message": "no model to swap"})
        try:
            version = swap(model_dir)
        except Exception as error:  # the model serving goes on; the caller learns why
            return respond(
                start_response, 422, {"error": "model-load", "message": f"{type(error).__name__}: {error}"}
            )
        return respond(start_response, 200, {"model_version": version, "model_dir": str(model_dir)})

    def outage(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            seconds = float(query.get("seconds", ["10"])[0])
        except ValueError:
            return respond(
                start_response, 400, {"error": "bad-request", "message": "seconds must be a number"}
            )
        self.faults.outage_until = time.monotonic() + max(0.0, seconds)
        return respond(start_response, 200, {"outage_seconds": seconds})


def drain(environ: Environ) -> None:
    """Read (and drop) the request body so the connection can be reused."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if 0 < length <= MAX_PAYLOAD_BYTES:
        environ["wsgi.input"].read(length)


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


# The container's own options (host, port, model dir, threads) come from `serve`, so both agree.
@click.command("sagemaker-runtime", params=list(serve_command.params))
@click.option(
    "--endpoint-name",
    "endpoint_names",
    multiple=True,
    default=("vehicle-classifier",),
    show_default=True,
    help="Names answered on /endpoints/{name}/invocations ('*' for any).",
)
@click.option(
    "--fault-throttle-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of /endpoints calls answered with ThrottlingException (chaos tests).",
)
@click.option("--enable-fault-injection", is_flag=True, help="Enable POST /faults/outage?seconds=N.")
@click.option("--fault-seed", type=int, default=None, help="Seed for the injected faults.")
def main(
    endpoint_names: tuple[str, ...],
    fault_throttle_rate: float,
    enable_fault_injection: bool,
    fault_seed: int | None,
    **container: Any,
) -> None:
    """Serve the model behind an imitation of the SageMaker runtime API (local stack, tests)."""
    faults = Faults(fault_throttle_rate, enable_fault_injection, fault_seed)
    region = os.environ.get("AWS_REGION", "us-east-1")
    serve(ServerOptions(**container), wrap=lambda app: SageMakerRuntime(app, endpoint_names, region, faults))


if __name__ == "__main__":
    main()
