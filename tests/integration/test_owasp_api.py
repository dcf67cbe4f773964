"""The API attacked along the OWASP API Security Top 10 (2023), on the local stack, route by route.

API1 broken object-level authorization: another driver's upload, another depot's photo.
API2 broken authentication: no token, `alg=none`, HS256 signed with the pool's public key, tampered
claims, moto's shipped key, the ID token of another pool or another client, expired and not-yet-valid
tokens, a signed-out user.
API4 unrestricted resource consumption: bodies over 10 MB, fields over their bounds, a driver's
uploads a minute, a burst over a route's throttle.
API5 broken function-level authorization: a driver on the dispatchers' routes and back, a user in no group.

GIVEN the package's local stack (moto, the model endpoint, the pollers, the local HTTP API)
WHEN each attack is sent to every route it applies to
THEN the API refuses it with the status API Gateway or the function gives, and the real caller still passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from driver_routing.driver_app import sign_in, upload, wait_for_status
from driver_routing.people import create_user
from local.api_gateway.authorizer import JwtAuthorizer, Unauthorized
from local.api_gateway.routes import routes_from_template
from local.processes import HOST
from local.stack import LocalStack
from shared.aws.clients import client
from tests.format_samples import jpeg, scene

REGION = "us-east-1"
PASSWORD = "Owasp-Test-Pass-1"
PHOTO_ID = "0" * 64


@dataclass(frozen=True)
class Crew:
    """Two drivers and a dispatcher at depot-1, a dispatcher at depot-2, and driver A's decided photo."""

    api: str
    driver_a: str
    driver_b: str
    dispatcher: str
    far_dispatcher: str
    driver_a_name: str
    upload_id: str
    photo_id: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def call(api: str, method: str, path: str, token: str | None, body: Any = None) -> requests.Response:
    headers = bearer(token) if token is not None else {}
    return requests.request(method, f"{api}{path}", json=body, headers=headers, timeout=15)


