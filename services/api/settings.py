"""The API function's settings: what it reads of the chain (the bucket, the topic, the tables, the rules)
and its own (same environment names on Lambda, set by the template, and in the local API front, set by
the local stack)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from shared.settings import FunctionSettings, PhotoLimits, Resource


class CorsSettings(FunctionSettings):
    """The origins allowed to call the API from a browser: read when the resolver is built, at import."""

    cors_allowed_origins: str = Field(default="", validation_alias="CORS_ALLOWED_ORIGINS")
    # Depots whose drivers may choose a photo from the gallery; elsewhere the camera only (a live photo).
    gallery_depots: str = Field(default="", validation_alias="GALLERY_DEPOTS")

    @field_validator("cors_allowed_origins", "gallery_depots")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @property
    def origins(self) -> list[str]:
        return [o for o in self.cors_allowed_origins.split(",") if o]


class ApiSettings(PhotoLimits, CorsSettings):
    photo_bucket: Resource = Field(validation_alias="PHOTO_BUCKET")
    routing_topic_arn: Resource = Field(validation_alias="ROUTING_TOPIC_ARN")
    capture_table: Resource = Field(validation_alias="CAPTURE_TABLE")
    uploads_table: Resource = Field(validation_alias="UPLOADS_TABLE")
    # None: the rules file shipped beside the router (services/router/rules.yaml).
    rules_path: str | None = Field(default=None, min_length=1, validation_alias="ROUTING_RULES_PATH")
    # A presigned POST lives at most 5 minutes: long enough for a phone on a slow network.
    upload_url_ttl_s: int = Field(default=300, ge=10, le=300, validation_alias="UPLOAD_URL_TTL_S")
    # New uploads one driver may start a minute (the template's DriverUploadsPerMinute); more are 429.
    driver_uploads_per_minute: int = Field(
        default=10, ge=1, le=600, validation_alias="DRIVER_UPLOADS_PER_MINUTE"
    )
    # A dispatcher's photo link is for looking at it now, not for sharing.
    photo_url_ttl_s: int = Field(default=120, ge=10, le=900, validation_alias="PHOTO_URL_TTL_S")
    user_pool_client_id: Resource = Field(validation_alias="USER_POOL_CLIENT_ID")
    # Where the pages sign in: None means Cognito's regional endpoint (the local stack points it at moto).
    cognito_endpoint: str | None = Field(default=None, min_length=1, validation_alias="COGNITO_ENDPOINT")
    # Records written this long before a board's last read are sent again: a record reaches the
    # by-day index a little after it is written (services/api/board.py).
    board_overlap_s: int = Field(default=5, ge=0, le=300, validation_alias="BOARD_OVERLAP_S")
    # A review may be corrected this long after the photo's first review: a shift.
    correction_window_h: float = Field(default=12, gt=0, le=48, validation_alias="CORRECTION_WINDOW_H")

    @property
    def gallery_depot_ids(self) -> list[str]:
        return [d for d in self.gallery_depots.split(",") if d]

    @property
    def cognito_url(self) -> str:
        return self.cognito_endpoint or f"https://cognito-idp.{self.aws_region}.amazonaws.com/"


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
