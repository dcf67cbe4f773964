"""schemathesis against the API's own OpenAPI document, on the local stack.

GIVEN the document Powertools' resolver makes from the handler's routes and pydantic models
WHEN schemathesis generates requests for every operation (a bounded number of examples each), sent through
the local HTTP API with a driver's token on the drivers' routes and a dispatcher's on the others
THEN no answer is a 5xx, and every answer the document describes has the media type and the body it
says (the pages' HTML and scripts, `/config.json`'s settings, the API's models).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from driver_routing.driver_app import sign_in
from driver_routing.people import create_user
from local.stack import LocalStack
from services.api.handler import app
from shared.aws.clients import client

REGION = "us-east-1"
PASSWORD = "Schema-Test-Pass-1"
# Every operation (the API's and the pages'), 25 examples each, through the local gateway.
EXAMPLES = 25

# Every route, the pages' too: they are documented in the media types they are served as, and
# `/config.json` by its model.
schema = schemathesis.openapi.from_dict(
    json.loads(app.get_openapi_json_schema(title="driver-routing API", version="1"))
)


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
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=15,
    )