@pytest.fixture(scope="module")
def crew(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Crew:
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    pool, app_client = stack.identity.user_pool_id, stack.identity.client_id
    tag = uuid.uuid4().hex[:6]
    users = {
        "driver_a": (f"owa-{tag}", f"owasp-a-{tag}", None),
        "driver_b": (f"owb-{tag}", f"owasp-b-{tag}", None),
        "dispatcher": (f"owd-{tag}", None, "depot-1"),
        "far_dispatcher": (f"owf-{tag}", None, "depot-2"),
    }
    tokens = {}
    for role, (name, driver_id, depot) in users.items():
        create_user(idp, pool, name, PASSWORD, driver_id, depot)
        tokens[role] = sign_in(idp, app_client, name, PASSWORD)
    photo = Path(tmp_path_factory.mktemp("owasp")) / "scene.jpg"
    photo.write_bytes(jpeg(scene(seed=23)))
    ticket = upload(stack.api_url, tokens["driver_a"], photo)
    status = wait_for_status(
        stack.api_url, tokens["driver_a"], ticket["upload_id"], timeout_s=60, wait_for_review=False
    )
    assert status["status"] != "pending", "the chain never decided the photo"
    board = call(stack.api_url, "GET", "/board", tokens["dispatcher"]).json()
    items = [*board["manual_review"], *board["rejected"], *(i for bay in board["bays"].values() for i in bay)]
    [photo_id] = {i["photo_id"] for i in items if i["driver_id"] == users["driver_a"][1]}
    return Crew(
        api=stack.api_url,
        driver_a=tokens["driver_a"],
        driver_b=tokens["driver_b"],
        dispatcher=tokens["dispatcher"],
        far_dispatcher=tokens["far_dispatcher"],
        driver_a_name=users["driver_a"][0],
        upload_id=ticket["upload_id"],
        photo_id=photo_id,
    )


def every_authorized_route(crew: Crew) -> list[tuple[str, str, Any]]:
    """Each authorized route of the template with its parameters filled in, and a valid body."""
    filled = {"{upload_id}": crew.upload_id, "{photo_id}": crew.photo_id}
    bodies = {
        "POST /uploads": {"content_type": "image/jpeg", "size": 1000},
        "POST /reviews/{photo_id}": {"label": "bicycle"},
        "POST /reviews/{photo_id}/corrections": {"label": "bicycle", "replaces": 1},
    }
    found = []
    for route in routes_from_template():
        if route.authorized:
            path = route.path
            for name, value in filled.items():
                path = path.replace(name, value)
            found.append((route.method, path, bodies.get(route.key)))
    # with the driver's day (GET /uploads) and the review desk (history, corrections, claims)
    assert {m for m, _, _ in found} == {"GET", "POST", "DELETE"} and len(found) == 10
    return found


# --- API1: broken object-level authorization --------------------------------------------------------


def test_api1_a_driver_cannot_read_another_drivers_upload(crew: Crew) -> None:
    # GIVEN driver A's upload, and an id that names A's driver id but was never issued
    made_up = f"{crew.upload_id.split('.')[0]}.{uuid.uuid4().hex}"
    # WHEN driver B asks for either THEN both are 403, before any lookup; A still reads its own
    assert call(crew.api, "GET", f"/uploads/{crew.upload_id}", crew.driver_b).status_code == 403
    assert call(crew.api, "GET", f"/uploads/{made_up}", crew.driver_b).status_code == 403
    assert call(crew.api, "GET", f"/uploads/{crew.upload_id}", crew.driver_a).status_code == 200
    # AND a driver id in a body is not a way to be someone else: unknown fields are 422
    spoof = {"content_type": "image/jpeg", "size": 1000, "driver_id": "owasp-a"}
    assert call(crew.api, "POST", "/uploads", crew.driver_b, spoof).status_code == 422


def test_api1_a_dispatcher_cannot_see_or_review_another_depots_photo(crew: Crew) -> None:
    # GIVEN a photo of depot-1 WHEN depot-2's dispatcher asks for its link or reviews it THEN 403
    link = call(crew.api, "GET", f"/photos/{crew.photo_id}", crew.far_dispatcher)
    review = call(crew.api, "POST", f"/reviews/{crew.photo_id}", crew.far_dispatcher, {"label": "bicycle"})
    assert (link.status_code, review.status_code) == (403, 403)
    # AND depot-2's board does not show it, while depot-1's dispatcher gets the link
    board = call(crew.api, "GET", "/board", crew.far_dispatcher).json()
    assert board["depot_id"] == "depot-2" and crew.photo_id not in json.dumps(board)
    assert call(crew.api, "GET", f"/photos/{crew.photo_id}", crew.dispatcher).status_code == 200


# --- API2: broken authentication ----------------------------------------------------------------------


def forged_tokens(stack: LocalStack, real: str) -> dict[str, str]:
    """Tokens an attacker can make without the pool's private key."""
    assert stack.identity is not None
    header, _, signature = real.split(".")
    claims = claims_of(real)
    dispatcher_claims = {**claims, "cognito:groups": ["dispatchers"]}
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "dummy"}).encode())
    # HS256 with the pool's public key (PEM) as the HMAC secret: the classic key-confusion attack.
    jwks = requests.get(stack.identity.jwks_url, timeout=10).json()
    public = jwt.algorithms.RSAAlgorithm.from_jwk(jwks["keys"][0])
    pem = public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64(json.dumps({"alg": "HS256", "kid": "dummy"}).encode())
    hs_signing_input = f"{hs_header}.{b64(json.dumps(dispatcher_claims).encode())}"
    hs_signature = b64(hmac.new(pem, hs_signing_input.encode(), hashlib.sha256).digest())
    shipped = jwt.algorithms.RSAAlgorithm.from_jwk(load_resource("cognitoidp/resources/jwks-private.json"))
    return {
        "empty": "",
        "not a JWT": "not-a-jwt",
        "alg=none": f"{none_header}.{b64(json.dumps(dispatcher_claims).encode())}.",
        "HS256 with the public key": f"{hs_signing_input}.{hs_signature}",
        "claims changed": f"{header}.{b64(json.dumps(dispatcher_claims).encode())}.{signature}",
        "moto's shipped key": jwt.encode(
            dispatcher_claims,
            shipped,  # type: ignore[arg-type]
            algorithm="RS256",
            headers={"kid": "dummy"},
        ),
    }


