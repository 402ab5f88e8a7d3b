"""Shared fixtures: the store on SQLite and (when configured) PostgreSQL, a fake clock.

``SHOPWATCH_TEST_DATABASE_URL`` turns on the PostgreSQL half of every store test.
``SHOPWATCH_REQUIRE_INTEGRATION=1`` (set by ``.ci/run``) turns every skip into a failure:
in CI the tests that need PostgreSQL, Prometheus or Alertmanager must run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store import migrate
from daemon.store.engine import create_engine

POSTGRES_URL = os.environ.get("SHOPWATCH_TEST_DATABASE_URL")
REQUIRE_INTEGRATION = os.environ.get("SHOPWATCH_REQUIRE_INTEGRATION") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_INTEGRATION and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but CI requires every test to run: {reason}"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # 10:00 in Asia/Shanghai, a Monday


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def database_urls(tmp_path: Path) -> dict[str, str | None]:
    return {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'shopwatch.db'}",
        "postgresql": POSTGRES_URL,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: SQLite always, PostgreSQL when configured."""
    url = database_urls(tmp_path)[request.param]
    if url is None:
        pytest.skip("SHOPWATCH_TEST_DATABASE_URL is not set")
    if request.param == "postgresql":
        await _reset_postgres(url)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


def move_schema(connection: Connection, to: str, down: bool) -> None:
    """Migrate the database on ``connection`` down to revision ``to`` or up to it (for
    ``AsyncConnection.run_sync``): the migration tests' one way of moving."""
    config = migrate.alembic_config()
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, to)
