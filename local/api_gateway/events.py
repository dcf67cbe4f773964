"""HTTP request ⇄ API Gateway HTTP API Lambda event (payload format 2.0), and nothing else.

What API Gateway does and this copies: header names lowercased, repeated headers and query
parameters joined with commas, cookies split out, a body that is not text base64-encoded, the
authorizer's claims at `requestContext.authorizer.jwt.claims` as strings (an array claim as
`"[a b]"`), and the function's answer turned back into status, headers, cookies and body.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def claim_strings(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the JWT authorizer hands them over: every value a string."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + " ".join(text(v) for v in value) + "]"
        return str(value)

    return {name: text(value) for name, value in claims.items()}


def http_api_event(
    *,
    method: str,
    path: str,
    query_string: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    route_key: str = "$default",
    claims: Mapping[str, Any] | None = None,
    scopes: list[str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "$default",
    api_id: str = "local",
) -> dict[str, Any]:
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = joined.get("content-type", "")
    is_text = not body or (content_type.startswith(TEXT_TYPES) and _is_utf8(body))
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": joined.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode()
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claim_strings(claims), "scopes": scopes}}
    return event


def _is_utf8(body: bytes) -> bool:
    """A text type's body that is not UTF-8 travels base64-encoded, as any other bytes do."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """The function's answer as API Gateway sends it: a dict with statusCode, or any JSON value
    (then 200 with that value as the JSON body)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, [("content-type", "application/json")], json.dumps(result).encode()
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values]
    headers += [("set-cookie", c) for c in result.get("cookies") or []]
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return int(result["statusCode"]), headers, body
