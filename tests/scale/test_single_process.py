"""With SQLite a second ``shopwatch run`` on the same file is refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.app import Daemon
from daemon.simulator.world import World
from daemon.store.single_process import DatabaseInUse, SingleProcessLock
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for
from tests.daemon.shop import simulator


def test_the_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    database = tmp_path / "shopwatch.db"
    first, second = SingleProcessLock(database), SingleProcessLock(database)
    first.acquire()
    with pytest.raises(DatabaseInUse, match=r"only one may.*PostgreSQL"):
        second.acquire()
    first.release()
    second.acquire()  # free again once the first process is gone
    second.release()


async def test_a_second_daemon_on_one_sqlite_file_is_refused(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with simulator(World()) as base_url:
        url = f"sqlite+aiosqlite:///{tmp_path / 'shopwatch.db'}"
        settings = settings_for(tmp_path, database_url=url, base_url=base_url)
        first, second = Daemon(settings, clock=clock), Daemon(settings, clock=clock)
        try:
            await first.start()
            with pytest.raises(DatabaseInUse, match="another shopwatch process"):
                await second.start()
        finally:
            await second.stop()
            await first.stop()
