"""Shared helpers for the platform connector tests: fixtures on disk and a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load_fixture(platform: str, name: str) -> Any:
    """A recorded-shape JSON body from ``tests/fixtures/<platform>/<name>``."""
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


def utc(text: str) -> datetime:
    """``"2025-03-01T02:15:00"`` as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
