"""The API function's settings: the chain's, plus what only the API reads (same environment names on
Lambda, set by the template, and in the local API front, set by the local stack)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from shared.settings import Settings


class ApiSettings(Settings):
    # A presigned POST lives at most 5 minutes: long enough for a phone on a slow network.
    upload_url_ttl_s: int = Field(default=300, ge=10, le=300, validation_alias="UPLOAD_URL_TTL_S")
    # A dispatcher's photo link is for looking at it now, not for sharing.
    photo_url_ttl_s: int = Field(default=120, ge=10, le=900, validation_alias="PHOTO_URL_TTL_S")
    cors_allowed_origins: str = Field(default="", validation_alias="CORS_ALLOWED_ORIGINS")
    user_pool_id: str = Field(default="", validation_alias="USER_POOL_ID")
    user_pool_client_id: str = Field(default="", validation_alias="USER_POOL_CLIENT_ID")
    # Where the board's browser signs in: empty means Cognito's regional endpoint (the local stack
    # points it at moto).
    cognito_endpoint: str = Field(default="", validation_alias="COGNITO_ENDPOINT")
    # Records written this long before a board's last read are sent again: a record reaches the
    # by-day index a little after it is written (services/api/board.py).
    board_overlap_s: int = Field(default=5, ge=0, le=300, validation_alias="BOARD_OVERLAP_S")
    # Depots whose drivers may choose a photo from the gallery; elsewhere the camera only (a live photo).
    gallery_depots: str = Field(default="", validation_alias="GALLERY_DEPOTS")

    @field_validator("cors_allowed_origins", "gallery_depots")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @property
    def origins(self) -> list[str]:
        return [o for o in self.cors_allowed_origins.split(",") if o]

    @property
    def gallery_depot_ids(self) -> list[str]:
        return [d for d in self.gallery_depots.split(",") if d]

    @property
    def cognito_url(self) -> str:
        return self.cognito_endpoint or f"https://cognito-idp.{self.aws_region}.amazonaws.com/"


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
