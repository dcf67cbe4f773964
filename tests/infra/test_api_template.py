"""The people's side of the template: user pool, HTTP API with its JWT authorizer, the API function.

GIVEN infra/template.yaml WHEN it is read THEN the API's routes are the handler's, only the board's
public files skip the authorizer, the role grants exactly what the API does, and the pool never lets
a user choose their own driver id.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.cfn import resources_of_type, translate
from infra.template_file import load_template
from services.api.handler import app
from services.api.settings import ApiSettings
from tests.infra.test_template import ACTIONS_WITHOUT_RESOURCES, POWERTOOLS_VARIABLES, grants, resource

PUBLIC = {
    ("GET", "/"),
    ("GET", "/board.js"),
    ("GET", "/config.json"),
    ("GET", "/driver"),
    ("GET", "/assets/{name}"),
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam, region="us-east-1")


def http_events(sam: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    events = resource(sam, "ApiFunction")["Events"]
    return {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"]
        for e in events.values()
        if e["Type"] == "HttpApi"
    }


def test_the_template_routes_exactly_the_handlers_routes(sam: dict[str, Any]) -> None:
    # GIVEN the handler's Powertools routes, in API Gateway's path syntax
    handled = {
        (route.method, re.sub(r"<(\w+)>", r"{\1}", route.path))
        for route in [*app._static_routes, *app._dynamic_routes]
    }
    # THEN the template's HttpApi events are the same set, every one on the one HTTP API
    events = http_events(sam)
    assert set(events) == handled
    assert {str(e["ApiId"]) for e in events.values()} == {str({"Ref": "HttpApi"})}


def test_only_the_board_files_skip_the_jwt_authorizer(sam: dict[str, Any]) -> None:
    events = http_events(sam)
    public = {key for key, props in events.items() if props.get("Auth", {}).get("Authorizer") == "NONE"}
    assert public == PUBLIC
    auth = resource(sam, "HttpApi")["Auth"]
    assert auth["DefaultAuthorizer"] == "CognitoJwt"
    jwt = auth["Authorizers"]["CognitoJwt"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"]["issuer"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"
    }
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "UserPoolClient"}]


def test_cors_origins_come_from_a_parameter(sam: dict[str, Any]) -> None:
    parameter = sam["Parameters"]["CorsAllowedOrigins"]
    assert re.fullmatch(parameter["AllowedPattern"], "https://a.example,http://127.0.0.1:8000")
    assert not re.fullmatch(parameter["AllowedPattern"], "*")
    cors = resource(sam, "HttpApi")["CorsConfiguration"]
    assert cors["AllowOrigins"] == {"Fn::Split": [",", {"Ref": "CorsAllowedOrigins"}]}
    variables = resource(sam, "ApiFunction")["Environment"]["Variables"]
    assert variables["CORS_ALLOWED_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}


def test_the_api_stage_logs_access_and_is_throttled(cfn: dict[str, Any]) -> None:
    (stage,) = resources_of_type(cfn, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    # New uploads have a throttle of their own (shared by every driver: the per-driver limit is the API's)
    assert props["RouteSettings"]["POST /uploads"] == {
        "ThrottlingBurstLimit": {"Ref": "UploadThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "UploadThrottlingRateLimit"},
    }


def test_people_are_created_by_the_depot_and_cannot_set_their_own_driver_id_or_depot(
    sam: dict[str, Any],
) -> None:
    pool = resource(sam, "UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert [a["Name"] for a in pool["Schema"]] == ["driver_id", "depot_id"]
    # a depot id as the routing rules spell one (services/router/rules.py DEPOT_ID: 1-32 characters)
    (depot,) = [a for a in pool["Schema"] if a["Name"] == "depot_id"]
    assert depot["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "32"}
    client = resource(sam, "UserPoolClient")
    assert client["GenerateSecret"] is False
    assert client["WriteAttributes"] == []
    assert {"custom:driver_id", "custom:depot_id"} <= set(client["ReadAttributes"])
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    groups = {
        g["Properties"]["GroupName"] for g in resources_of_type(sam, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"drivers", "dispatchers"}


def test_the_api_role_grants_exactly_what_the_api_does(sam: dict[str, Any]) -> None:
    photos = "arn:${AWS::Partition}:s3:::${PhotoBucket}/photos/*"
    assert grants(sam, "ApiFunction") == (
        {(a, "ApiLogGroup.Arn") for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
        | {(a, "*") for a in ACTIONS_WITHOUT_RESOURCES}
        | {(a, photos) for a in ("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion")}
        | {("s3:ListBucket", "PhotoBucket.Arn")}
        | {("dynamodb:GetItem", "CaptureTable.Arn"), ("dynamodb:PutItem", "CaptureTable.Arn")}
        # the review desk's leases and outbox mark
        | {("dynamodb:UpdateItem", "CaptureTable.Arn")}
        # a driver's uploads (by-driver), a depot's board (by-depot-day), the open reviews and the outbox
        # (open-items): the API reads no other index
        | {("dynamodb:Query", "${CaptureTable.Arn}/index/by-driver")}
        | {("dynamodb:Query", "${CaptureTable.Arn}/index/by-depot-day")}
        | {("dynamodb:Query", "${CaptureTable.Arn}/index/open-items")}
        | {("sns:Publish", "RoutingTopic")}
        # the ticket, the driver's count per minute, and which photo claimed the ticket (a status read)
        | {(a, "UploadsTable.Arn") for a in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")}
    )
    (listing,) = [
        s
        for p in resource(sam, "ApiRole")["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:ListBucket"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "photos/*"}}


def test_the_api_environment_uses_only_its_settings_names(cfn: dict[str, Any]) -> None:
    aliases = {str(f.validation_alias) for f in ApiSettings.model_fields.values() if f.validation_alias}
    variables = resource(cfn, "ApiFunction")["Environment"]["Variables"]
    assert set(variables) <= aliases | POWERTOOLS_VARIABLES
    assert {"USER_POOL_CLIENT_ID", "CAPTURE_TABLE", "PHOTO_BUCKET", "UPLOADS_TABLE"} <= set(variables)
    assert variables["POWERTOOLS_SERVICE_NAME"] == "api"


def test_a_driver_waiting_too_long_for_a_review_wakes_an_operator(sam: dict[str, Any]) -> None:
    # GIVEN the alarm on the sweep's metric of the longest-waiting open review
    alarm = resource(sam, "OpenReviewAgeAlarm")
    # THEN it watches the API's own metric (Powertools' namespace and service) against the parameter
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "DriverRouting",
        "OldestOpenReviewAge",
        "Maximum",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "api"}]
    assert alarm["Threshold"] == {"Ref": "OpenReviewAlarmSeconds"}
    assert sam["Parameters"]["OpenReviewAlarmSeconds"]["Default"] == 600  # ten minutes
    # AND a sweep that stopped running alarms too: nobody would know who waits
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # AND the schedule that runs the sweep is the API function's own
    sweep = resource(sam, "ApiFunction")["Events"]["ReviewSweep"]
    assert (sweep["Type"], sweep["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")
