"""In-memory stand-ins for the API's ports (shared/aws/ports.py: `ReviewRecords`, `PhotoLinks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.aws.ports import UNPUBLISHED
from shared.contracts import CaptureRecord, Claim, Route
from shared.upload_tickets import IssuedUpload, TicketUse, TooManyUploads


@dataclass
class FakeReviewRecords:
    """The capture table as the API uses it, with the same conditions as its conditional writes."""

    records: dict[str, CaptureRecord] = field(default_factory=dict)
    # The outbox: photo id → the number of its review recorded and not yet published.
    unpublished: dict[str, int] = field(default_factory=dict)

    def put(self, record: CaptureRecord) -> None:
        self.records[record.photo_id] = record

    def get(self, photo_id: str) -> CaptureRecord | None:
        return self.records.get(photo_id)

    def find_by_key_prefix(self, driver_id: str, key_prefix: str) -> CaptureRecord | None:
        found = [
            r
            for r in self.records.values()
            if r.driver_id == driver_id and r.photo_key.startswith(key_prefix)
        ]
        return max(found, key=lambda r: r.decided_at, default=None)

    def for_driver(
        self, driver_id: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[CaptureRecord]:
        found = sorted(
            (
                r
                for r in self.records.values()
                if r.driver_id == driver_id and (since is None or r.decided_at >= since)
            ),
            key=lambda r: r.decided_at,
        )
        return found[::-1][:limit]

    def in_window(
        self, since: datetime, until: datetime, *, depot_id: str | None = None
    ) -> list[CaptureRecord]:
        found = [r for r in self.records.values() if since <= r.decided_at < until]
        if depot_id is not None:
            found = [r for r in found if r.depot_id == depot_id]
        return sorted(found, key=lambda r: r.decided_at)

    def put_decision(self, reviewed: CaptureRecord) -> bool:
        review = reviewed.review
        assert review is not None
        current = self.records.get(reviewed.photo_id)
        if current is None:
            return False
        if review.replaces is None:
            decided = current.review is None and current.outcome == Route.MANUAL_REVIEW
        else:
            decided = current.review is not None and current.review.number == review.replaces
        claim = current.claim
        free = claim is None or claim.until < review.reviewed_at or claim.by == review.reviewer
        if not (decided and free):
            return False
        self.records[reviewed.photo_id] = reviewed  # a decision ends the lease, as the table's put does
        self.unpublished[reviewed.photo_id] = review.number
        return True

    def mark_published(self, photo_id: str, review_number: int) -> None:
        if self.unpublished.get(photo_id) == review_number:
            del self.unpublished[photo_id]

    def claim(self, photo_id: str, by: str, until: datetime, now: datetime) -> Claim | None:
        current = self.records.get(photo_id)
        if current is None:
            return None
        held = current.claim
        if held is not None and held.until >= now and held.by != by:
            return held
        self.records[photo_id] = current.model_copy(update={"claim": Claim(by=by, until=until)})
        return Claim(by=by, until=until)

    def release(self, photo_id: str, by: str) -> None:
        current = self.records.get(photo_id)
        if current is not None and current.claim is not None and current.claim.by == by:
            self.records[photo_id] = current.model_copy(update={"claim": None})

    def open_items(self, kind: str, *, depot_id: str | None = None) -> list[CaptureRecord]:
        if kind == UNPUBLISHED:
            found = [self.records[p] for p in self.unpublished]
        else:
            found = [r for r in self.records.values() if r.is_open_review]
        if depot_id is not None:
            found = [r for r in found if r.depot_id == depot_id]
        return sorted(found, key=lambda r: r.decided_at)


@dataclass
class FakePhotoLinks:
    forms: list[IssuedUpload] = field(default_factory=list)
    uploaded: set[str] = field(default_factory=set)

    def upload_form(self, upload: IssuedUpload, expires_s: int) -> tuple[str, dict[str, str]]:
        self.forms.append(upload)
        return "https://photos.example/", {"key": upload.key, "Content-Type": upload.content_type}

    def download_url(self, key: str, version_id: str | None, expires_s: int) -> str:
        return f"https://photos.example/{key}?expires={expires_s}"

    def exists(self, key_prefix: str) -> bool:
        return any(key.startswith(key_prefix) for key in self.uploaded)


@dataclass
class FakeUploadTickets:
    """The uploads table as the API writes it: the tickets issued, and a per-driver count."""

    issued: list[IssuedUpload] = field(default_factory=list)
    started: dict[str, int] = field(default_factory=dict)
    # upload id -> the identity of the photo ingest claimed it for
    used_by: dict[str, str] = field(default_factory=dict)

    def start(self, driver_id: str, per_minute: int) -> None:
        count = self.started.get(driver_id, 0) + 1
        if count > per_minute:
            raise TooManyUploads(per_minute, 60)
        self.started[driver_id] = count

    def issue(self, upload: IssuedUpload) -> None:
        self.issued.append(upload)

    def use_of(self, upload_id: str) -> TicketUse:
        issued = any(upload.upload_id == upload_id for upload in self.issued)
        return TicketUse(issued=issued, photo_identity=self.used_by.get(upload_id))
