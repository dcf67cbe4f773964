"""ingest's settings: its two queues, the uploads table it claims tickets in, and the photo limits."""

from __future__ import annotations

from pydantic import Field

from shared.settings import PhotoLimits, Resource


class IngestSettings(PhotoLimits):
    classify_queue_url: Resource = Field(validation_alias="CLASSIFY_QUEUE_URL")
    route_queue_url: Resource = Field(validation_alias="ROUTE_QUEUE_URL")
    # What the upload API issued (services/api/README.md: exact, single-use uploads).
    uploads_table: Resource = Field(validation_alias="UPLOADS_TABLE")
