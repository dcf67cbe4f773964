"""Composition root of router: the boto3 adapters and the rules file in production, or what is passed."""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools import Logger

from services.router.rules import RoutingRules, load_rules
from services.router.service import Router
from services.router.settings import RouterSettings
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.aws.messaging import DecisionTopic
from shared.aws.ports import DecisionPublisher, DecisionRecords
from shared.batching import Outbox


def build_router(
    settings: RouterSettings,
    *,
    outbox: Outbox | None = None,
    topic: DecisionPublisher | None = None,
    records: DecisionRecords | None = None,
    rules: RoutingRules | None = None,
    logger: Logger | None = None,
) -> Router:
    region = settings.aws_region
    outbox = outbox if outbox is not None else Outbox()
    return Router(
        rules=rules if rules is not None else load_rules(settings.rules_path),
        topic=topic
        if topic is not None
        else DecisionTopic(client("sns", region), settings.routing_topic_arn, outbox),
        records=records
        if records is not None
        else CaptureTable(client("dynamodb", region), settings.capture_table),
        logger=logger if logger is not None else Logger(service="router"),
        # A minute short of the topic's window: clocks differ, and a publish takes time.
        check_after=timedelta(seconds=settings.dedup_window_s - 60),
    )
