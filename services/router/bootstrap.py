"""Composition root of router: the boto3 adapter and the rules file in production, or what is passed."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from services.router.rules import RoutingRules, load_rules
from services.router.service import Router
from shared.aws.clients import client
from shared.aws.messaging import DecisionTopic
from shared.aws.ports import DecisionPublisher
from shared.contracts import Prediction, Rejection
from shared.idempotency import OncePerPhoto, PhotoIdempotency
from shared.settings import Settings


def build_router(
    settings: Settings,
    *,
    topic: DecisionPublisher | None = None,
    rules: RoutingRules | None = None,
    idempotency: PhotoIdempotency | None = None,
    logger: Logger | None = None,
) -> OncePerPhoto[Prediction | Rejection]:
    region = settings.aws_region
    service = Router(
        rules=rules if rules is not None else load_rules(settings.rules_path),
        topic=topic
        if topic is not None
        else DecisionTopic(client("sns", region), settings.routing_topic_arn),
        logger=logger if logger is not None else Logger(service="router"),
    )
    guard = (
        idempotency
        if idempotency is not None
        else PhotoIdempotency.on_dynamodb(settings, client("dynamodb", region))
    )
    return guard.once_per_photo(service.route, argument="assessment", key_prefix="router")
