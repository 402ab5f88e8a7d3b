"""The connectors' time source: one function, injected wherever a test needs to set the time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current instant, timezone-aware UTC."""


def utc_now() -> datetime:
    return datetime.now(UTC)
