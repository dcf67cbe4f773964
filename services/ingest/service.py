"""ingest: a new upload becomes a classification job, or a rejection with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from services.ingest.domain import PhotoKey, check_issued, driver_of, parse_photo_key
from services.ingest.settings import IngestSettings
from shared.aws.ports import MessageSender, PhotoReader, StoredPhoto, UploadClaims
from shared.contracts import PhotoJob, PhotoRef, PhotoRejected, Rejection, RejectionReason
from shared.imaging import ImageFacts, inspect_photo
from shared.observability import log_photo, record_rejection
from shared.photo_keys import upload_id_of
from shared.rejections import reject
from shared.upload_tickets import UploadReused

# One ranged read: a JPEG's or PNG's header (format, dimensions) and the object's metadata. A JPEG
# whose EXIF block runs past it is read whole.
HEADER_BYTES = 64 * 1024
# What a header cut off by the ranged read looks like to Pillow.
HEADER_CUT_SHORT = frozenset({RejectionReason.NOT_AN_IMAGE, RejectionReason.CORRUPT_IMAGE})


class Ingest:
    """No idempotency guard: a job queued twice costs a second classification, and the router's
    deduplicated publish still gives one decision per photo.

    An upload the API issued (its key names an upload id with a ticket) is claimed before the object is
    read, by the first object ingest sees under it: a second object under the same upload id (the form
    posted twice) is dropped as `upload-reused`, logged and counted, with no decision, so the ticket has
    one. The claimed object must be what was issued (`check_issued`), else `upload-mismatch`."""

    def __init__(
        self,
        *,
        settings: IngestSettings,
        store: PhotoReader,
        classify_queue: MessageSender,
        route_queue: MessageSender,
        logger: Logger,
        tickets: UploadClaims,
    ) -> None:
        self._tickets = tickets
        self._settings = settings
        self._store = store
        self._classify_queue = classify_queue
        self._route_queue = route_queue
        self._logger = logger

    def ingest(self, photo: PhotoRef) -> dict[str, Any]:
        try:
            key = parse_photo_key(photo.key)
            upload_id = upload_id_of(photo.key)
            issued = self._tickets.claim(upload_id, photo.identity) if upload_id else None
            stored = self._store.read(
                photo, max_bytes=self._settings.max_photo_bytes, first_bytes=HEADER_BYTES
            )
            # The name travels with the photo into the decision and the record, not into its identity.
            photo = photo.model_copy(
                update={"original_name": stored.original_name, "depot_id": stored.depot_id}
            )
            if issued is not None:
                check_issued(issued, photo.key, stored.size, stored.content_type, stored.upload_id)
            facts = self._inspect(photo, key, stored)
        except UploadReused as reused:
            rejection = Rejection(
                photo=photo, driver_id=key.driver_id, reason=RejectionReason.UPLOAD_REUSED, detail=str(reused)
            )
            record_rejection(self._logger, rejection)
            return {"outcome": "dropped", "reason": RejectionReason.UPLOAD_REUSED.value}
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
