"""capture's settings: the table it writes one record per photo to."""

from __future__ import annotations

from pydantic import Field

from shared.settings import FunctionSettings, Resource


class CaptureSettings(FunctionSettings):
    capture_table: Resource = Field(validation_alias="CAPTURE_TABLE")
