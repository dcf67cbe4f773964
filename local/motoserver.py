"""`python -m local.motoserver`: moto's app with the local stack's guards, served with keep-alive.

moto's app is served by `local.moto_http` (waitress: HTTP/1.1 keep-alive, a pool of request threads),
not by moto's own werkzeug development server (a connection and a thread per request).

Profiled under the chain's load (py-spy, `driver-routing bench`), moto 5.2 spent a third of its time on
work that is no AWS behaviour:
- werkzeug logs every request to stderr through one locked handler (~20% of samples, mostly waiting
  on the handler's lock);
- the dispatcher lists moto's package folder (`os.listdir` + an `isdir` per service) on every request,
  under the dispatcher's global lock (~7-15%).
The first is switched off (errors are still logged); the second is memoised: the folder cannot change
while the server runs.

The SQS speed-ups and the atomic receive are in `local.moto_sqs`.

moto's `BaseModel` keeps every model instance it ever creates in a class-level list (for its
`/moto-api/data.json` view): every SQS message handed out, every deep copy of a DynamoDB item a scan or
query returns. Over a long run that list, not the data, is most of moto's memory. `untrack_instances`
stops the tracking; the stack never reads that view.

moto's FIFO topics forward deduplication ids to their FIFO queues, but the topic itself does not
deduplicate, and a FIFO queue in moto only drops a duplicate of a message it still holds (one already
deleted by its consumer is forgotten). AWS deduplicates on the topic for five minutes from the first
publish. `deduplicate_fifo_topics` gives moto's topics that window, so the local stack keeps the promise
the chain relies on (one decision per photo), and the chaos run can show it.

moto's CloudFormation imports the models of some twenty services it might be asked to create
(EC2, RDS, ECS, Lambda, ...) so that their resource types are known: ~150 MB for services this stack never
creates. `only_needed_services` puts empty stand-ins for those packages in `sys.modules` first; a
request for one of them would fail, and nothing in the local stack makes one.

`count_requests` counts every request by caller, service and operation (`/_local/requests` answers the
counts as JSON): the figure the bench divides by photos. The caller is the `app/...` id in the
User-Agent (`AWS_SDK_UA_APP_ID`), which the local stack sets for the functions' process.
`DRIVER_ROUTING_MOTO_TRACE=FILE` writes every SQS send, receive and delete and every topic delivery to
FILE (`local.moto_trace`), to tell a duplicate's cause.

Everything else is moto's, and the arguments are `moto.server`'s `-H` and `-p`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.abc
import importlib.machinery
import io
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from local.moto_sqs import atomic_sqs_receive, speed_up_sqs
from local.moto_trace import TRACE_ENV, MessageTrace, trace_messaging
from local.pool_key import sign_with_fresh_key
from local.s3_post_policy import enforce_post_policies

COUNTS_PATH = "/_local/requests"
DEDUPLICATION_WINDOW_S = 300.0
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_APP_ID = re.compile(r"(?:^| )app/([^ ]+)")
_S3_OPERATIONS = {
    ("GET", True): "GetObject",
    ("PUT", True): "PutObject",
    ("HEAD", True): "HeadObject",
    ("DELETE", True): "DeleteObject",
    ("GET", False): "ListObjects",
    ("PUT", False): "PutBucket",
    ("HEAD", False): "HeadBucket",
    ("POST", False): "PostBucket",
}


def quieten_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        import moto.backends as backends
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is not None and not hasattr(listing, "cache_info"):
        cached = functools.cache(lambda: tuple(listing()))
        backends.list_of_moto_modules = cached


def untrack_instances() -> None:
    try:
        from moto.core import common_models
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    common_models.BaseModel.__new__ = untracked  # type: ignore[method-assign]


# What moto's CloudFormation imports and the template never creates (see infra/template.yaml).
UNUSED_SERVICES = (
    "apigateway",
    "autoscaling",
    "awslambda",
    "batch",
    "datapipeline",
    "ec2",
    "ecr",
    "ecs",
    "efs",
    "elb",
    "elbv2",
    "emr",
    "iot",
    "kinesis",
    "rds",
    "redshift",
    "route53",
    "sagemaker",
    "stepfunctions",
)


# The services the template's resources live in.
USED_SERVICES = ("s3", "sqs", "sns", "dynamodb", "iam", "logs", "cloudwatch", "kms", "ssm")


class _StandIn(types.ModuleType):
    """A package nothing here uses: any name imported from it is an empty class."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        stand_in = type(name, (), {})
        setattr(self, name, stand_in)
        return stand_in


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, packages: Iterable[str]) -> None:
        self._packages = tuple(packages)

    def find_spec(
        self, name: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if any(name == p or name.startswith(f"{p}.") for p in self._packages):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandIn(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def only_needed_services(unused: Iterable[str] = UNUSED_SERVICES) -> None:
    packages = [f"moto.{service}" for service in unused if f"moto.{service}" not in sys.modules]
    sys.meta_path.insert(0, _StandInFinder(packages))
    # CloudFormation finds resource types among the models imported so far; some of the stack's own
    # (log groups) were imported only through a stood-in service.
    for service in USED_SERVICES:
        importlib.import_module(f"moto.{service}.models")


def deduplicate_fifo_topics(window_s: float = DEDUPLICATION_WINDOW_S) -> None:
    try:
        from moto.sns import models
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    publish: Any = models.Topic.publish
    lock = threading.Lock()
    first: dict[tuple[str, str], tuple[float, str]] = {}  # (topic, dedup id) -> (when, message id)

    def deduplicated(
        self: Any, message: str, *args: Any, deduplication_id: str | None = None, **kwargs: Any
    ) -> str:
        if not self.fifo_topic:
            return str(publish(self, message, *args, deduplication_id=deduplication_id, **kwargs))
        if deduplication_id is None and str(self.content_based_deduplication).lower() == "true":
            deduplication_id = hashlib.sha256(message.encode()).hexdigest()
        key = (self.arn, deduplication_id or "")
        with lock:
            now = time.monotonic()
            seen = first.get(key)
            if deduplication_id and seen is not None and now - seen[0] < window_s:
                return seen[1]  # AWS answers a duplicate with the first publish's message id
            message_id = str(publish(self, message, *args, deduplication_id=deduplication_id, **kwargs))
            if deduplication_id:
                first[key] = (now, message_id)
                if len(first) % 1000 == 0:
                    for old in [k for k, (at, _) in first.items() if now - at >= window_s]:
                        del first[old]
        return message_id

    models.Topic.publish = deduplicated  # type: ignore[method-assign]


class RequestCounter:
    """Requests per (caller, service, operation), from what every AWS SDK puts on the wire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def count(self, environ: dict[str, Any]) -> None:
        service = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        app = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
        key = (
            app.group(1) if app else "other",
            service.group(1) if service else "unsigned",
            _operation(environ),
        )
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            items = sorted(self._counts.items())
        return [{"caller": c, "service": s, "operation": o, "count": n} for (c, s, o), n in items]


def _operation(environ: dict[str, Any]) -> str:
    """The API operation: JSON protocols name it in X-Amz-Target, query protocols in `Action` (in the
    form body: read and put back), S3 in its method and path."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return str(action[0])
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return str(action[0])
    path = environ.get("PATH_INFO", "/").strip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    operation = _S3_OPERATIONS.get((method, "/" in path), str(method))
    if operation == "GetObject" and environ.get("HTTP_RANGE"):
        return "GetObject(range)"
    return operation


def count_requests(counter: RequestCounter) -> None:
    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    dispatch = DomainDispatcherApplication.__call__

    def counted(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            body = json.dumps(counter.snapshot()).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        counter.count(environ)
        return dispatch(self, environ, start_response)  # type: ignore[no-any-return]

    DomainDispatcherApplication.__call__ = counted  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    only_needed_services()
    quieten_moto()
    speed_up_sqs()
    untrack_instances()
    if os.environ.get(TRACE_ENV):
        trace_messaging(MessageTrace(Path(os.environ[TRACE_ENV])))
    atomic_sqs_receive()
    deduplicate_fifo_topics()
    count_requests(RequestCounter())
    # What AWS enforces and moto does not: S3's POST policy check, a user pool key nobody else has.
    enforce_post_policies()
    sign_with_fresh_key()
    serve(argv)


def serve(argv: list[str] | None) -> None:
    """moto's app on `local.moto_http`'s server (keep-alive, a pool of threads) until SIGTERM."""
    from local.moto_http import THREADS, create_moto_server

    parser = argparse.ArgumentParser(prog="python -m local.motoserver")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    parser.add_argument("--threads", type=int, default=THREADS, help="Request threads (long polls hold one).")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    server = create_moto_server(args.host, args.port, threads=args.threads)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    server.run()  # closes the listener and stops the threads on SystemExit


if __name__ == "__main__":
    main(sys.argv[1:])
