"""Storage faults: nothing is marked done before it is durably written, and the daemon says
it is not ready while it cannot write.

A ledger write that fails (a full disk: SQLite's "database or disk is full") must leave every
subject of that evaluation to be judged again; once the write succeeds, the ledger holds
exactly what a fault-free run records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from daemon.simulator.world import World
from tests.conftest import FakeClock
from tests.daemon.shop import local, story
from tests.daemon.test_end_to_end import daemon_for, run_once


def ledger_keys(violations: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return sorted((v["rule"], v["subject"]["id"], v["agent"]) for v in violations)


class FullDisk:
    """Fails the wrapped ledger write while ``full`` is set, as SQLite does on a full disk."""

    def __init__(self, write: Any) -> None:
        self.write = write
        self.full = True
        self.failed = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.full:
            self.failed += 1
            raise OperationalError(
                "INSERT INTO violations", {}, Exception("database or disk is full")
            )
        return await self.write(*args, **kwargs)


async def test_a_failed_ledger_write_loses_nothing_and_reads_not_ready(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    (tmp_path / "control").mkdir()
    async with daemon_for(world, clock, tmp_path / "control") as control:
        await run_once(control)
        expected = ledger_keys(await control.ledger.find())
    assert expected
    (tmp_path / "faulty").mkdir()
    async with daemon_for(world, clock, tmp_path / "faulty") as daemon:
        disk = FullDisk(daemon.ledger.record_many)
        monkeypatch.setattr(daemon.ledger, "record_many", disk)
        daemon.ready = True  # as after start: only the fault may take readiness away
        await run_once(daemon)
        assert disk.failed >= 1
        assert await daemon.ledger.find() == []
        ready, details = daemon.readiness()
        assert not ready and "database or disk is full" in str(details["evaluation"])
        assert "NOT READY" in daemon.status_line()

        await daemon.tick()  # still full: still nothing, still not ready
        assert await daemon.ledger.find() == [] and not daemon.readiness()[0]

        disk.full = False  # space is back
        await daemon.tick()
        assert ledger_keys(await daemon.ledger.find()) == expected
        assert daemon.readiness()[0]
