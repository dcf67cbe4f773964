"""Each function's settings as its tests build them: the resource names a test's fakes stand in for."""

from __future__ import annotations

from typing import Any

from services.api.settings import ApiSettings
from services.capture.settings import CaptureSettings
from services.classifier.settings import ClassifierSettings
from services.ingest.settings import IngestSettings
from services.router.settings import RouterSettings


def ingest_settings(**changes: Any) -> IngestSettings:
    names = {"classify_queue_url": "classify", "route_queue_url": "route", "uploads_table": "uploads"}
    return IngestSettings(**{**names, **changes})


def classifier_settings(**changes: Any) -> ClassifierSettings:
    names = {"route_queue_url": "route", "endpoint_name": "vehicle-classifier"}
    return ClassifierSettings(**{**names, **changes})


def router_settings(**changes: Any) -> RouterSettings:
    return RouterSettings(**{"routing_topic_arn": "routing", "capture_table": "capture", **changes})


def capture_settings(**changes: Any) -> CaptureSettings:
    return CaptureSettings(**{"capture_table": "capture", **changes})


def api_settings(**changes: Any) -> ApiSettings:
    names = {
        "photo_bucket": "photos",
        "routing_topic_arn": "routing",
        "capture_table": "capture",
        "uploads_table": "uploads",
        "user_pool_client_id": "client",
    }
    return ApiSettings(**{**names, **changes})
