"""Lambda entry point behind the HTTP API: drivers upload and learn their bay, dispatchers run the board.

API Gateway's JWT authorizer (Cognito user pool) has verified the token before this runs; the caller's
groups and driver id come from its claims (`services.api.identity`), never from a body. The board page
itself is served on public routes, so it needs no other host and shares the API's origin.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.api.bootstrap import build_api
from services.api.errors import STATUS, ApiRefusal
from services.api.identity import Caller, caller_from_claims
from services.api.models import (
    Board,
    BoardConfig,
    ClaimResult,
    CorrectionRequest,
    PhotoLink,
    ReviewChoice,
    ReviewHistory,
    ReviewRequest,
    ReviewResult,
    UploadList,
    UploadRequest,
    UploadStatus,
    UploadTicket,
)
from services.api.page_security import page_headers
from services.api.service import DispatchApi
from services.api.settings import CorsSettings, get_api_settings
from services.router.rules import load_rules
from shared.answers import class_name
from shared.formats import PHOTO_FORMATS
from shared.observability import powertools
from shared.upload_tickets import TooManyUploads
from shared.wiring import BuiltOnce

STATIC = Path(__file__).with_name("static")
PAGES = {
    "/": ("board.html", "text/html; charset=utf-8"),
    "/board.js": ("board.js", "text/javascript"),
    "/driver": ("driver.html", "text/html; charset=utf-8"),
}
# The pages' other files, at /assets/{name}: only what the folder holds is served, by its own name.
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
ASSETS = {p.name: ASSET_TYPES[p.suffix] for p in STATIC.iterdir() if p.suffix in ASSET_TYPES}

logger, metrics, tracer = powertools("api")


def _cors() -> CORSConfig | None:
    origins = CorsSettings().origins
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


app = APIGatewayHttpResolver(enable_validation=True, cors=_cors())


dispatch: BuiltOnce[DispatchApi] = BuiltOnce(lambda: build_api(get_api_settings(), logger, metrics))


@app.exception_handler(ApiRefusal)  # type: ignore[untyped-decorator]
def refused(error: ApiRefusal) -> Response[str]:
    """A use case's refusal, in its own words, with its status (services.api.errors)."""
    status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
    return Response(status, "application/json", json.dumps({"statusCode": status, "message": str(error)}))


# CSP and its companions on every page response (services/api/page_security.py).
page_security_headers: BuiltOnce[dict[str, str]] = BuiltOnce(
    lambda: page_headers(get_api_settings(), (STATIC / "board.html").read_text(encoding="utf-8"))
)


@app.exception_handler(TooManyUploads)  # type: ignore[untyped-decorator]
def too_many_uploads(error: TooManyUploads) -> Response[str]:
    body = json.dumps({"message": str(error)})
    return Response(429, "application/json", body, headers={"Retry-After": str(error.retry_after_s)})


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[str]:
    """422 with each field error as the OpenAPI document declares it (loc, msg, type).

    Powertools' own 422 drops `msg`, which its document requires. pydantic's messages name the rule
    ("Field required", our validators' own sentences); the input and context are left out.
    """
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg") or e.get("type")), "type": str(e.get("type"))}
        for e in error.errors()
    ]
    return Response(422, "application/json", json.dumps({"statusCode": 422, "detail": detail}))


def caller() -> Caller:
    return caller_from_claims(app.current_event.request_context.authorizer.jwt_claim)


@app.post(
    "/uploads",
    responses={
        201: {"description": "a presigned POST", "content": {"application/json": {"model": UploadTicket}}}
    },
)
def create_upload(body: UploadRequest) -> Response[str]:
    ticket: UploadTicket = dispatch.get().start_upload(caller(), body)
    return Response(201, "application/json", ticket.model_dump_json())


@app.get("/uploads")
def list_uploads() -> UploadList:
    return dispatch.get().todays_uploads(caller())


@app.get("/uploads/<upload_id>")
def get_upload(upload_id: str) -> UploadStatus:
    return dispatch.get().upload_status(caller(), upload_id)


@app.get("/board")
def get_board(cursor: Annotated[str | None, Query(max_length=80)] = None) -> Board:
    return dispatch.get().board(caller(), cursor)


@app.get("/photos/<photo_id>")
def get_photo(photo_id: str) -> PhotoLink:
    return dispatch.get().photo_link(caller(), photo_id)


