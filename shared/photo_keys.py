"""Where a driver's photo lives in the bucket: `photos/{driver_id}/{name}`, the one layout every part
(the uploaders, the upload API, ingest) agrees on."""

from __future__ import annotations

import re

PREFIX = "photos"
DRIVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# The name of an upload the API issued: 128 random bits as lowercase hex, then the extension.
UPLOAD_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def upload_id_of(key: str) -> str | None:
    """The upload id (`{driver_id}.{token}`) a key of the upload API's form names, else None."""
    prefix, _, rest = key.partition("/")
    driver_id, _, name = rest.partition("/")
    token, dot, extension = name.partition(".")
    if prefix != PREFIX or not DRIVER_ID.fullmatch(driver_id) or not dot or "/" in extension:
        return None
    return f"{driver_id}.{token}" if UPLOAD_TOKEN.fullmatch(token) and extension else None
