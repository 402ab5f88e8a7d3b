"""Shared helpers for the platform connector tests: fixtures on disk, a fixed clock and a
kind's options read the way the config reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.model import Stream
from connectors.registry import lookup
from daemon.config.options import options_from_table
from daemon.config.toml_table import TomlTable

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


def read_options(kind: str, stream: Stream, keys: dict[str, Any]) -> Any:
    """The kind's options built from a stream table holding ``keys`` (as TOML would give
    them), by the config's own reader; a bad key raises its ConfigError."""
    options_type = lookup(kind, stream).options_type
    table = TomlTable(keys, "", "test.toml")
    return options_from_table(options_type, table, owner=f"kind {kind!r}")
