"""Composition root of ingest: the boto3 adapters in production, anything else a caller passes."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from services.ingest.service import Ingest
from services.ingest.settings import IngestSettings
from shared.aws.clients import client
from shared.aws.messaging import MessageQueue
from shared.aws.photo_store import PhotoStore
from shared.aws.ports import MessageSender, PhotoReader, UploadClaims
from shared.aws.upload_tickets import UploadTicketTable
from shared.batching import Outbox


def build_ingest(
    settings: IngestSettings,
    *,
    outbox: Outbox | None = None,
    store: PhotoReader | None = None,
    classify_queue: MessageSender | None = None,
    route_queue: MessageSender | None = None,
    logger: Logger | None = None,
    tickets: UploadClaims | None = None,
) -> Ingest:
    region = settings.aws_region
    outbox = outbox if outbox is not None else Outbox()
    return Ingest(
        settings=settings,
        store=store if store is not None else PhotoStore(client("s3", region)),
        classify_queue=(
            classify_queue
            if classify_queue is not None
            else MessageQueue(client("sqs", region), settings.classify_queue_url, outbox)
        ),
        route_queue=(
            route_queue
            if route_queue is not None
            else MessageQueue(client("sqs", region), settings.route_queue_url, outbox)
        ),
        logger=logger if logger is not None else Logger(service="ingest"),
        tickets=(
            tickets
            if tickets is not None
            else UploadTicketTable(client("dynamodb", region), settings.uploads_table)
        ),
    )
