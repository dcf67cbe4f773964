"""Reading photos from S3."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from shared.aws.ports import StoredPhoto
from shared.contracts import PhotoRef, PhotoRejected, RejectionReason

# User metadata on the object: `x-amz-meta-original-name`, percent-encoded (metadata is ASCII).
ORIGINAL_NAME = "original-name"
# `x-amz-meta-depot-id`: the depot the driver loads at (the API pins it in the upload form's policy).
DEPOT_ID = "depot-id"
# Set by the upload API's presigned form (services/api/photo_links.py).
UPLOAD_ID = "upload-id"


def original_name_metadata(name: str) -> dict[str, str]:
    """The metadata an uploader sets so the photo can be found by the name it gave."""
    return {ORIGINAL_NAME: quote(name, safe=" ()[]-_.,")}


_GONE = {"NoSuchKey", "404", "NotFound", "PreconditionFailed", "412"}


class PhotoStore:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def read(self, photo: PhotoRef, *, max_bytes: int, first_bytes: int | None = None) -> StoredPhoto:
        """The object the event named, while it is still the current one (If-Match on its ETag); only
        its first `first_bytes` when given (one ranged GET: the header and the metadata).

        A photo deleted or replaced before it was processed is rejected as missing, on a versioned bucket
        too (reading by version id would still find a deleted photo's old version).
        """
        extra = {"Range": f"bytes=0-{first_bytes - 1}"} if first_bytes else {}
        try:
            response = self._s3.get_object(
                Bucket=photo.bucket, Key=photo.key, IfMatch=f'"{photo.etag}"', **extra
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                raise PhotoRejected(RejectionReason.OBJECT_MISSING, f"{code} for {photo.key}") from error
            if code == "InvalidRange":  # a ranged read of an empty object
                return StoredPhoto(b"", None, 0)
            raise
        length = int(response.get("ContentLength", 0))
        total = _total_size(response.get("ContentRange"), length)
        if total > max_bytes:
            response["Body"].close()
            raise PhotoRejected(RejectionReason.TOO_LARGE, f"{total} bytes > {max_bytes}")
        data: bytes = response["Body"].read()
        metadata = response.get("Metadata", {})
        name = metadata.get(ORIGINAL_NAME)
        return StoredPhoto(
            data,
            unquote(name) if name else None,
            total,
            depot_id=metadata.get(DEPOT_ID) or None,
            content_type=response.get("ContentType"),
            upload_id=metadata.get(UPLOAD_ID),
        )


def _total_size(content_range: str | None, length: int) -> int:
    """`bytes 0-65535/3145728` → 3145728; without a range, the body's own length."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return length
