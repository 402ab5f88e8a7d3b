"""Where a Taobao poll stands: the modification window being read and the page within it.

``since``→now is split into windows of at most ``window`` (TOP allows a day and advises 30
minutes). Inside a window TOP lists trades newest modification first, and its docs advise
reading from the last page backwards: a trade modified again while we page leaves the window
(its new ``modified`` lies after the window's end), so the older trades behind it move one
place towards page 1. Read backwards, such a move only makes us read a trade twice; read
forwards it would skip one. The first request of a window therefore reads page 1 just to learn
the page count — its rows are kept only when it is the only page.

Consecutive windows share their boundary second: TOP does not say whether ``end_modified`` is
inclusive, and a trade read twice is de-duplicated downstream while a trade missed is lost.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from connectors.errors import BadResponse


@dataclass(frozen=True, slots=True)
class Cursor:
    until: datetime
    """The end of the whole poll: "now" when its first page was asked for."""
    start: datetime
    end: datetime
    page_no: int | None
    """The page to read next; ``None`` for the first request of the window (read page 1)."""

    @classmethod
    def first(cls, since: datetime, now: datetime, window: timedelta) -> Cursor | None:
        """The first window of a poll, or ``None`` when ``since`` is not in the past."""
        start = _whole_second(since)
        until = _whole_second(now)
        if start >= until:
            return None
        return cls(until=until, start=start, end=min(start + window, until), page_no=None)

    def next_window(self, window: timedelta) -> Cursor | None:
        if self.end >= self.until:
            return None
        return Cursor(
            until=self.until, start=self.end, end=min(self.end + window, self.until), page_no=None
        )

    def at_page(self, page_no: int) -> Cursor:
        return replace(self, page_no=page_no)

    def encode(self) -> str:
        state = {
            "until": int(self.until.timestamp()),
            "start": int(self.start.timestamp()),
            "end": int(self.end.timestamp()),
            "page": self.page_no,
        }
        return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            page = state["page"]
            if page is not None and (not isinstance(page, int) or page < 1):
                raise ValueError("page")
            return cls(
                until=_instant(state["until"]),
                start=_instant(state["start"]),
                end=_instant(state["end"]),
                page_no=page,
            )
        except (ValueError, KeyError, TypeError) as exc:  # binascii and JSON errors are ValueErrors
            message = f"not a token this source issued ({exc})"
            raise BadResponse(message, field="page_token") from None


def _whole_second(moment: datetime) -> datetime:
    """TOP times have whole seconds; rounding down keeps ``since`` inclusive."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _instant(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected epoch seconds")
    return datetime.fromtimestamp(value, UTC)
