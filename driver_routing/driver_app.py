"""The driver's path, as a phone takes it: sign in, ask the API for an upload, POST the photo straight
to S3 with the presigned form, poll the upload's status until it is final.

HTTP with `requests` (multipart form encoding included); Cognito's InitiateAuth with boto3, which sends
it unsigned: a phone has a user name and a password, no AWS credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from shared.driver_messages import SENT_AS
from shared.formats import UPLOAD_CONTENT_TYPES, content_type_for

FINAL = frozenset({"routed", "rejected"})


class DriverAppError(RuntimeError):
    """The API or S3 refused a step; the message says which and why."""


def sign_in(idp: Any, client_id: str, username: str, password: str) -> str:
    """The ID token (it carries the groups and the driver id the API reads)."""
    answer = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    if "AuthenticationResult" not in answer:
        raise DriverAppError(f"sign-in needs a further step: {answer.get('ChallengeName')}")
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token


def _checked(response: requests.Response, step: str) -> Any:
    if response.status_code >= 400:
        raise DriverAppError(f"{step}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json() if response.content else None


def content_type_of(photo: Path) -> str:
    """Every type the API takes for an upload (the chain's own table), by the file's extension."""
    content_type = content_type_for(photo.suffix)
    if content_type is None or content_type not in UPLOAD_CONTENT_TYPES:
        raise DriverAppError(f"{photo.name}: send a photo as {SENT_AS}")
    return content_type


def upload(
    api_url: str, token: str, photo: Path, *, session: requests.Session | None = None
) -> dict[str, Any]:
    """POST /uploads, then the multipart POST to S3; the ticket (upload id, key) back."""
    http = session or requests.Session()
    data = photo.read_bytes()
    content_type = content_type_of(photo)
    ticket: dict[str, Any] = _checked(
        http.post(
            f"{api_url}/uploads",
            json={"content_type": content_type, "size": len(data)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ),
        "POST /uploads",
    )
    # The policy's fields first, the file last: S3 ignores form fields after the file.
    posted = http.post(
        ticket["url"], data=ticket["fields"], files={"file": (photo.name, data, content_type)}, timeout=60
    )
    if posted.status_code >= 300:
        raise DriverAppError(f"upload to S3: HTTP {posted.status_code}: {posted.text[:300]}")
    return ticket


def wait_for_status(
    api_url: str,
    token: str,
    upload_id: str,
    *,
    timeout_s: float,
    wait_for_review: bool = True,
    poll_s: float = 0.5,
    on_change: Callable[[dict[str, Any]], None] = lambda status: None,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Poll GET /uploads/{id} until routed or rejected (or manual-review, unless waiting for it)."""
    http = session or requests.Session()
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while True:
        status: dict[str, Any] = _checked(
            http.get(
                f"{api_url}/uploads/{upload_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ),
            "GET /uploads",
        )
        if status.get("status") != last.get("status"):
            on_change(status)
        last = status
        if status["status"] in FINAL or (status["status"] == "manual-review" and not wait_for_review):
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(poll_s)


def describe_status(status: dict[str, Any]) -> str:
    """The upload's answer line (shared.answers, as every surface says it), then the driver's sentence."""
    if status.get("status") == "pending":
        return "pending: the photo is on its way through the chain"
    message = f" — {status['message']}" if status.get("message") else ""
    return f"{status.get('status')}: {status.get('answer')}{message}"
