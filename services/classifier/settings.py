"""classifier's settings: the route queue, the endpoint and how it is called, the payload it sends."""

from __future__ import annotations

from pydantic import Field

from shared.settings import PayloadSettings, Resource


class ClassifierSettings(PayloadSettings):
    route_queue_url: Resource = Field(validation_alias="ROUTE_QUEUE_URL")
    endpoint_name: Resource = Field(validation_alias="SAGEMAKER_ENDPOINT_NAME")
    # Images per endpoint call (one `application/jsonlines` call for up to this many of an invocation's
    # photos; 1: one `image/png` call per photo). Measured on the local endpoint: batches give no more
    # images/s there, and its memory grows with batch size x concurrent calls.
    endpoint_batch_size: int = Field(default=1, ge=1, le=10, validation_alias="ENDPOINT_BATCH_SIZE")
    # Endpoint attempts inside one invocation (botocore's retries), before the record goes back to SQS.
    endpoint_attempts: int = Field(default=4, ge=1, validation_alias="ENDPOINT_ATTEMPTS")
    endpoint_timeout_s: float = Field(default=5.0, gt=0, validation_alias="ENDPOINT_TIMEOUT_S")
