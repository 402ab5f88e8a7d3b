"""Every SQLite connection the daemon opens is set up alike: WAL, NORMAL sync, foreign keys,
a busy timeout, and a write-ahead log that is checkpointed at 64 MiB, not SQLite's 4 MB (a
back-fill's commits checkpointed every few pages) and cut back to that size afterwards."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from daemon.store.engine import WAL_CHECKPOINT_PAGES, WAL_KEPT_BYTES, create_engine


async def test_each_connection_gets_the_daemons_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'settings.db'}")
    try:
        for _ in range(2):  # the pool's connections, not only the first
            async with engine.connect() as conn:
                found = {
                    pragma: (await conn.execute(text(f"PRAGMA {pragma}"))).scalar_one()
                    for pragma in (
                        "journal_mode",
                        "synchronous",
                        "foreign_keys",
                        "busy_timeout",
                        "wal_autocheckpoint",
                        "journal_size_limit",
                    )
                }
                assert found == {
                    "journal_mode": "wal",
                    "synchronous": 1,  # NORMAL
                    "foreign_keys": 1,
                    "busy_timeout": 10000,
                    "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
                    "journal_size_limit": WAL_KEPT_BYTES,
                }
        assert WAL_CHECKPOINT_PAGES * 4096 == WAL_KEPT_BYTES == 64 * 1024 * 1024
    finally:
        await engine.dispose()
