"""The demo's driver: one photo through the API as a phone sends it, on a running local stack."""

from __future__ import annotations

import uuid
from pathlib import Path

from driver_routing.driver_app import describe_status, sign_in, upload, wait_for_status
from driver_routing.people import create_user, new_password
from local.stack import LocalStack
from shared.aws.clients import client


def drive_one_photo(stack: LocalStack, photo: Path) -> str:
    """Create a driver, sign in, upload through the API, poll until final; the answer as one line."""
    assert stack.identity is not None
    idp = client("cognito-idp", stack.config.region)
    username, password = f"demo-driver-{uuid.uuid4().hex[:6]}", new_password()
    create_user(idp, stack.identity.user_pool_id, username, password, "demo-phone")
    token = sign_in(idp, stack.identity.client_id, username, password)
    ticket = upload(stack.api_url, token, photo)
    status = wait_for_status(stack.api_url, token, ticket["upload_id"], timeout_s=60, wait_for_review=False)
    return f"{photo.name} from {username}'s phone via {stack.api_url}: {describe_status(status)}"


def phone_photo(paths: list[Path]) -> Path | None:
    """A phone-sized photo from the samples (not a CIFAR thumbnail), else the first one."""
    return next((p for p in paths if "photos" in p.parts), paths[0] if paths else None)


def phone_lines(api_url: str, aws_url: str, *, exposed: bool = False) -> list[str]:
    """Where a driver's phone opens the page, and how a real phone reaches the stack: on the same
    network when it listens there (`up --listen`), else through USB."""
    page = f"driver's page:      {api_url}/driver   (sign in as a driver: add-user NAME --driver-id ID)"
    if exposed:
        return [page, "  on a phone on the same network (Wi-Fi): open that address in its browser"]
    api_port, aws_port = api_url.rsplit(":", 1)[-1], aws_url.rsplit(":", 1)[-1]
    return [
        page,
        "  on a phone on the same network: start `driver-routing up --listen 0.0.0.0` (the stack listens"
        " on 127.0.0.1 unless told; it then prints the address to open); an Android phone on USB reaches"
        f" 127.0.0.1 through `adb reverse tcp:{api_port} tcp:{api_port} && adb reverse tcp:{aws_port}"
        f" tcp:{aws_port}`",
    ]
