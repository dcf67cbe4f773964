"""Composition root of classifier: the boto3 adapters in production, anything else a caller passes."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from services.classifier.service import Classifier
from services.classifier.settings import ClassifierSettings
from shared.aws.clients import client, endpoint_client
from shared.aws.endpoint import VehicleEndpoint
from shared.aws.messaging import MessageQueue
from shared.aws.photo_store import PhotoStore
from shared.aws.ports import MessageSender, PhotoReader, VehicleClassifier
from shared.batching import Outbox


def vehicle_endpoint(settings: ClassifierSettings) -> VehicleEndpoint:
    """The SageMaker endpoint on its own retry budget and timeouts (see `endpoint_client`)."""
    runtime = endpoint_client(settings.aws_region, settings.endpoint_attempts, settings.endpoint_timeout_s)
    return VehicleEndpoint(runtime, settings.endpoint_name, batch_limit=settings.endpoint_batch_size)


def build_classifier(
    settings: ClassifierSettings,
    *,
    outbox: Outbox | None = None,
    store: PhotoReader | None = None,
    endpoint: VehicleClassifier | None = None,
    route_queue: MessageSender | None = None,
    logger: Logger | None = None,
) -> Classifier:
    region = settings.aws_region
    outbox = outbox if outbox is not None else Outbox()
    return Classifier(
        settings=settings,
        store=store if store is not None else PhotoStore(client("s3", region)),
        endpoint=endpoint if endpoint is not None else vehicle_endpoint(settings),
        route_queue=(
            route_queue
            if route_queue is not None
            else MessageQueue(client("sqs", region), settings.route_queue_url, outbox)
        ),
        outbox=outbox,
        logger=logger if logger is not None else Logger(service="classifier"),
    )
