"""Putting driver photos into the bucket, as the driver app does."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.contracts import VehicleClass

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


@dataclass(frozen=True)
class Upload:
    path: Path
    key: str
    etag: str

    @property
    def known_class(self) -> VehicleClass | None:
        """The class a labelled sample set gives by folder name (`.../bicycle/x.png`)."""
        for part in reversed(self.path.parts[:-1]):
            if part in VehicleClass._value2member_map_:
                return VehicleClass(part)
        return None


def collect_photos(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders searched recursively for JPEG and PNG files, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(path)
    return found


def photo_key(driver_id: str, path: Path) -> str:
    return f"photos/{driver_id}/{uuid.uuid4().hex}{path.suffix.lower()}"


def upload_photo(s3: Any, bucket: str, path: Path, key: str) -> Upload:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=path.read_bytes(),
        ContentType=content_type,
        Metadata={"original-name": path.name.encode("ascii", "replace").decode()},
    )
    return Upload(path, key, str(response["ETag"]).strip('"'))


def upload_photos(
    s3: Any, bucket: str, paths: list[Path], driver_id: str, *, workers: int = 8
) -> list[Upload]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: upload_photo(s3, bucket, p, photo_key(driver_id, p)), paths))
