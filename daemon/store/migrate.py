"""Bring the schema to the newest revision, from inside the event loop.

Alembic's async template calls ``asyncio.run`` itself; instead we run the upgrade on a
connection we already hold (Alembic cookbook, "sharing a connection"), so ``shopwatch run``
migrates at start and ``shopwatch db upgrade`` uses the very same path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, String, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store.tables import UTCDateTime

MIGRATIONS = Path(str(resources.files("daemon.store") / "migrations"))
"""Alembic needs a directory on disk: the package is installed as files (a wheel, never a
zip import), so the resource is one."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def compare_type(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's type comparison, told that a :class:`UTCDateTime` column is stored as
    DATETIME/TIMESTAMP (what the migrations create) even where it binds text (SQLite)."""
    if isinstance(metadata_type, UTCDateTime):
        return not isinstance(inspected_type, DateTime | String)
    return None  # Alembic's own comparison


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


MIGRATION_LOCK = 0x73686F70_77617463  # "shopwatc": any constant no other program uses
"""The PostgreSQL advisory lock held while migrating."""


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes started together on one database (SPEC §9) migrate one at
            # a time: the others wait here, then find the schema at head.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
