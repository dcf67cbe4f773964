"""The composition root: the API's use cases built once from settings, every adapter overridable."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from services.api.photo_links import S3PhotoLinks
from services.api.service import DispatchApi
from services.api.settings import ApiSettings
from services.router.rules import RoutingRules, load_rules
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.aws.messaging import DecisionTopic
from shared.aws.ports import DecisionPublisher, PhotoLinks, ReviewRecords, UploadTickets
from shared.aws.upload_tickets import UploadTicketTable


def presigning_s3(region: str) -> object:
    """An S3 client that signs with SigV4: botocore still presigns with SigV2 unless told, which S3
    refuses in newer regions and which carries no expiry limit of its own."""
    return client("s3", region, signature_version="s3v4")


def build_api(
    settings: ApiSettings,
    logger: Logger,
    metrics: Metrics,
    *,
    records: ReviewRecords | None = None,
    links: PhotoLinks | None = None,
    topic: DecisionPublisher | None = None,
    rules: RoutingRules | None = None,
    tickets: UploadTickets | None = None,
) -> DispatchApi:
    region = settings.aws_region
    return DispatchApi(
        settings=settings,
        records=records or CaptureTable(client("dynamodb", region), settings.capture_table),
        links=links or S3PhotoLinks(presigning_s3(region), settings.photo_bucket),
        topic=topic or DecisionTopic(client("sns", region), settings.routing_topic_arn),
        rules=rules or load_rules(settings.rules_path),
        logger=logger,
        metrics=metrics,
        tickets=tickets or UploadTicketTable(client("dynamodb", region), settings.uploads_table),
    )
