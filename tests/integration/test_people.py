"""Drivers and dispatchers on the local stack: moto's Cognito tokens, the local API gateway, S3.

GIVEN the local stack (moto server, endpoint, pollers, the local HTTP API with its JWT authorizer)
WHEN a driver signs in, asks for an upload, POSTs a real photo to the presigned form and polls
THEN the upload ends routed to the bay of its vehicle; and tokens that are missing, tampered with
or expired are refused before the function runs.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from click.testing import CliRunner
from moto.utilities.utils import load_resource

from driver_routing.cli import main
from driver_routing.driver_app import sign_in, upload, wait_for_status
from driver_routing.people import create_user
from local.stack import LocalStack
from shared.aws.clients import client
from tests.conftest import DATA

REGION = "us-east-1"
PASSWORD = "Integration-Test-1"
BICYCLE = DATA / "photos" / "bicycle" / "aicaphw1_bicycle_1.jpg"


@pytest.fixture(scope="module")
def people(stack: LocalStack) -> dict[str, str]:
    """A driver and a dispatcher with tokens from moto's Cognito, through the app client."""
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    suffix = uuid.uuid4().hex[:6]
    names = {"driver": f"dana-{suffix}", "other": f"omar-{suffix}", "dispatcher": f"pat-{suffix}"}
    create_user(idp, stack.identity.user_pool_id, names["driver"], PASSWORD, f"it-{suffix}")
    create_user(idp, stack.identity.user_pool_id, names["other"], PASSWORD, f"it-other-{suffix}")
    create_user(idp, stack.identity.user_pool_id, names["dispatcher"], PASSWORD, None)
    tokens = {role: sign_in(idp, stack.identity.client_id, name, PASSWORD) for role, name in names.items()}
    return {**tokens, "driver_id": f"it-{suffix}", "driver_name": names["driver"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_upload(stack: LocalStack, token: str) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/uploads",
        json={"content_type": "image/jpeg", "size": 1000},
        headers=bearer(token),
        timeout=10,
    )


@pytest.mark.skipif(not BICYCLE.exists(), reason=f"needs the sample photos under {DATA}")
def test_a_driver_uploads_a_real_photo_through_the_api_and_learns_the_bay(
    stack: LocalStack, people: dict[str, str]
) -> None:
    # GIVEN a signed-in driver and a photo of a bicycle
    # WHEN the phone asks for an upload, POSTs the photo to S3 and polls its status
    started = time.monotonic()
    ticket = upload(stack.api_url, people["driver"], BICYCLE)
    status = wait_for_status(stack.api_url, people["driver"], ticket["upload_id"], timeout_s=60)
    # THEN the photo went under the driver's own prefix and the answer is the bicycle bay
    assert ticket["key"].startswith(f"photos/{people['driver_id']}/")
    assert (status["status"], status["bay"], status["radius_km"]) == ("routed", "B-NEAR-01", 3.0)
    assert (status["outcome"], status["vehicle_class"]) == ("routed", "bicycle")
    assert status["answer"].endswith("→ bay B-NEAR-01, 3 km")
    assert time.monotonic() - started < 30


def test_the_authorizer_refuses_missing_tampered_and_expired_tokens(
    stack: LocalStack, people: dict[str, str]
) -> None:
    # GIVEN the driver's real token, the same token with its driver id changed, and one expired
    header, payload, signature = people["driver"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = {**claims, "custom:driver_id": "someone-else"}
    tampered = ".".join(
        [header, base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode(), signature]
    )
    # moto's shipped signing key (the local pool signs with a key of its own: local.pool_key)
    private_key = jwt.algorithms.RSAAlgorithm.from_jwk(
        load_resource("cognitoidp/resources/jwks-private.json")
    )
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        private_key,  # type: ignore[arg-type]
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    # AND a token for a made-up dispatcher, valid in every way on a moto that signs with its shipped key
    made_up = jwt.encode(
        {
            **claims,
            "cognito:username": "mallory",
            "cognito:groups": ["dispatchers"],
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        },
        private_key,  # type: ignore[arg-type]
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    # WHEN each calls the API THEN only the real token gets through
    assert start_upload(stack, people["driver"]).status_code == 201
    board = requests.get(f"{stack.api_url}/board", headers=bearer(made_up), timeout=10)
    assert board.status_code == 401
    for token in ("", "not-a-jwt", tampered, expired, made_up):
        answer = start_upload(stack, token)
        assert answer.status_code == 401, token[:20]
        assert answer.json() == {"message": "Unauthorized"}
    assert requests.post(f"{stack.api_url}/uploads", json={}, timeout=10).status_code == 401


def test_a_body_over_api_gateways_ten_megabytes_is_413(stack: LocalStack, people: dict[str, str]) -> None:
    # GIVEN a driver's token WHEN 20 MB of JSON is posted to POST /uploads
    body = b'{"content_type": "image/jpeg", "size": 1000, "pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    answer = requests.post(
        f"{stack.api_url}/uploads",
        data=body,
        headers={**bearer(people["driver"]), "Content-Type": "application/json"},
        timeout=30,
    )
    # THEN the gateway answers 413 as API Gateway does
    assert answer.status_code == 413


def test_groups_and_ownership_hold_through_the_gateway(stack: LocalStack, people: dict[str, str]) -> None:
    # GIVEN a driver's upload
    ticket = start_upload(stack, people["driver"]).json()
    upload_url = f"{stack.api_url}/uploads/{ticket['upload_id']}"
    # WHEN a dispatcher tries to upload, or another driver reads it THEN both are forbidden
    assert start_upload(stack, people["dispatcher"]).status_code == 403
    assert requests.get(upload_url, headers=bearer(people["other"]), timeout=10).status_code == 403
    assert (
        requests.get(f"{stack.api_url}/board", headers=bearer(people["driver"]), timeout=10).status_code
        == 403
    )
    # AND the dispatcher reads the board; unknown routes are API Gateway's 404
    assert requests.get(f"{stack.api_url}/board", headers=bearer(people["dispatcher"]), timeout=10).ok
    assert requests.get(f"{stack.api_url}/nowhere", timeout=10).status_code == 404


def test_the_board_page_is_served_with_its_sign_in_config(stack: LocalStack) -> None:
    assert stack.identity is not None
    page = requests.get(f"{stack.api_url}/", timeout=10)
    assert page.ok and "text/html" in page.headers["content-type"]
    config: dict[str, Any] = requests.get(f"{stack.api_url}/config.json", timeout=10).json()
    assert config["client_id"] == stack.identity.client_id
    assert config["cognito_endpoint"].startswith(stack.aws_url)


@pytest.mark.skipif(not BICYCLE.exists(), reason=f"needs the sample photos under {DATA}")
def test_the_cli_drives_a_photo_to_its_bay(stack: LocalStack, people: dict[str, str]) -> None:
    # GIVEN the driver's user name and password WHEN `driver-routing drive` uploads as the phone does
    result = CliRunner().invoke(
        main, ["drive", str(BICYCLE), "--user", people["driver_name"], "--password", PASSWORD, "--json"]
    )
    # THEN it ends with the answer line: the class, how sure, and the bay
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("routed: ")]
    assert line.startswith("routed: bicycle, ") and line.endswith("→ bay B-NEAR-01, 3 km")
    assert json.loads(result.output.strip().splitlines()[-1])["bay"] == "B-NEAR-01"


def test_evaluate_reviews_reads_the_stacks_capture_table(stack: LocalStack, people: dict[str, str]) -> None:
    # GIVEN a reviewed photo on the stack
    assert stack.resources is not None
    ticket = start_upload(stack, people["driver"]).json()
    assert ticket["key"]
    # WHEN `driver-routing evaluate --reviews --since 1h --json` runs
    result = CliRunner().invoke(
        main, ["evaluate", "--reviews", "--since", "1h", "--stack-name", stack.config.stack_name, "--json"]
    )
    # THEN it reports the shares of routed drivers, which add up
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["routed"] == summary["routed_by_model"] + summary["routed_by_dispatcher"]
    assert summary["routed"] >= 1
    assert "reviewed photos:" in result.output


@pytest.mark.skipif(not BICYCLE.exists(), reason=f"needs the sample photos under {DATA}")
def test_an_upload_is_exact_and_single_use_on_the_local_stack(
    stack: LocalStack, people: dict[str, str]
) -> None:
    # GIVEN a driver's routed upload
    assert stack.resources is not None
    ticket = upload(stack.api_url, people["other"], BICYCLE)
    status = wait_for_status(stack.api_url, people["other"], ticket["upload_id"], timeout_s=60)
    assert status["status"] == "routed"
    photo = BICYCLE.read_bytes()
    # WHEN the same form is posted with a file larger than declared THEN S3 (the local one) refuses it
    too_large = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("b.jpg", photo + b"\0" * 3_000_000)}, timeout=30
    )
    assert too_large.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_large.text
    # WHEN it is posted again with another photo of the declared size (S3 allows a form until it expires)
    again = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("b.jpg", photo[:-2] + b"\0\0")}, timeout=30
    )
    assert again.status_code == 204
    # THEN ingest drops the second object as upload-reused (its log says so) and the ticket keeps one record
    log = stack.log_dir / "functions.log"
    deadline = time.monotonic() + 30
    while '"reason":"upload-reused"' not in log.read_text(errors="replace").replace(" ", ""):
        assert time.monotonic() < deadline, "ingest never saw the second object"
        time.sleep(0.2)
    records = client("dynamodb", REGION).scan(
        TableName=stack.resources.capture_table,
        FilterExpression="begins_with(photo_key, :k)",
        ExpressionAttributeValues={":k": {"S": ticket["key"]}},
    )["Items"]
    assert len(records) == 1
    final = wait_for_status(stack.api_url, people["other"], ticket["upload_id"], timeout_s=5)
    assert (final["status"], final["bay"]) == ("routed", "B-NEAR-01")


