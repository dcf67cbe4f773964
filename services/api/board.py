"""The dispatch board from capture records: pure functions of the records and a cursor.

The cursor says what the client has seen: the newest decision time and when it read. A record is
written (`captured_at`) a little after its decision time, since the capture queue sits between, and
shows in the by-day index a little after that. So a change is a record decided after the newest the
client saw, or written since `overlap` before its last read; the query reaches back `LATE_WRITES`
in decision time for the second kind. A review or correction moves its record's decision time to its
own, so a decided item comes back as a change. The client merges by photo id: a repeat is harmless.
The open reviews are not read from the window: every answer carries all of them, whatever their age,
from the sparse index of open items, longest-waiting first; the client replaces its lane with them.
A decision captured more than `LATE_WRITES` after it was made (a redriven DLQ message) shows at the
next full load, not as a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from services.api.models import Board, BoardItem
from shared.contracts import CaptureRecord, Route

LATE_WRITES = timedelta(minutes=5)


class BadCursor(ValueError):
    """The cursor is not one the board gave out."""


def start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.astimezone(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Cursor:
    newest: datetime  # the newest decision time the client has
    read_at: datetime  # when the client last read

    @classmethod
    def parse(cls, text: str) -> Cursor:
        newest, sep, read_at = text.partition("~")
        try:
            if not sep:
                raise ValueError("no separator")
            return cls(_time(newest), _time(read_at))
        except ValueError:
            raise BadCursor(f"not a board cursor: {text!r}") from None

    def __str__(self) -> str:
        return f"{_text(self.newest)}~{_text(self.read_at)}"

    def is_change(self, record: CaptureRecord, overlap: timedelta) -> bool:
        return record.decided_at > self.newest or record.captured_at >= self.read_at - overlap


def window(now: datetime, cursor: Cursor | None) -> tuple[datetime, datetime]:
    """Which decision times to read: the whole board, or what may have changed since the cursor."""
    earliest = start_of_day(now)
    since = earliest if cursor is None else max(earliest, min(cursor.newest, cursor.read_at) - LATE_WRITES)
    # A decision stamped by a clock slightly ahead of this one still shows.
    return since, now + timedelta(minutes=5)


def build_board(
    records: Iterable[CaptureRecord],
    waiting: Iterable[CaptureRecord],
    now: datetime,
    cursor: Cursor | None,
    overlap: timedelta,
    *,
    depot_id: str,
    bay_names: dict[str, str] | None = None,
) -> Board:
    """Today's decisions (all, or what changed since the cursor) and every open review in `waiting`."""
    today = start_of_day(now)
    newest = cursor.newest if cursor else today
    bays: dict[str, list[BoardItem]] = {}
    rejected: list[BoardItem] = []
    for record in sorted(records, key=lambda r: r.decided_at, reverse=True):
        newest = max(newest, record.decided_at)
        if record.is_open_review or (cursor is not None and not cursor.is_change(record, overlap)):
            continue
        item = BoardItem.of(record, now)
        if record.decided_at < today:
            continue
        if record.is_routed and record.bay:
            bays.setdefault(record.bay, []).append(item)
        elif record.outcome == Route.REJECTED:
            rejected.append(item)
    # The longest-waiting driver first.
    manual = [BoardItem.of(r, now) for r in sorted(waiting, key=lambda r: r.uploaded_at) if r.is_open_review]
    return Board(
        depot_id=depot_id,
        day=today.date().isoformat(),
        cursor=str(Cursor(newest, now)),
        full=cursor is None,
        bays=dict(sorted(bays.items())),
        manual_review=manual,
        rejected=rejected,
        oldest_waiting_s=manual[0].waiting_s if manual else None,
        bay_names=bay_names or {},
    )
