"""What the upload API issued for one upload, and the two ways a driver's upload is turned away before it
is decided: a reused upload (a second object under an upload id already used) and too many new uploads.

An upload id is `{driver_id}.{token}` and its key `photos/{driver_id}/{token}.{ext}` (`photo_keys`), so
ingest finds the ticket from the key alone, before it reads the object.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.photo_keys import upload_id_of


@dataclass(frozen=True)
class IssuedUpload:
    """One presigned upload as the API issued it: exactly this key, this size and this content type."""

    upload_id: str
    driver_id: str
    key: str
    content_type: str
    size: int
    # The driver's depot, pinned in the form as the object's `depot-id` metadata (None: the default).
    depot_id: str | None = None

    def __post_init__(self) -> None:
        if upload_id_of(self.key) != self.upload_id:
            raise ValueError(f"key {self.key!r} is not the key of upload {self.upload_id!r}")


@dataclass(frozen=True)
class TicketUse:
    """What the uploads table says of one upload id: whether the API issued it, and the identity of
    the photo that used it (None until ingest has claimed it)."""

    issued: bool
    photo_identity: str | None = None


class UploadReused(Exception):
    """Another object already used this upload id: the ticket has had its one decision."""

    def __init__(self, upload_id: str, used_by: str) -> None:
        super().__init__(f"upload {upload_id} was already used by {used_by}")
        self.upload_id = upload_id
        self.used_by = used_by


class TooManyUploads(Exception):
    """A driver started more uploads in this minute than the limit allows."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(f"at most {limit} new uploads a minute; try again in {retry_after_s} s")
        self.limit = limit
        self.retry_after_s = retry_after_s