def other_pool_and_client_tokens(stack: LocalStack) -> dict[str, str]:
    """Genuine ID tokens, signed by the same key, for another pool and for another client of this pool."""
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    other_pool = idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    idp.create_group(UserPoolId=other_pool, GroupName="dispatchers")
    other_pool_client = idp.create_user_pool_client(
        UserPoolId=other_pool, ClientName="other", ExplicitAuthFlows=flows
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=other_pool, Username="mallory", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=other_pool, Username="mallory", Password=PASSWORD, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=other_pool, Username="mallory", GroupName="dispatchers")
    other_client = idp.create_user_pool_client(
        UserPoolId=stack.identity.user_pool_id,
        ClientName=f"other-{uuid.uuid4().hex[:6]}",
        ExplicitAuthFlows=flows,
    )["UserPoolClient"]["ClientId"]
    dispatcher = f"owc-{uuid.uuid4().hex[:6]}"
    create_user(idp, stack.identity.user_pool_id, dispatcher, PASSWORD, None)
    return {
        "another pool": sign_in(idp, other_pool_client, "mallory", PASSWORD),
        "another client": sign_in(idp, other_client, dispatcher, PASSWORD),
    }


def test_api2_forged_and_foreign_tokens_are_401_on_every_route(stack: LocalStack, crew: Crew) -> None:
    # GIVEN tokens forged without the pool's key, and genuine tokens of another pool and another client
    attacks = {**forged_tokens(stack, crew.driver_a), **other_pool_and_client_tokens(stack)}
    for name, token in attacks.items():
        if token.count(".") == 2 and name != "alg=none":
            assert claims_of(token)["exp"] > time.time(), name  # refused for what it is, not for its age
    # WHEN each is sent to every authorized route, and one request carries no header at all
    for method, path, body in every_authorized_route(crew):
        assert call(crew.api, method, path, None, body).status_code == 401, (method, path)
        for name, token in attacks.items():
            answer = call(crew.api, method, path, token, body)
            # THEN the gateway answers 401, as API Gateway's JWT authorizer does, before the function runs
            assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"}), (name, path)
    # AND the real dispatcher's token passes
    assert call(crew.api, "GET", "/board", crew.dispatcher).status_code == 200