def test_the_depot_runs_its_users_from_the_cli(stack: LocalStack) -> None:
    runner = CliRunner()
    name, twin, driver_id = (
        f"ula-{uuid.uuid4().hex[:6]}",
        f"twin-{uuid.uuid4().hex[:6]}",
        f"u-{uuid.uuid4().hex[:6]}",
    )
    # GIVEN a driver added with the password on standard input, never on the command line
    added = runner.invoke(
        main, ["add-user", name, "--driver-id", driver_id, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    assert client("cognito-idp", REGION)  # the stack's pool, through the CLI's own client
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    token = sign_in(idp, stack.identity.client_id, name, PASSWORD)
    assert token
    # WHEN a second user asks for the same driver id THEN it is refused in one line
    second = runner.invoke(
        main, ["add-user", twin, "--driver-id", driver_id, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert second.exit_code == 1 and f"already belongs to {name}" in second.output
    assert "Traceback" not in second.output
    # WHEN the depot lists, disables, enables, resets and signs out THEN each does what it says
    listed = runner.invoke(main, ["users", "list", "--json"])
    mine = [u for u in json.loads(listed.output.strip().splitlines()[-1])["users"] if u["username"] == name]
    assert mine == [{"username": name, "driver_id": driver_id, "enabled": True, "status": "CONFIRMED"}]
    assert runner.invoke(main, ["users", "disable", name]).exit_code == 0
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        sign_in(idp, stack.identity.client_id, name, PASSWORD)
    assert runner.invoke(main, ["users", "enable", name]).exit_code == 0
    new_password = PASSWORD + "x"
    reset = runner.invoke(
        main, ["users", "reset-password", name, "--password-stdin"], input=new_password + "\n"
    )
    assert reset.exit_code == 0, reset.output
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        sign_in(idp, stack.identity.client_id, name, PASSWORD)
    assert sign_in(idp, stack.identity.client_id, name, new_password)
    assert runner.invoke(main, ["users", "sign-out", name]).exit_code == 0
    # AND once deleted, the driver id is free again
    assert runner.invoke(main, ["users", "delete", name]).exit_code == 0
    again = runner.invoke(
        main, ["add-user", twin, "--driver-id", driver_id, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 0, again.output
    missing = runner.invoke(main, ["users", "disable", name])
    assert missing.exit_code == 1 and "UserNotFoundException" in missing.output
