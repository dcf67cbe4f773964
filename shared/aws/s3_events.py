"""S3 event notifications, as SQS delivers them, read into the photos they name (the wire format; the
ingest domain sees only `PhotoRef`s)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from shared.contracts import PhotoRef


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