@app.post("/reviews/<photo_id>")
def post_review(photo_id: str, body: ReviewRequest) -> ReviewResult:
    return dispatch.get().desk.review(caller(), photo_id, body)


@app.post("/reviews/<photo_id>/corrections")
def post_correction(photo_id: str, body: CorrectionRequest) -> ReviewResult:
    return dispatch.get().desk.correct(caller(), photo_id, body)


@app.get("/reviews/<photo_id>")
def get_history(photo_id: str) -> ReviewHistory:
    return dispatch.get().desk.history(caller(), photo_id)


@app.post("/claims/<photo_id>")
def post_claim(photo_id: str) -> ClaimResult:
    return dispatch.get().desk.claim(caller(), photo_id)


@app.delete("/claims/<photo_id>")
def delete_claim(photo_id: str) -> Response[str]:
    dispatch.get().desk.release(caller(), photo_id)
    return Response(204, "application/json", "")


def _served_as(description: str, *media_types: str) -> dict[int, OpenAPIResponse]:
    """A page route's 200 in the OpenAPI document, in each media type it is served as: text, or for
    JSON (the sentence tables) an object."""
    content: dict[str, Any] = {
        media: {"schema": {"type": "object" if media == "application/json" else "string"}}
        for media in media_types
    }
    return {200: {"description": description, "content": content}}


NOT_FOUND: OpenAPIResponse = {
    "description": "no such file",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["statusCode", "message"],
                "properties": {"statusCode": {"type": "integer"}, "message": {"type": "string"}},
            }
        }
    },
}


def _page(path: str) -> Response[str]:
    name, content_type = PAGES[path]
    return Response(
        200, content_type, (STATIC / name).read_text(encoding="utf-8"), headers=page_security_headers.get()
    )


@app.get("/", responses=_served_as("the board's page", "text/html"))
def board_page() -> Response[str]:
    return _page("/")


@app.get("/board.js", responses=_served_as("the board's script", "text/javascript"))
def board_script() -> Response[str]:
    return _page("/board.js")


@app.get("/driver", responses=_served_as("the driver's page", "text/html"))
def driver_page() -> Response[str]:
    return _page("/driver")


@app.get(
    "/assets/<name>",
    responses={
        **_served_as("one of the pages' files", *sorted(set(ASSET_TYPES.values()))),
        404: NOT_FOUND,
    },
)
def asset(name: str) -> Response[str]:
    if name not in ASSETS:
        return Response(404, "application/json", json.dumps({"statusCode": 404, "message": "Not Found"}))
    return Response(
        200, ASSETS[name], (STATIC / name).read_text(encoding="utf-8"), headers=page_security_headers.get()
    )


@app.get(
    "/config.json",
    responses={
        200: {
            "description": "the pages' sign-in settings and review choices",
            "content": {"application/json": {"model": BoardConfig}},
        }
    },
)
def board_config() -> Response[str]:
    """What the pages need to sign a person in, and the rules' review choices (public: no secret)."""
    settings = get_api_settings()
    rules = load_rules(settings.rules_path)
    config = BoardConfig(
        region=settings.aws_region,
        cognito_endpoint=settings.cognito_url,
        client_id=settings.user_pool_client_id,
        review_choices=[ReviewChoice(label=name, text=class_name(name)) for name in rules.review_labels],
        default_depot=rules.default_depot,
        gallery_depots=settings.gallery_depot_ids,
        upload_types={ext.lstrip("."): fmt.content_type for fmt in PHOTO_FORMATS for ext in fmt.extensions},
    )
    return Response(200, "application/json", config.model_dump_json(), headers=page_security_headers.get())


def _unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body that is not UTF-8 JSON, answered before Powertools parses it: 415 for another type (a
    multipart form without its boundary would fail there), 400 for bytes that are not UTF-8."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type", "")).strip()
    raw = event.get("body")
    if not raw:
        return None
    if content_type and not content_type.startswith("application/json"):
        return _refusal(415, "send the body as application/json")
    try:
        (base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return _refusal(400, "the body is not UTF-8 JSON")
    return None


def _refusal(status: int, message: str) -> dict[str, Any]:
    body = json.dumps({"statusCode": status, "message": message})
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == "Scheduled Event":
        # The template's schedule: publish the outbox, measure the longest wait (services/api/review_desk.py).
        return dispatch.get().desk.sweep().model_dump(mode="json")
    # One count per request: what a dashboard plots, and a metric for every invocation to flush.
    metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    return _unreadable_body(event) or app.resolve(event, context)
