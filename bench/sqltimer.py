"""Time every statement the daemon's engine runs, by statement kind and table.

SQLAlchemy's asyncio layer runs its (synchronous) execution path inside greenlets, which a
sampling profiler shows as separate root stacks, cut off from the store method that made
the call. Engine events put the time back where it belongs: for each kind of statement,
how many ran, how long in all, how much of that inside the DBAPI cursor (aiosqlite's thread
and SQLite itself) and therefore how much in SQLAlchemy's Python (building, compiling,
binding), and how often the compiled form was not found in the statement cache.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_KIND = re.compile(
    r"^\s*(INSERT\s+(?:OR\s+\w+\s+)?INTO\s+\"?(\w+)|UPDATE\s+\"?(\w+)|DELETE\s+FROM\s+\"?(\w+)"
    r"|SELECT\b.*?\bFROM\s+\"?(\w+)|PRAGMA\s+(\w+)|(\w+))",
    re.IGNORECASE | re.DOTALL,
)


def kind(statement: str) -> str:
    head = statement[:2000]
    m = _KIND.match(head)
    if not m:
        return head[:40]
    if m.group(2):
        return f"INSERT {m.group(2)}"
    if m.group(3):
        return f"UPDATE {m.group(3)}"
    if m.group(4):
        return f"DELETE {m.group(4)}"
    if m.group(5):
        return f"SELECT {m.group(5)}"
    if m.group(6):
        return f"PRAGMA {m.group(6)}"
    return m.group(7).upper()


class SqlTimer:
    def __init__(self, engine: AsyncEngine, *, active: bool = True) -> None:
        self.sync = engine.sync_engine
        self.active = active
        self.stats: dict[str, dict[str, float]] = defaultdict(
            lambda: {"count": 0, "seconds": 0.0, "cursor_seconds": 0.0, "rows": 0, "not_cached": 0}
        )
        self.listeners = [
            ("before_execute", self._before_execute),
            ("after_execute", self._after_execute),
            ("before_cursor_execute", self._before_cursor),
            ("after_cursor_execute", self._after_cursor),
        ]
        for name, fn in self.listeners:
            event.listen(self.sync, name, fn)

    def close(self) -> None:
        for name, fn in self.listeners:
            event.remove(self.sync, name, fn)

    def _before_execute(self, conn: Any, *args: Any) -> None:
        if self.active:
            conn.info["bench_execute"] = time.perf_counter()

    def _before_cursor(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self.active:
            conn.info["bench_cursor"] = time.perf_counter()

    def _after_cursor(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        started = conn.info.pop("bench_cursor", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        key = kind(statement)
        stats = self.stats[key]
        stats["cursor_seconds"] += elapsed
        rows = _values_rows(statement) if key.startswith("INSERT") else 1
        if many and rows == 1 and parameters:  # a classic executemany: one row per set
            rows = len(parameters)
        # (SQLAlchemy's "insertmanyvalues" batches arrive as one multi-row VALUES statement
        # with a flat parameter tuple, flagged executemany.)
        stats["rows"] += rows
        hit = str(getattr(context, "cache_hit", ""))
        if hit and "HIT" not in hit.upper():
            stats["not_cached"] += 1
        conn.info["bench_key"] = key

    def _after_execute(self, conn: Any, *args: Any) -> None:
        started = conn.info.pop("bench_execute", None)
        key = conn.info.pop("bench_key", None)
        if started is None or key is None:
            return
        stats = self.stats[key]
        stats["count"] += 1
        stats["seconds"] += time.perf_counter() - started

    def report(self) -> list[dict[str, Any]]:
        rows = []
        for key, s in sorted(self.stats.items(), key=lambda kv: -kv[1]["seconds"]):
            rows.append(
                {
                    "statement": key,
                    "executions": int(s["count"]),
                    "rows": int(s["rows"]),
                    "seconds": round(s["seconds"], 3),
                    "cursor_seconds": round(s["cursor_seconds"], 3),
                    "sqlalchemy_seconds": round(max(0.0, s["seconds"] - s["cursor_seconds"]), 3),
                    "not_cached": int(s["not_cached"]),
                }
            )
        return rows


def _values_rows(statement: str) -> int:
    """Rows in a multi-row ``INSERT … VALUES (…), (…)`` statement."""
    at = statement.upper().find(" VALUES ")
    if at < 0:
        return 1
    return max(1, statement.count("),", at) + 1)
