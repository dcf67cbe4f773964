"""schemathesis against the API's own OpenAPI document, on the local stack.

GIVEN the document Powertools' resolver makes from the handler's routes and pydantic models
WHEN schemathesis generates requests for every operation (a bounded number of examples each), sent through
the local HTTP API with a driver's token on the drivers' routes and a dispatcher's on the others
THEN no answer is a 5xx, and every answer the document describes has the body it says.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from driver_routing.driver_app import sign_in
from driver_routing.people import create_user
from local.stack import LocalStack
from services.api.handler import app
from shared.aws.clients import client

REGION = "us-east-1"
PASSWORD = "Schema-Test-Pass-1"
# Five operations, 25 examples each, through the local gateway: about 10 s on two cores.
EXAMPLES = 25

# The board's page routes (`/`, `/board.js`, `/config.json`) serve pages and their settings, not the API.
PAGES = ["/", "/board.js", "/config.json"]
schema = schemathesis.openapi.from_dict(
    json.loads(app.get_openapi_json_schema(title="driver-routing API", version="1"))
).exclude(path=PAGES)


@pytest.fixture(scope="module")
def tokens(stack: LocalStack) -> dict[str, str]:
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    tag = uuid.uuid4().hex[:6]
    create_user(idp, stack.identity.user_pool_id, f"sch-d-{tag}", PASSWORD, f"schema-{tag}")
    create_user(idp, stack.identity.user_pool_id, f"sch-p-{tag}", PASSWORD, None)
    return {
        "driver": sign_in(idp, stack.identity.client_id, f"sch-d-{tag}", PASSWORD),
        "dispatcher": sign_in(idp, stack.identity.client_id, f"sch-p-{tag}", PASSWORD),
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_openapi_document(
    case: schemathesis.Case[Any], stack: LocalStack, tokens: dict[str, str]
) -> None:
    role = "driver" if case.path.startswith("/uploads") else "dispatcher"
    case.call_and_validate(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {tokens[role]}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=15,
    )
