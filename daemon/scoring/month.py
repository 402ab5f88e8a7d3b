"""The calendar month, ``YYYY-MM``: scores, ladders, probation and conversion are all
counted per month in the shop's timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"(\d{4})-(\d{2})")


class NotAMonth(ValueError):
    """Text that is not a ``YYYY-MM`` month."""


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month, ``YYYY-MM``. Its bounds are local midnights in the shop's zone."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            raise NotAMonth("expected YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime | date, timezone: ZoneInfo | None = None) -> Month:
        """The month of a local date, or of an aware instant read in ``timezone``."""
        if isinstance(moment, datetime):
            if timezone is None or moment.tzinfo is None:
                raise ValueError("an instant needs an aware datetime and the shop's timezone")
            moment = moment.astimezone(timezone).date()
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def previous(self) -> Month:
        return self.plus(-1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def days(self) -> list[date]:
        end = self.plus(1).first_day()
        day, result = self.first_day(), []
        while day < end:
            result.append(day)
            day += timedelta(days=1)
        return result

    def start(self, timezone: ZoneInfo) -> datetime:
        """Local midnight of the first day, as UTC."""
        return local_midnight(self.first_day(), timezone)

    def end(self, timezone: ZoneInfo) -> datetime:
        """Local midnight of the next month's first day, as UTC (exclusive)."""
        return self.plus(1).start(timezone)


def local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)
