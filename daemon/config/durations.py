"""Durations as people write them in the config: ``"30s"``, ``"60m"``, ``"1h30m"``, ``"2d"``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_duration(text: str) -> timedelta:
    """Parse ``"90s"``, ``"1h30m"`` … ; raises ValueError saying what is accepted."""
    compact = text.strip().replace(" ", "")
    parts = list(_PART.finditer(compact))
    if not compact or "".join(p.group(0) for p in parts) != compact:
        raise ValueError(
            f"{text!r} is not a duration; write a number with a unit, "
            'e.g. "30s", "60m", "1h30m", "2d" (units: ms, s, m, h, d, w)'
        )
    total = timedelta()
    for part in parts:
        total += float(part.group(1)) * _UNITS[part.group(2)]
    return total


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling, for printing options back to people."""
    seconds = value.total_seconds()
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
