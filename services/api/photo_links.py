"""Presigned S3 requests for the people at the edges: the bucket stays private.

A presigned POST, not a PUT: only a POST policy can cap the size (`content-length-range`).
`generate_presigned_post` does not copy `Fields` into `Conditions`, so both are given. A SigV4
signature is only as valid as the credentials that made it: on Lambda the role's session outlives
the few minutes a link is meant to live.
"""

from __future__ import annotations

from typing import Any


def upload_conditions(
    key: str, content_type: str, max_bytes: int, metadata: dict[str, str] | None = None
) -> list[Any]:
    """The POST policy: this exact key, this content type, 1..max_bytes, and the metadata as given."""
    pinned: list[Any] = [{f"x-amz-meta-{name}": value} for name, value in (metadata or {}).items()]
    return [{"key": key}, {"Content-Type": content_type}, *pinned, ["content-length-range", 1, max_bytes]]


class S3PhotoLinks:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def upload_form(
        self, key: str, content_type: str, max_bytes: int, expires_s: int, metadata: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        fields = {"Content-Type": content_type, **{f"x-amz-meta-{n}": v for n, v in metadata.items()}}
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields=fields,
            Conditions=upload_conditions(key, content_type, max_bytes, metadata),
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
