"""`driver-routing evaluate --reviews --plot FILE.png`: the dispatchers' week, day by day: how many photos
they reviewed, how often the model's answer was theirs, and how many of its answers they overturned.

Counted by the day of the review (UTC), from the capture records `live_accuracy` reads. The drawing
needs matplotlib (the `plot` extra); the counting does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from driver_routing.live_accuracy import same_answer
from shared.contracts import CaptureRecord

WEEK = 7
PLOT_EXTRA = "plot"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed: the message says which extra brings it."""


@dataclass(frozen=True)
class ReviewDay:
    day: date
    reviewed: int
    agreed: int

    @property
    def overturned(self) -> int:
        return self.reviewed - self.agreed

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


def review_days(records: Iterable[CaptureRecord], last_day: date, days: int = WEEK) -> list[ReviewDay]:
    """One entry per day of the `days` ending on `last_day`, days without reviews included."""
    first = last_day - timedelta(days=days - 1)
    reviewed = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    agreed = dict(reviewed)
    for record in records:
        if record.review is None:
            continue
        day = record.review.reviewed_at.date()
        if day not in reviewed:
            continue
        reviewed[day] += 1
        if (record.model_answer or "unknown") == same_answer(record.review.label):
            agreed[day] += 1
    return [ReviewDay(day, reviewed[day], agreed[day]) for day in reviewed]


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            f"--plot needs the '{PLOT_EXTRA}' extra (matplotlib is not installed): "
            f"pip install 'driver-routing[{PLOT_EXTRA}]'"
        ) from None


def plot_week(days: list[ReviewDay], path: Path) -> None:
    """Bars: each day's reviews, agreed and overturned stacked; a line: the day's agreement."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels = [d.day.strftime("%a %d") for d in days]
    agreed = [d.agreed for d in days]
    overturned = [d.overturned for d in days]
    figure, counts = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        counts.bar(labels, agreed, color="#4c9a2a", label="agreed with the model")
        counts.bar(labels, overturned, bottom=agreed, color="#c0392b", label="overturned the model")
        counts.set_ylabel("photos reviewed")
        counts.yaxis.set_major_locator(MaxNLocator(integer=True))
        counts.set_ylim(0, max([d.reviewed for d in days] + [1]) * 1.15)
        share = counts.twinx()
        share.plot(
            labels,
            [d.agreement * 100 if d.agreement is not None else float("nan") for d in days],
            color="#1f4e79",
            marker="o",
            label="agreement (%)",
        )
        share.set_ylim(0, 105)
        share.set_ylabel("agreement (%)")
        first, last = days[0].day.isoformat(), days[-1].day.isoformat()
        total = sum(d.reviewed for d in days)
        counts.set_title(f"Dispatchers' reviews, {first} to {last} (UTC): {total} photos")
        handles = counts.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
        counts.legend(handles=handles, loc="upper left", fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
