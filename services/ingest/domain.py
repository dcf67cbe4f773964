"""What an upload must look like before it is worth a model call: pure functions, no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from shared.contracts import PhotoRef, RejectionReason
from shared.formats import ACCEPTED_EXTENSIONS, UNSUPPORTED_EXTENSIONS
from shared.imaging import PhotoRejected, unsupported
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


def photos_in_notification(body: str) -> list[PhotoRef]:
    """The uploads an S3 event notification names. `s3:TestEvent` names none.

    Keys arrive URL-encoded (AWS writes spaces as `+`, moto also encodes `/`): always `unquote_plus`.
    Powertools' lenient `S3Event` data class reads both AWS's and moto's records (its strict parser
    model rejects moto's, which lack `userIdentity`, `sequencer` and others).
    """
    payload = json.loads(body)
    if payload.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in payload:
        raise ValueError("not an S3 event notification: no Records")
    photos = []
    for record in S3Event(payload).records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        s3_object = record.s3.get_object
        photos.append(
            PhotoRef(
                bucket=record.s3.bucket.name,
                key=unquote_plus(s3_object.key),
                etag=(s3_object.etag or "").strip('"'),
                version_id=s3_object.version_id or None,
                size=int(s3_object.size or 0),
                uploaded_at=datetime.fromisoformat(record.event_time.replace("Z", "+00:00")),
            )
        )
    return photos


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
