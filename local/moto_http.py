"""moto's WSGI app behind waitress: HTTP/1.1 keep-alive and a fixed pool of request threads.

moto's own server is werkzeug's development server: a new thread and a new TCP connection for every
request (its handler answers `Connection: close`), and after each response it drains the socket for
10 ms, which is why keep-alive cannot simply be switched on there (the drain would swallow the next
request on the connection). waitress keeps connections open between requests, reads them on one I/O
thread and runs each request on a pool thread.

What moto's handler (`MotoRequestHandler`) does and waitress does not, done here:
- S3 user metadata may have underscores in its names (`x-amz-meta-photo_id`); waitress drops every
  header with an underscore (WSGI cannot tell `X_Foo` from `X-Foo`). The parser keeps the ones moto
  keeps (`should_preserve_original_header_name`), never in place of a dashed header of the same key,
  and tells moto their spelling as moto's handler does;
- werkzeug puts the path as it arrived in `RAW_URI` (moto matches S3 keys against the encoded path);
  waitress calls it `REQUEST_URI`;
- werkzeug writes response headers as the app names them; waitress capitalises every word, and boto3
  takes S3 metadata names from the header names (`x-amz-meta-original-name` is `original-name`, as on
  S3; `X-Amz-Meta-Original-Name` would be `Original-Name`). The names are written as moto gives them.

And one thing waitress gets wrong: boto3 sends `Expect: 100-continue` with every PutObject, an empty one
too; waitress answers "100 Continue" and then marks the request incomplete, waiting for a body that never
comes, so the upload of an empty object hangs. A request without a body is not told to continue.

Threads: every SQS long poll holds a request thread for its wait (up to 20 s). The local stack's pollers
hold seven (one per execution environment), a subscriber (`watch`, the bench, `upload --wait`) one to
four more, and every other request needs a thread beside them, or the chain stalls behind its own
polls. `THREADS` leaves room for all of them and the bench's uploaders at once; an idle thread costs
nothing but its stack.
"""

from __future__ import annotations

from typing import Any

from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import BaseWSGIServer, create_server
from waitress.task import WSGITask

THREADS = 64
# Connections kept open: every client's pool (boto3 keeps up to 32 per client) across the stack's
# processes, the bench's uploaders and the CLI; past it waitress stops accepting until some close.
CONNECTION_LIMIT = 1000
# An idle connection is closed after this long (clients open a new one when they find it closed).
IDLE_TIMEOUT_S = 300


def preserved_headers(header_block: bytes) -> dict[str, tuple[str, str]]:
    """The underscored headers moto keeps, from a request's header lines (after the request line):
    {WSGI key without `HTTP_`: (name as sent, value)}; repeated names are joined with commas."""
    dashed: set[str] = set()
    found: dict[str, tuple[str, list[str]]] = {}
    for line in get_header_lines(header_block):
        match = HEADER_FIELD_RE.match(line)
        if not match:
            continue  # waitress refuses the request itself
        name = match.group("name").decode("latin-1")
        value = match.group("value").strip(b" \t").decode("latin-1")
        key = environ_key_for_header(name).removeprefix("HTTP_")
        if "_" not in name:
            dashed.add(key)
        elif should_preserve_original_header_name(name):
            found.setdefault(key, (name, []))[1].append(value)
    return {key: (name, ",".join(values)) for key, (name, values) in found.items() if key not in dashed}


class MotoRequestParser(HTTPRequestParser):  # type: ignore[misc]
    """waitress's parser, keeping the underscored S3 metadata headers moto's own server keeps."""

    preserved_names: dict[str, str]

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.body_rcv is None:
            # No body to wait for: waitress would send "100 Continue" and then wait for one forever.
            self.expect_continue = False
        self.preserved_names = {}
        start = header_plus.find(b"\r\n")
        for key, (name, value) in preserved_headers(header_plus[start + 2 :]).items():
            self.headers[key] = value
            self.preserved_names[f"HTTP_{key}"] = name


class MotoTask(WSGITask):  # type: ignore[misc]
    response_headers: list[tuple[str, str]]

    def build_response_header(self) -> bytes:
        """waitress's status line and headers, each header named as the app named it: waitress writes
        `X-Amz-Meta-Original-Name` where moto (and S3) write `x-amz-meta-original-name`, and boto3 reads
        the metadata's names from the headers' names."""
        spelled = {_capitalized(name): name for name, _ in self.response_headers}
        super().build_response_header()
        self.response_headers = [(spelled.get(name, name), value) for name, value in self.response_headers]
        lines = [f"HTTP/{self.version} {self.status}"]
        # Sorted as waitress sorts them; a stable sort keeps same-named headers in their order.
        lines += [f"{name}: {value}" for name, value in sorted(self.response_headers, key=_sort_key)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = getattr(self.request, "preserved_names", {})
        return environ


def _capitalized(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _sort_key(header: tuple[str, str]) -> str:
    return _capitalized(header[0])


class MotoChannel(HTTPChannel):  # type: ignore[misc]
    parser_class = MotoRequestParser
    task_class = MotoTask


def moto_app() -> DomainDispatcherApplication:
    """moto's app as `moto.server.main` builds it."""
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]
    return app


def create_moto_server(host: str, port: int, *, threads: int = THREADS) -> Any:
    """A waitress server for moto's app, listening on (host, port); `.run()` serves until SIGTERM."""
    server = create_server(
        moto_app(),
        host=host,
        port=port,
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT_S,
        asyncore_use_poll=True,  # select() cannot watch file descriptors past 1024
        ident="moto",
    )
    # One listener per address the host names (a MultiSocketServer holds several).
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = MotoChannel
    return server
