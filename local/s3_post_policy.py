"""S3's POST policy check, which moto skips: a browser-form upload is stored only if S3 would store it.

moto stores whatever a multipart POST to a bucket carries: it checks neither the signature nor the policy.
This follows S3's documented evaluation (Amazon S3 API Reference, "Authenticating Requests in Browser-Based
Uploads Using POST" and "Creating a POST Policy"):

- the signature: SigV4, the hex HMAC-SHA256 of the base64 `policy` field under the key derived from the
  secret, the credential's date, region and service (`x-amz-credential`); SigV2 (`AWSAccessKeyId`,
  `signature`: base64 HMAC-SHA1 of the policy) is checked too;
- the policy's `expiration`: a form posted after it is refused;
- every condition: `{"field": value}` and `["eq", "$field", value]` (exact), `["starts-with", "$field",
  prefix]` (an empty prefix allows anything), `["content-length-range", min, max]` on the file's size,
  `bucket` against the bucket posted to; field names match case-insensitively, values exactly;
- every form field but `policy`, `x-amz-signature`, `signature`, `AWSAccessKeyId`, `file` and `x-ignore-*`
  must be named by a condition.

Refusals are S3's: 403 `AccessDenied` ("Invalid according to Policy: ..."), 403 `SignatureDoesNotMatch`,
403 `InvalidAccessKeyId`, 400 `EntityTooLarge` / `EntityTooSmall`, 400 `InvalidPolicyDocument`, each with
S3's XML error body. `enforce_post_policies` puts the check in front of moto's server; anything that is
not a form POST passes untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

V4_ALGORITHM = "AWS4-HMAC-SHA256"
# Fields S3 does not require a condition for.
UNCONDITIONED = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"})
FILENAME = "${filename}"


class PostRefused(Exception):
    """S3 would refuse this POST: its HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def xml(self) -> bytes:
        request_id = uuid.uuid4().hex[:16].upper()
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()


def _denied(message: str) -> PostRefused:
    return PostRefused(403, "AccessDenied", message)


@dataclass(frozen=True)
class PostForm:
    """A browser-form upload as S3 sees it: the form fields (names lower-cased) and the file's size."""

    bucket: str
    fields: Mapping[str, str]
    file_size: int
    filename: str = ""

    def field(self, name: str) -> str | None:
        value = self.fields.get(name.lower())
        if value is not None and name.lower() == "key" and FILENAME in value:
            return value.replace(FILENAME, self.filename)
        return value


def check_post(form: PostForm, secrets: Mapping[str, str], now: datetime | None = None) -> None:
    """Raise `PostRefused` where S3 would refuse the form; return when S3 would store the file."""
    encoded = form.field("policy")
    if not encoded:
        raise _denied("Bucket POST must contain a field named 'policy' signed by the bucket's writer.")
    _check_signature(form, encoded, secrets)
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError) as error:
        raise PostRefused(400, "InvalidPolicyDocument", f"Invalid Policy: {error}") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: no conditions.")
    _check_expiration(policy.get("expiration"), now or datetime.now(UTC))
    named = _check_conditions(form, policy["conditions"])
    extra = sorted(
        name
        for name in form.fields
        if name not in UNCONDITIONED and not name.startswith("x-ignore-") and name not in named
    )
    if extra:
        raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")


def _check_signature(form: PostForm, encoded: str, secrets: Mapping[str, str]) -> None:
    if form.field("x-amz-signature") is not None:
        algorithm = form.field("x-amz-algorithm")
        if algorithm != V4_ALGORITHM:
            raise PostRefused(400, "InvalidRequest", f"Unsupported x-amz-algorithm: {algorithm}")
        parts = (form.field("x-amz-credential") or "").split("/")
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
            raise PostRefused(400, "InvalidArgument", "Malformed x-amz-credential.")
        access_key, day, region, service, terminator = parts
        if not (form.field("x-amz-date") or "").startswith(day):
            raise PostRefused(400, "InvalidArgument", "x-amz-date is not the credential's date.")
        secret = _secret(secrets, access_key)
        key = f"AWS4{secret}".encode()
        for part in (day, region, service, terminator):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()
        given = form.field("x-amz-signature") or ""
    elif form.field("signature") is not None:
        secret = _secret(secrets, form.field("awsaccesskeyid") or "")
        digest = hmac.new(secret.encode(), encoded.encode(), hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode()
        given = form.field("signature") or ""
    else:
        raise _denied("Bucket POST must contain a signature of its policy.")
    if not hmac.compare_digest(expected, given):
        raise PostRefused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )


