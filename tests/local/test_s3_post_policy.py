"""The local S3 checks presigned POST forms as S3 does: forms made by boto3's `generate_presigned_post`
(what the API hands a phone), posted to `python -m local.motoserver`, and checked in-process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from local.processes import HOST, free_port, stop_processes, wait_for_http
from local.s3_post_policy import PostForm, PostRefused, check_post

BUCKET = "photos"
KEY = "photos/d-001/0123456789abcdef0123456789abcdef.jpg"
SECRETS = {"testing": "testing"}
PHOTO = b"\xff\xd8\xff" + b"x" * 97  # 100 bytes


def s3_client(url: str | None = None) -> Any:
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=url or "http://127.0.0.1:1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


def presigned(s3: Any, *, size: int = len(PHOTO), expires_s: int = 300) -> dict[str, Any]:
    post: dict[str, Any] = s3.generate_presigned_post(
        Bucket=BUCKET,
        Key=KEY,
        Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"key": KEY}, {"Content-Type": "image/jpeg"}, ["content-length-range", size, size]],
        ExpiresIn=expires_s,
    )
    return post


def form(fields: dict[str, str], size: int = len(PHOTO), bucket: str = BUCKET) -> PostForm:
    return PostForm(bucket=bucket, fields={k.lower(): v for k, v in fields.items()}, file_size=size)


def refusal(fields: dict[str, str], size: int = len(PHOTO), bucket: str = BUCKET) -> tuple[int, str]:
    with pytest.raises(PostRefused) as refused:
        check_post(form(fields, size, bucket), SECRETS)
    return refused.value.status, refused.value.code


def test_a_form_as_issued_passes_and_every_change_is_refused() -> None:
    # GIVEN a form for exactly 100 bytes of JPEG at one key
    fields = presigned(s3_client())["fields"]
    check_post(form(fields), SECRETS)  # as issued: stored
    # WHEN the key, the type, the size, the bucket, the signature or the secret change
    # THEN S3's refusal comes back for each
    assert refusal({**fields, "key": "photos/d-666/0123456789abcdef0123456789abcdef.jpg"}) == (
        403,
        "AccessDenied",
    )
    assert refusal({**fields, "key": "photos/d-001/../d-666/x.jpg"}) == (403, "AccessDenied")
    assert refusal({**fields, "Content-Type": "text/html"}) == (403, "AccessDenied")
    assert refusal(fields, size=len(PHOTO) + 1) == (400, "EntityTooLarge")
    assert refusal(fields, size=len(PHOTO) - 1) == (400, "EntityTooSmall")
    assert refusal(fields, bucket="other") == (403, "AccessDenied")
    assert refusal({**fields, "x-amz-signature": "0" * 64}) == (403, "SignatureDoesNotMatch")
    assert refusal({**fields, "x-amz-meta-driver": "d-666"}) == (403, "AccessDenied")  # not in the policy
    with pytest.raises(PostRefused) as unknown:
        check_post(form(fields), {"someone": "else"})
    assert unknown.value.code == "InvalidAccessKeyId"


def test_an_expired_form_and_a_policy_changed_after_signing_are_refused() -> None:
    # GIVEN a form
    fields = presigned(s3_client())["fields"]
    # WHEN it is posted after its expiration THEN it is refused
    later = datetime.now(UTC) + timedelta(seconds=301)
    with pytest.raises(PostRefused) as expired:
        check_post(form(fields), SECRETS, now=later)
    assert (expired.value.status, expired.value.code) == (403, "AccessDenied")
    assert "expired" in expired.value.message
    # WHEN its policy is widened to any size and any key THEN the signature no longer matches
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not isinstance(c, list)]
    widened = base64.b64encode(json.dumps(policy).encode()).decode()
    assert refusal({**fields, "policy": widened}, size=10_000_000) == (403, "SignatureDoesNotMatch")
    # AND a form with no policy at all is refused
    assert refusal({"key": KEY}) == (403, "AccessDenied")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.motoserver", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{url}/moto-api/", 60, process)
        s3_client(url).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        stop_processes(process)


def post(ticket: dict[str, Any], fields: dict[str, str], body: bytes = PHOTO) -> requests.Response:
    return requests.post(ticket["url"], data=fields, files={"file": ("photo.jpg", body)}, timeout=10)


def stored(url: str) -> list[str]:
    listing = s3_client(url).list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_the_local_s3_refuses_what_s3_refuses_and_stores_nothing(moto_url: str) -> None:
    # GIVEN a form the API would issue, against the local stack's S3
    s3 = s3_client(moto_url)
    ticket = presigned(s3)
    fields: dict[str, str] = ticket["fields"]
    # WHEN the key, the type or the size is changed, or the form has expired
    # THEN each is refused with S3's status and XML error, and nothing is stored
    changed_key = post(ticket, {**fields, "key": "photos/d-666/0123456789abcdef0123456789abcdef.jpg"})
    wrong_type = post(ticket, {**fields, "Content-Type": "image/png"})
    too_large = post(ticket, fields, PHOTO + b"x" * 3_000_000)
    expired = post(presigned(s3, expires_s=-1), presigned(s3, expires_s=-1)["fields"])
    for answer, status, code in (
        (changed_key, 403, "AccessDenied"),
        (wrong_type, 403, "AccessDenied"),
        (too_large, 400, "EntityTooLarge"),
        (expired, 403, "AccessDenied"),
    ):
        assert answer.status_code == status, answer.text
        assert f"<Code>{code}</Code>" in answer.text
    assert stored(moto_url) == []
    # WHEN the form is posted as issued THEN it is stored, with its type
    assert post(ticket, fields).status_code == 204
    assert stored(moto_url) == [KEY]
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["ContentType"] == "image/jpeg"
    # AND a signed PutObject (not a form) is untouched by the check
    s3.put_object(Bucket=BUCKET, Key="photos/d-001/direct.jpg", Body=PHOTO)
    assert "photos/d-001/direct.jpg" in stored(moto_url)
