"""Engine creation: SQLite (aiosqlite, WAL) by default, PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.compiler import SQLCompiler

WAL_CHECKPOINT_PAGES = 16384
"""Pages (4 KiB each: 64 MiB) the write-ahead log may hold before a commit copies them into
the database file. At SQLite's default, 1,000, a back-fill's commits checkpointed every few
pages of 500 records, copying and syncing the same index pages again and again: commits
took 15.7 s of a quarter-size back-fill's 44 s of ingest, which is 36 s at this size."""
WAL_KEPT_BYTES = WAL_CHECKPOINT_PAGES * 4096
"""After a checkpoint the log is cut back to this, so a burst does not leave a large file."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the HTTP API read while a poll writes; NORMAL is durable across crashes
    # of the process (only an OS crash can lose the last transactions, which re-polling
    # restores since the watermark is written in the same transaction as the data).
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=10000",
        f"wal_autocheckpoint={WAL_CHECKPOINT_PAGES}",
        f"journal_size_limit={WAL_KEPT_BYTES}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _with_table_hints(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    """SQLAlchemy's SQLite compiler drops a table hint (``Select.with_hint(table, text,
    "sqlite")``); this one writes it after the table's name, where SQLite's own hint,
    ``INDEXED BY``, goes. SQLite keeps no statistics to choose an index by, so a query that
    knows better names it (the console's ledger, :mod:`daemon.console.listing`)."""

    class Compiler(compiler):  # type: ignore[valid-type,misc]
        def get_from_hint_text(self, table: Any, text: str) -> str:
            return text

    return Compiler


ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
"""A URL without a driver (``postgresql://…``, ``sqlite:///…``) gets the asyncio one."""


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An engine whose errors never carry bound parameters (``hide_parameters``): a failed
    INSERT would otherwise put buyers' messages and ids into the log."""
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        engine.dialect.statement_compiler = _with_table_hints(engine.dialect.statement_compiler)
    return engine
