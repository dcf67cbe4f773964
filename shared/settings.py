"""What every function's settings share: read from the environment (the template sets the names on AWS
Lambda, `driver-routing up` locally), frozen, checked when the function starts.

Each function has its own settings class beside its handler (`services/<fn>/settings.py`), with the
fields it reads and no other: a required field missing from the environment stops the cold start with
pydantic's message naming it, instead of a call to a resource named "".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# A resource name, URL or ARN: set, never "".
Resource = Annotated[str, Field(min_length=1)]


class FunctionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, populate_by_name=True)

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")


class PhotoLimits(FunctionSettings):
    """What a photo may be. A 12-megapixel phone JPEG is 3-8 MB: it is resized by the classifier, never
    rejected."""

    max_photo_bytes: int = Field(default=25 * 1024 * 1024, gt=0, validation_alias="MAX_PHOTO_BYTES")
    max_photo_pixels: int = Field(default=50_000_000, gt=0, validation_alias="MAX_PHOTO_PIXELS")


class PayloadSettings(PhotoLimits):
    """How the classifier turns a photo into the endpoint's payload (`evaluate` makes the same one)."""

    # The classifier resizes a larger photo to this square, the model's input side (metadata.json's
    # `input_side`), so the server resizes no more; a smaller one goes as it is (`endpoint_payload`).
    # The endpoint answers uploads of at most 64 px a side with its thumbnail graph: keep this well above.
    # At most 1024: a PNG of that square stays below SageMaker's 6 MB payload limit.
    endpoint_image_side: int = Field(default=192, ge=128, le=1024, validation_alias="ENDPOINT_IMAGE_SIDE")
