from __future__ import annotations

import json

import pytest

from services.ingest.domain import driver_of, parse_photo_key
from shared.aws.s3_events import photos_in_notification
from shared.contracts import PhotoRejected, RejectionReason


def s3_event(key: str, *, etag: str = "e1", event: str = "ObjectCreated:Put") -> str:
    """The shape moto sends: no userIdentity, requestParameters, responseElements or sequencer."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-11-25T09:00:00.000Z",
                    "eventName": event,
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "photos",
                        "bucket": {"name": "bucket", "arn": "arn:aws:s3:::bucket"},
                        "object": {"key": key, "size": 123, "eTag": etag},
                    },
                }
            ]
        }
    )


def test_a_valid_key_names_the_driver() -> None:
    key = parse_photo_key("photos/driver_42/IMG 0001 (copy).JPG")
    assert key.driver_id == "driver_42"
    assert key.extension == ".jpg"


def test_unicode_and_spaces_in_the_file_name_are_valid() -> None:
    assert parse_photo_key("photos/d-1/vélo de Zoë 🚲.png").filename == "vélo de Zoë 🚲.png"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("uploads/d-1/a.jpg", RejectionReason.BAD_KEY),
        ("photos/d-1/sub/a.jpg", RejectionReason.BAD_KEY),
        ("photos/d-1/", RejectionReason.BAD_KEY),
        ("photos/a.jpg", RejectionReason.BAD_KEY),
        ("photos/../a.jpg", RejectionReason.INVALID_DRIVER_ID),
        ("photos/driver with space/a.jpg", RejectionReason.INVALID_DRIVER_ID),
        ("photos/" + "d" * 65 + "/a.jpg", RejectionReason.INVALID_DRIVER_ID),
        ("photos/d-1/a.txt", RejectionReason.UNSUPPORTED_EXTENSION),
        ("photos/d-1/a.pdf", RejectionReason.UNSUPPORTED_FORMAT),
        ("photos/d-1/IMG_0001.MOV", RejectionReason.UNSUPPORTED_FORMAT),
        ("photos/d-1/scan.tiff", RejectionReason.UNSUPPORTED_FORMAT),
        ("photos/d-1/noextension", RejectionReason.UNSUPPORTED_EXTENSION),
    ],
)
def test_bad_keys_are_rejected_with_their_reason(key: str, reason: RejectionReason) -> None:
    with pytest.raises(PhotoRejected) as rejected:
        parse_photo_key(key)
    assert rejected.value.reason == reason


def test_driver_of_a_rejected_key_is_known_only_when_valid() -> None:
    assert driver_of("photos/d-1/a.gif") == "d-1"
    assert driver_of("elsewhere/a.jpg") == "unknown"


def test_keys_are_decoded_with_unquote_plus() -> None:
    moto_style = photos_in_notification(s3_event("photos%2Fd-1%2Fmy+photo%C3%A9.jpg"))
    assert [p.key for p in moto_style] == ["photos/d-1/my photoé.jpg"]
    photo = moto_style[0]
    assert (photo.bucket, photo.etag, photo.size) == ("bucket", "e1", 123)
    assert photo.uploaded_at.isoformat() == "2026-11-25T09:00:00+00:00"


def test_the_test_event_names_no_photo() -> None:
    assert photos_in_notification(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []


def test_removals_are_not_uploads() -> None:
    assert photos_in_notification(s3_event("photos/d-1/a.jpg", event="ObjectRemoved:Delete")) == []


@pytest.mark.parametrize("body", ["not json", "{}", '{"Records": "nope"}'])
def test_a_malformed_body_raises_so_it_reaches_the_dlq(body: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError)):
        photos_in_notification(body)
