"""`up --listen`: a phone on the network is handed URLs it can reach, on the stack's own code path.

This machine has loopback only, so 127.0.0.1 stands in for the LAN address the stack listens on, and
`localhost` is the public host the phone is told: every URL the phone is given must name `localhost`,
never the address the servers were bound to, and the photo must go through and be decided.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from driver_routing.driver_app import sign_in, upload, wait_for_status
from driver_routing.people import create_user, new_password
from local.listening import Listening
from local.stack import LocalStack
from shared.aws.clients import client
from tests.conftest import DATA
from tests.stacks import running_stack

BICYCLE = DATA / "photos" / "bicycle" / "aicaphw1_bicycle_14.jpg"


@pytest.fixture(scope="module")
def lan_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(
        "driver-routing-lan", Path(tmp_path_factory.mktemp("lan")), listen=Listening("127.0.0.1", "localhost")
    ) as running:
        yield running


def test_a_phone_is_given_urls_on_the_public_host_and_its_photo_is_decided(lan_stack: LocalStack) -> None:
    assert lan_stack.identity is not None
    aws_port, api_port = lan_stack.config.aws_port, lan_stack.config.api_port
    # GIVEN the stack listening on the "LAN" address, telling phones to use `localhost`
    assert lan_stack.public_api_url == f"http://localhost:{api_port}"
    # WHEN the phone opens the page's settings there
    config = requests.get(f"{lan_stack.public_api_url}/config.json", timeout=10).json()
    page = requests.get(f"{lan_stack.public_api_url}/driver", timeout=10)
    # THEN it signs in at Cognito on the public host, and the page may connect there
    assert config["cognito_endpoint"] == f"http://localhost:{aws_port}/"
    assert f"http://localhost:{aws_port}" in page.headers["Content-Security-Policy"]
    # WHEN a driver signs in there and sends a photo
    user, password = "lan-driver", new_password()
    create_user(client("cognito-idp", "us-east-1"), lan_stack.identity.user_pool_id, user, password, "d-lan")
    idp = client("cognito-idp", "us-east-1", config["cognito_endpoint"])
    token = sign_in(idp, config["client_id"], user, password)
    ticket = upload(lan_stack.public_api_url, token, BICYCLE)
    # THEN the presigned form posted to S3 on the public host, and the photo was decided
    assert urlsplit(ticket["url"]).netloc == f"localhost:{aws_port}"
    status = wait_for_status(lan_stack.public_api_url, token, ticket["upload_id"], timeout_s=60)
    assert status["status"] == "routed"
