"""Where a driver's photo lives in the bucket: `photos/{driver_id}/{name}`, the one layout every part
(the uploaders, the upload API, ingest) agrees on."""

from __future__ import annotations

import re

PREFIX = "photos"
DRIVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
