"""Upload ids and what an upload's status is, from its capture record: pure functions.

The server chooses the key, `photos/{driver_id}/{token}{ext}`, and hands the driver the upload id
`{driver_id}.{token}`. The id names its owner, so a request for another driver's upload is told apart
(403) from one for an upload that does not exist (404) without a lookup; the token (128 random bits)
is what cannot be guessed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.api.models import UploadStatus
from shared.answers import answer_line
from shared.contracts import CaptureRecord, Route
from shared.driver_messages import review_sentence_for, sentence_for
from shared.photo_keys import DRIVER_ID, PREFIX
from shared.photo_keys import UPLOAD_TOKEN as TOKEN


@dataclass(frozen=True)
class UploadId:
    driver_id: str
    token: str

    @classmethod
    def new(cls, driver_id: str) -> UploadId:
        return cls(driver_id, secrets.token_hex(16))

    @classmethod
    def chosen(cls, driver_id: str, token: str | None) -> UploadId:
        """The phone's own token (a retry names the same upload, and the same key), or a new one."""
        return cls(driver_id, token) if token and TOKEN.fullmatch(token) else cls.new(driver_id)

    @classmethod
    def of_key(cls, key: str) -> UploadId | None:
        """The upload a photo key was made for: `photos/{driver_id}/{token}.{ext}`."""
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        return cls.parse(f"{parts[1]}.{parts[2].partition('.')[0]}")

    @classmethod
    def parse(cls, text: str) -> UploadId | None:
        driver_id, dot, token = text.partition(".")
        if not dot or not DRIVER_ID.fullmatch(driver_id) or not TOKEN.fullmatch(token):
            return None
        return cls(driver_id, token)

    def __str__(self) -> str:
        return f"{self.driver_id}.{self.token}"

    @property
    def key_prefix(self) -> str:
        return f"{PREFIX}/{self.driver_id}/{self.token}."

    def key(self, extension: str) -> str:
        return f"{self.key_prefix}{extension.lstrip('.')}"


def status_of(upload_id: UploadId, record: CaptureRecord | None) -> UploadStatus:
    """pending until the chain has decided; then routed, manual-review (a dispatcher will look) or
    rejected with its reason and the sentence to show the driver."""
    if record is None:
        return UploadStatus(upload_id=str(upload_id), status="pending")
    common = {
        "upload_id": str(upload_id),
        "outcome": record.outcome,
        "answer": answer_line(record),
        "decided_by": record.decided_by,
        "decided_at": record.decided_at,
    }
    if record.is_routed:
        return UploadStatus(
            status="routed",
            bay=record.bay,
            radius_km=record.radius_km,
            vehicle_class=record.vehicle_class,
            **common,
        )
    if record.outcome == Route.MANUAL_REVIEW:
        return UploadStatus(
            status="manual-review",
            reason=record.reason,
            message=review_sentence_for(record.reason),
            **common,
        )
    return UploadStatus(
        status="rejected",
        reason=record.reason,
        message=sentence_for(record.reason),
        **common,
    )
