"""router's settings: the topic it publishes to, the table it asks before a late publish, its rules."""

from __future__ import annotations

from pydantic import Field

from shared.settings import FunctionSettings, Resource


class RouterSettings(FunctionSettings):
    routing_topic_arn: Resource = Field(validation_alias="ROUTING_TOPIC_ARN")
    capture_table: Resource = Field(validation_alias="CAPTURE_TABLE")
    # SNS FIFO's deduplication window (fixed by AWS at five minutes): the router asks the capture table
    # before publishing a photo uploaded longer ago than this.
    dedup_window_s: int = Field(default=300, ge=120, validation_alias="DEDUP_WINDOW_S")
    # None: the rules file shipped beside the router (services/router/rules.yaml).
    rules_path: str | None = Field(default=None, min_length=1, validation_alias="ROUTING_RULES_PATH")
