"""PostgreSQL only: leases exist for several processes over one database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store import migrate
from daemon.store.engine import create_engine
from tests.conftest import POSTGRES_URL, _reset_postgres


@pytest.fixture
async def pg_url() -> str:
    if POSTGRES_URL is None:
        pytest.skip("SHOPWATCH_TEST_DATABASE_URL is not set")
    await _reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()
