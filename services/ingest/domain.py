"""What an upload must look like before it is worth a model call: pure functions, no AWS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from shared.contracts import PhotoRejected, RejectionReason
from shared.formats import ACCEPTED_EXTENSIONS, UNSUPPORTED_EXTENSIONS
from shared.imaging import unsupported
from shared.photo_keys import DRIVER_ID, PREFIX
from shared.upload_tickets import IssuedUpload

EXTENSIONS = ACCEPTED_EXTENSIONS
UNKNOWN_DRIVER = "unknown"


@dataclass(frozen=True)
class PhotoKey:
    driver_id: str
    filename: str

    @property
    def extension(self) -> str:
        return PurePosixPath(self.filename).suffix.lower()


def parse_photo_key(key: str) -> PhotoKey:
    """`photos/{driver_id}/{filename}`; the file name may hold spaces and any unicode."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[2].strip():
        raise PhotoRejected(RejectionReason.BAD_KEY, "expected photos/{driver_id}/{filename}")
    _, driver_id, filename = parts
    if not DRIVER_ID.fullmatch(driver_id):
        raise PhotoRejected(RejectionReason.INVALID_DRIVER_ID, "driver id must be 1-64 of [A-Za-z0-9_-]")
    photo_key = PhotoKey(driver_id, filename)
    if photo_key.extension in UNSUPPORTED_EXTENSIONS:
        raise unsupported(f"{UNSUPPORTED_EXTENSIONS[photo_key.extension]} ({photo_key.extension})")
    if photo_key.extension not in EXTENSIONS:
        raise PhotoRejected(
            RejectionReason.UNSUPPORTED_EXTENSION, f"extension must be one of {sorted(EXTENSIONS)}"
        )
    return photo_key


def driver_of(key: str) -> str:
    """The driver a rejected key belongs to, when it names a valid one."""
    parts = key.split("/")
    if len(parts) >= 2 and parts[0] == PREFIX and DRIVER_ID.fullmatch(parts[1]):
        return parts[1]
    return UNKNOWN_DRIVER


def check_issued(
    issued: IssuedUpload, key: str, size: int | None, content_type: str | None, upload_id: str | None
) -> None:
    """The object is what the upload API issued the form for: its key, declared size and type, and its
    upload id; else an `upload-mismatch` rejection naming what differs."""
    differences = [
        f"{what} is {actual!r}, issued {wanted!r}"
        for what, actual, wanted in (
            ("key", key, issued.key),
            ("size", size, issued.size),
            ("content type", content_type, issued.content_type),
            ("upload id", upload_id, issued.upload_id),
        )
        if actual != wanted
    ]
    if differences:
        raise PhotoRejected(RejectionReason.UPLOAD_MISMATCH, "; ".join(differences))
