"""The stretches of time the imported files cover, and how far they reach unbroken from ``since``.

Pure: periods in, instants out. A period is half-open, ``[start, end)``; two periods touching
(one's ``end`` is the next one's ``start``) or overlapping form one unbroken run.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class Content(enum.StrEnum):
    """What a file declares complete for its period."""

    MESSAGES = "messages"
    PRESENCE = "presence"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    start: datetime
    """Inclusive."""
    end: datetime
    """Exclusive."""

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def runs(periods: Iterable[Period]) -> list[Period]:
    """The unbroken runs the periods form, in time order."""
    merged: list[Period] = []
    for period in sorted(periods):
        if merged and period.start <= merged[-1].end:
            if period.end > merged[-1].end:
                merged[-1] = Period(merged[-1].start, period.end)
        else:
            merged.append(period)
    return merged


def reach(periods: Iterable[Period], since: datetime) -> datetime:
    """How far the periods cover time unbroken from ``since``: the end of the run holding
    ``since``, or ``since`` itself when no period covers it (nothing after it is known)."""
    for run in runs(periods):
        if run.start <= since <= run.end:
            return run.end
    return since


def first_gap(periods: Iterable[Period], since: datetime) -> Period | None:
    """The first uncovered stretch after ``since`` that a later period ends, or ``None`` when
    nothing was exported beyond the unbroken run (waiting for the next export is no gap)."""
    ordered = runs(periods)
    reached = reach(ordered, since)
    later = [run.start for run in ordered if run.start > reached]
    return Period(reached, min(later)) if later else None