class _KeySet(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def own_issuer() -> Iterator[tuple[rsa.RSAPrivateKey, JwtAuthorizer]]:
    """A key pair whose public half is served as a JWKS on 127.0.0.1, and the authorizer that trusts it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    handler = type("KeySet", (_KeySet,), {"body": json.dumps({"keys": [{**public, "kid": "k1"}]}).encode()})
    server = ThreadingHTTPServer((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield (
            key,
            JwtAuthorizer(
                issuer="https://issuer",
                audience="client",
                jwks_url=f"http://{HOST}:{server.server_port}/jwks",
            ),
        )
    finally:
        server.shutdown()
        server.server_close()


def test_api2_expired_and_not_yet_valid_tokens_with_a_good_signature_are_refused(
    own_issuer: tuple[rsa.RSAPrivateKey, JwtAuthorizer],
) -> None:
    # GIVEN tokens properly signed by a key the authorizer trusts (the pool's own key never leaves moto)
    key, authorizer = own_issuer
    now = int(time.time())
    good = {"iss": "https://issuer", "aud": "client", "iat": now, "exp": now + 600}

    def signed(claims: dict[str, Any]) -> str:
        return "Bearer " + jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    # WHEN the authorizer checks them THEN only the valid one passes
    assert authorizer.claims(signed(good))["aud"] == "client"
    for name, claims in {
        "expired": {**good, "iat": now - 7200, "exp": now - 3600},
        "not yet valid (nbf)": {**good, "nbf": now + 3600},
        "issued in the future": {**good, "iat": now + 3600, "exp": now + 7200},
        "no exp": {k: v for k, v in good.items() if k != "exp"},
        "another issuer": {**good, "iss": "https://elsewhere"},
        "another audience": {**good, "aud": "someone-else"},
    }.items():
        with pytest.raises(Unauthorized):
            authorizer.claims(signed(claims))
            pytest.fail(name)


def test_api2_a_signed_out_user_gets_no_new_tokens(stack: LocalStack, crew: Crew) -> None:
    # GIVEN driver A signed in afresh, with a refresh token that works
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    pool, app_client = stack.identity.user_pool_id, stack.identity.client_id
    signed_in = idp.initiate_auth(
        ClientId=app_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": crew.driver_a_name, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    refresh = {"REFRESH_TOKEN": signed_in["RefreshToken"]}
    assert idp.initiate_auth(ClientId=app_client, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh)
    # WHEN the depot signs the user out (`driver-routing users sign-out`)
    idp.admin_user_global_sign_out(UserPoolId=pool, Username=crew.driver_a_name)
    # THEN the refresh token gives no new tokens, and Cognito refuses the access token
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=app_client, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=signed_in["AccessToken"])
    # AND, as on AWS (infra/README.md, "A sign-out on AWS"), the ID token already issued passes the JWT
    # authorizer until it expires: a sign-out bounds a stolen token to IdTokenValidity, it does not end it
    status = call(crew.api, "GET", f"/uploads/{crew.upload_id}", signed_in["IdToken"])
    assert status.status_code == 200


# --- API4: unrestricted resource consumption ----------------------------------------------------------


def test_api4_oversized_bodies_and_fields_are_refused(crew: Crew) -> None:
    # GIVEN 11 MB of JSON, a declared photo over the chain's limit, and fields over their bounds
    padding = b'{"label": "bicycle", "note": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    # WHEN each is sent THEN the gateway answers 413 and the function 422
    for path, token in ((f"/reviews/{crew.photo_id}", crew.dispatcher), ("/uploads", crew.driver_b)):
        answer = requests.post(
            f"{crew.api}{path}",
            data=padding,
            headers={**bearer(token), "Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 413, path
    huge = {"content_type": "image/jpeg", "size": 10**12}
    assert call(crew.api, "POST", "/uploads", crew.driver_b, huge).status_code == 422
    note = {"label": "bicycle", "note": "x" * 501}
    assert call(crew.api, "POST", f"/reviews/{crew.photo_id}", crew.dispatcher, note).status_code == 422
    assert call(crew.api, "GET", "/board?cursor=" + "x" * 81, crew.dispatcher).status_code == 422


def test_api4_a_driver_starts_ten_uploads_a_minute(stack: LocalStack) -> None:
    # GIVEN a fresh driver
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    name = f"owr-{uuid.uuid4().hex[:6]}"
    create_user(idp, stack.identity.user_pool_id, name, PASSWORD, f"owasp-r-{uuid.uuid4().hex[:6]}")
    token = sign_in(idp, stack.identity.client_id, name, PASSWORD)
    body = {"content_type": "image/jpeg", "size": 1000}
    if time.time() % 60 > 50:  # the count is per calendar minute: start in a fresh one
        time.sleep(60.5 - time.time() % 60)
    # WHEN it asks for 12 uploads at once THEN 10 are granted in the minute and then 429 with Retry-After
    answers = [call(stack.api_url, "POST", "/uploads", token, body) for _ in range(12)]
    assert [a.status_code for a in answers] == [201] * 10 + [429] * 2
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60


def test_api4_a_burst_over_the_routes_throttle_is_429(crew: Crew) -> None:
    # GIVEN GET /board's throttle (the stage's: burst 100, 50 a second)
    # WHEN 400 requests arrive at once
    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(lambda _: call(crew.api, "GET", "/board", None).status_code, range(400)))
    # THEN those over the bucket are 429 before the authorizer runs, the rest the authorizer's 401
    assert set(codes) == {401, 429}
    # AND the bucket refills: the dispatcher reads the board again within a few seconds
    deadline = time.monotonic() + 10
    while (code := call(crew.api, "GET", "/board", crew.dispatcher).status_code) == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert code == 200


# --- API5: broken function-level authorization --------------------------------------------------------


def test_api5_drivers_and_dispatchers_keep_to_their_own_routes(stack: LocalStack, crew: Crew) -> None:
    # GIVEN a user in neither group, besides a driver and a dispatcher
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    nobody = f"own-{uuid.uuid4().hex[:6]}"
    idp.admin_create_user(UserPoolId=stack.identity.user_pool_id, Username=nobody, MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=stack.identity.user_pool_id, Username=nobody, Password=PASSWORD, Permanent=True
    )
    groupless = sign_in(idp, stack.identity.client_id, nobody, PASSWORD)
    for method, path, body in every_authorized_route(crew):
        # WHEN a driver calls a dispatcher's route, a dispatcher a driver's, or the groupless user any
        wrong = crew.dispatcher if path.startswith("/uploads") else crew.driver_a
        # THEN each is 403
        assert call(crew.api, method, path, wrong, body).status_code == 403, (method, path)
        assert call(crew.api, method, path, groupless, body).status_code == 403, (method, path)
