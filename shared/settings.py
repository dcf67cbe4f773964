"""One settings object, read from the environment, for every service and the local stack."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The same names are set by the template on AWS Lambda and by `driver-routing up` locally."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    photo_bucket: str = Field(default="", validation_alias="PHOTO_BUCKET")
    classify_queue_url: str = Field(default="", validation_alias="CLASSIFY_QUEUE_URL")
    route_queue_url: str = Field(default="", validation_alias="ROUTE_QUEUE_URL")
    routing_topic_arn: str = Field(default="", validation_alias="ROUTING_TOPIC_ARN")
    capture_table: str = Field(default="", validation_alias="CAPTURE_TABLE")
    # What the upload API issued, read by ingest (services/api/README.md: exact, single-use uploads).
    uploads_table: str = Field(default="", validation_alias="UPLOADS_TABLE")
    endpoint_name: str = Field(default="vehicle-classifier", validation_alias="SAGEMAKER_ENDPOINT_NAME")

    # Photo limits. A 12-megapixel phone JPEG is 3-8 MB: it is resized by the classifier, never rejected.
    max_photo_bytes: int = Field(default=25 * 1024 * 1024, validation_alias="MAX_PHOTO_BYTES")
    max_photo_pixels: int = Field(default=50_000_000, validation_alias="MAX_PHOTO_PIXELS")
    # The classifier resizes a larger photo to this square, the model's input side (metadata.json's
    # `input_side`), so the server resizes no more; a smaller one goes as it is (`endpoint_payload`).
    # The endpoint answers uploads of at most 64 px a side with its thumbnail graph: keep this well above.
    # At most 1024: a PNG of that square stays below SageMaker's 6 MB payload limit.
    endpoint_image_side: int = Field(default=192, ge=128, le=1024, validation_alias="ENDPOINT_IMAGE_SIDE")

    # Images per endpoint call (one `application/jsonlines` call for up to this many of an invocation's
    # photos; 1: one `image/jpeg` call per photo). Measured on the local endpoint: batches give no more
    # images/s there, and its memory grows with batch size x concurrent calls.
    endpoint_batch_size: int = Field(default=1, ge=1, le=10, validation_alias="ENDPOINT_BATCH_SIZE")

    # Endpoint retries inside one invocation, before the record goes back to SQS.
    endpoint_attempts: int = Field(default=4, validation_alias="ENDPOINT_ATTEMPTS")
    endpoint_timeout_s: float = Field(default=5.0, validation_alias="ENDPOINT_TIMEOUT_S")

    function_timeout_s: int = Field(default=30, validation_alias="FUNCTION_TIMEOUT_S")
    # SNS FIFO's deduplication window (fixed by AWS at five minutes): the router asks the capture table
    # before publishing a photo uploaded longer ago than this.
    dedup_window_s: int = Field(default=300, ge=120, validation_alias="DEDUP_WINDOW_S")

    rules_path: str = Field(default="", validation_alias="ROUTING_RULES_PATH")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
