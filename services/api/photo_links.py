"""Presigned S3 requests for the people at the edges: the bucket stays private.

A presigned POST, not a PUT: only a POST policy can pin the size (`content-length-range`). The policy
allows exactly what the driver declared, no tolerance: this key, this content type, this many bytes, and
the upload id as the object's `x-amz-meta-upload-id`, which ingest compares with the ticket, and the
driver's depot as `x-amz-meta-depot-id`, which ingest reads into the photo's reference.
`generate_presigned_post` does not copy `Fields` into `Conditions`, so both are given. A SigV4
signature is only as valid as the credentials that made it: on Lambda the role's session outlives
the few minutes a link is meant to live.
"""

from __future__ import annotations

from typing import Any

from shared.upload_tickets import IssuedUpload

UPLOAD_ID_FIELD = "x-amz-meta-upload-id"
DEPOT_ID_FIELD = "x-amz-meta-depot-id"  # shared.aws.photo_store.DEPOT_ID, as a form field


def upload_fields(upload: IssuedUpload) -> dict[str, str]:
    """The form's fields, each pinned by the policy: the type, the upload id, the driver's depot."""
    fields = {"Content-Type": upload.content_type, UPLOAD_ID_FIELD: upload.upload_id}
    if upload.depot_id:
        fields[DEPOT_ID_FIELD] = upload.depot_id
    return fields


def upload_conditions(upload: IssuedUpload) -> list[Any]:
    """The POST policy: this exact key, content type, upload id and depot, and exactly the declared size."""
    return [
        {"key": upload.key},
        *({name: value} for name, value in upload_fields(upload).items()),
        ["content-length-range", upload.size, upload.size],
    ]


class S3PhotoLinks:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def upload_form(self, upload: IssuedUpload, expires_s: int) -> tuple[str, dict[str, str]]:
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=upload.key,
            Fields=upload_fields(upload),
            Conditions=upload_conditions(upload),
            ExpiresIn=expires_s,
        )
        return str(post["url"]), {name: str(value) for name, value in post["fields"].items()}

    def download_url(self, key: str, version_id: str | None, expires_s: int) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        url: str = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        return url

    def exists(self, key_prefix: str) -> bool:
        listing = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key_prefix, MaxKeys=1)
        return int(listing.get("KeyCount", 0)) > 0
