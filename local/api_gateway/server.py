"""`python -m local.api_gateway`: the HTTP API in front of the very same Lambda handler, on 127.0.0.1.

Each request is matched to a route of the template, throttled and size-checked as API Gateway does
(`limits.py`: 429 over the template's throttles, 413 over 10 MB), authorized as the JWT authorizer would
(`authorizer.py`), turned into the payload-2.0 event (`events.py`) with the verified claims where
API Gateway puts them, and handed to `services.api.handler.lambda_handler` with a Lambda context.
One invocation at a time, as one Lambda execution environment runs (Powertools' resolver keeps the
current event in module state). Werkzeug (Flask's toolkit, already a dependency of moto's server)
parses the HTTP; nothing here speaks HTTP by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.api_gateway.authorizer import JwtAuthorizer, Unauthorized
from local.api_gateway.events import http_api_event, http_response
from local.api_gateway.limits import MAX_PAYLOAD_BYTES, Throttles, throttles_from_template
from local.api_gateway.routes import Route, match, routes_from_template
from local.api_gateway.schedule import die_before_publish_when_asked, run_schedule
from local.eventsource import LocalLambdaContext
from local.processes import HOST

log = logging.getLogger("local.api_gateway")

Handler = Callable[[dict[str, Any], Any], Any]


def _message(status: int, text: str) -> Response:
    return Response(json.dumps({"message": text}), status=status, content_type="application/json")


class LocalApiGateway:
    def __init__(
        self,
        handler: Handler,
        routes: list[Route],
        authorizer: JwtAuthorizer,
        *,
        function_name: str = "api",
        timeout_s: float = 10,
        throttles: Throttles | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self._handler = handler
        self._routes = routes
        self._authorizer = authorizer
        self._throttles = throttles or Throttles(None, {})
        self._max_payload_bytes = max_payload_bytes
        self._function_name = function_name
        self._timeout_s = timeout_s
        self._one_at_a_time = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = self.respond(Request(environ))
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        route, path_known = match(self._routes, request.method, request.path)
        preflight = request.method == "OPTIONS" and path_known
        if route is None and not preflight:
            return _message(404, "Not Found")
        if route is not None and not self._throttles.allow(route.key):
            return _message(429, "Too Many Requests")
        request.max_content_length = self._max_payload_bytes
        try:
            body = request.get_data()
        except RequestEntityTooLarge:
            return _message(413, "Request Entity Too Large")
        claims = None
        if route is not None and route.authorized:
            try:
                claims = self._authorizer.claims(request.headers.get("Authorization"))
            except Unauthorized as why:
                log.info("401 %s %s: %s", request.method, request.path, why)
                return _message(401, "Unauthorized")
        event = http_api_event(
            method=request.method,
            path=request.path,
            query_string=request.query_string.decode("latin-1"),
            headers=list(request.headers.items()),
            body=body,
            route_key=route.key if route else "$default",
            claims=claims,
            source_ip=request.remote_addr or HOST,
        )
        with self._one_at_a_time:
            try:
                result = self._handler(event, LocalLambdaContext(self._function_name, self._timeout_s))
            except Exception:
                log.exception("the function failed on %s %s", request.method, request.path)
                return _message(500, "Internal Server Error")
        status, headers, body = http_response(result)
        return Response(body, status=status, headers=headers)

    def invoke(self, event: dict[str, Any]) -> Any:
        """An invocation that is not a request (the schedule's), one at a time with the requests."""
        with self._one_at_a_time:
            return self._handler(event, LocalLambdaContext(self._function_name, self._timeout_s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.api_gateway", description=__doc__)
    parser.add_argument("--host", default=HOST, help="the address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="a template parameter"
    )
    parser.add_argument(
        "--schedule-every", type=float, default=5.0, help="seconds between the schedule's invocations"
    )
    parser.add_argument(
        "--crash-before-publish",
        type=Path,
        help="a file whose existence kills the process at its next publish",
    )
    args = parser.parse_args(argv)
    parameters = dict(p.split("=", 1) for p in args.parameter)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from services.api.handler import lambda_handler

    gateway = LocalApiGateway(
        lambda_handler,
        routes_from_template(),
        JwtAuthorizer(issuer=args.issuer, audience=args.audience, jwks_url=args.jwks_url),
        timeout_s=float(os.environ.get("API_FUNCTION_TIMEOUT_S", "10")),
        throttles=throttles_from_template(parameters),
    )
    if args.crash_before_publish is not None:
        die_before_publish_when_asked(args.crash_before_publish)
    run_schedule(gateway.invoke, args.schedule_every)
    server = make_server(args.host, args.port, gateway, threaded=True)
    log.info("local API gateway on http://%s:%d", args.host, args.port)
    server.serve_forever()
