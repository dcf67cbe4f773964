"""ingest: a new upload becomes a classification job, or a rejection with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from services.ingest.domain import PhotoKey, driver_of, parse_photo_key
from shared.aws.ports import MessageSender, PhotoReader, StoredPhoto
from shared.contracts import PhotoJob, PhotoRef, PhotoRejected, RejectionReason
from shared.imaging import ImageFacts, inspect_photo
from shared.observability import log_photo
from shared.rejections import reject
from shared.settings import Settings

# One ranged read: a JPEG's or PNG's header (format, dimensions) and the object's metadata. A JPEG
# whose EXIF block runs past it is read whole.
HEADER_BYTES = 64 * 1024
# What a header cut off by the ranged read looks like to Pillow.
HEADER_CUT_SHORT = frozenset({RejectionReason.NOT_AN_IMAGE, RejectionReason.CORRUPT_IMAGE})


class Ingest:
    """No idempotency guard: a job queued twice costs a second classification, and the router's
    deduplicated publish still gives one decision per photo."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: PhotoReader,
        classify_queue: MessageSender,
        route_queue: MessageSender,
        logger: Logger,
    ) -> None:
        self._settings = settings
        self._store = store
        self._classify_queue = classify_queue
        self._route_queue = route_queue
        self._logger = logger

    def ingest(self, photo: PhotoRef) -> dict[str, Any]:
        try:
            key = parse_photo_key(photo.key)
            stored = self._store.read(
                photo, max_bytes=self._settings.max_photo_bytes, first_bytes=HEADER_BYTES
            )
            # The name travels with the photo into the decision and the record, not into its identity.
            photo = photo.model_copy(
                update={"original_name": stored.original_name, "depot_id": stored.depot_id}
            )
            facts = self._inspect(photo, key, stored)
        except PhotoRejected as rejected:
            return reject(self._route_queue, self._logger, photo, driver_of(photo.key), rejected)
        job = PhotoJob(
            photo=photo,
            driver_id=key.driver_id,
            content_type=facts.content_type,
            width=facts.width,
            height=facts.height,
        )
        self._classify_queue.send(job)
        log_photo(
            self._logger, "photo queued for classification", photo, width=facts.width, height=facts.height
        )
        return {"outcome": "queued"}

    def _inspect(self, photo: PhotoRef, key: PhotoKey, stored: StoredPhoto) -> ImageFacts:
        limits = {"max_bytes": self._settings.max_photo_bytes, "max_pixels": self._settings.max_photo_pixels}
        try:
            return inspect_photo(stored.data, extension=key.extension, size=stored.size, **limits)
        except PhotoRejected as rejected:
            partial = stored.size is not None and stored.size > len(stored.data)
            if rejected.reason not in HEADER_CUT_SHORT or not partial:
                raise
        whole = self._store.read(photo, max_bytes=self._settings.max_photo_bytes)
        return inspect_photo(whole.data, extension=key.extension, size=whole.size, **limits)