def _secret(secrets: Mapping[str, str], access_key: str) -> str:
    secret = secrets.get(access_key)
    if secret is None:
        raise PostRefused(
            403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        )
    return secret


def _check_expiration(expiration: Any, now: datetime) -> None:
    if not isinstance(expiration, str):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")
    try:
        expires = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: bad 'expiration'.") from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if now >= expires:
        raise _denied("Invalid according to Policy: Policy expired.")


def _check_conditions(form: PostForm, conditions: list[Any]) -> set[str]:
    """Check each condition; return the (lower-cased) field names they name."""
    named: set[str] = set()
    for condition in conditions:
        if isinstance(condition, dict):
            for name, value in condition.items():
                named.add(str(name).lower())
                _match(form, "eq", str(name), value, condition)
        elif isinstance(condition, list) and len(condition) == 3:
            operator = str(condition[0]).lower()
            if operator == "content-length-range":
                _check_length(form.file_size, condition[1], condition[2])
                continue
            name = str(condition[1])
            if operator not in ("eq", "starts-with") or not name.startswith("$"):
                raise PostRefused(400, "InvalidPolicyDocument", f"Invalid Policy: {json.dumps(condition)}")
            named.add(name[1:].lower())
            _match(form, operator, name[1:], condition[2], condition)
        else:
            raise PostRefused(400, "InvalidPolicyDocument", f"Invalid Policy: {json.dumps(condition)}")
    return named


def _match(form: PostForm, operator: str, name: str, wanted: Any, condition: Any) -> None:
    actual = form.bucket if name.lower() == "bucket" else (form.field(name) or "")
    ok = actual.startswith(str(wanted)) if operator == "starts-with" else actual == str(wanted)
    if not ok:
        shown = condition if isinstance(condition, list) else ["eq", f"${name}", wanted]
        raise _denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(shown)}")


def _check_length(size: int, low: Any, high: Any) -> None:
    try:
        least, most = int(low), int(high)
    except (TypeError, ValueError):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: content-length-range.") from None
    if size > most:
        raise PostRefused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    if size < least:
        raise PostRefused(
            400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
        )


# ---------------------------------------------------------------- in front of moto's server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def is_form_post(environ: Mapping[str, Any]) -> bool:
    """A browser-form upload: no other AWS protocol moto serves posts multipart/form-data."""
    return environ.get("REQUEST_METHOD") == "POST" and str(environ.get("CONTENT_TYPE", "")).startswith(
        "multipart/form-data"
    )


def form_of(environ: dict[str, Any]) -> PostForm:
    """The form, read from the request; the body is put back for moto to read again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    copy = {**environ, "wsgi.input": io.BytesIO(body)}
    _, fields, files = parse_form_data(copy, max_form_memory_size=len(body) + 1)
    upload = files.get("file")
    size = len(upload.read()) if upload is not None else 0
    path = str(environ.get("PATH_INFO", "/")).strip("/")
    host = str(environ.get("HTTP_HOST", "")).split(":")[0]
    bucket = path.split("/", 1)[0] if path else host.split(".", 1)[0]
    return PostForm(
        bucket=bucket,
        fields={name.lower(): value for name, value in fields.items()},
        file_size=size,
        filename=(upload.filename or "") if upload is not None else "",
    )


def guarded(app: WsgiApp, secrets: Mapping[str, str]) -> WsgiApp:
    """`app` with S3's POST policy check in front of it."""

    def guard(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if is_form_post(environ):
            try:
                check_post(form_of(environ), secrets)
            except PostRefused as refused:
                body = refused.xml()
                start_response(
                    f"{refused.status} {HTTPStatus(refused.status).phrase}",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        return app(environ, start_response)

    return guard


def server_credentials() -> dict[str, str]:
    """The secrets S3 would know: the local stack's credentials (its processes share the server's)."""
    known = {"testing": "testing"}
    access_key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret:
        known[access_key] = secret
    return known


def enforce_post_policies(secrets: Mapping[str, str] | None = None) -> None:
    """Check every form POST moto's server receives, as S3 would, before moto sees it."""
    known = server_credentials() if secrets is None else dict(secrets)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def checked(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return guarded(lambda e, s: dispatch(self, e, s), known)(environ, start_response)

    DomainDispatcherApplication.__call__ = checked  # type: ignore[method-assign]
