"""Storage faults: nothing is marked done before it is durably written, and the daemon says
it is not ready while it cannot write.

A ledger write that fails (a full disk: SQLite's "database or disk is full") must leave every
subject of that evaluation to be judged again; once the write succeeds, the ledger holds
exactly what a fault-free run records. Shown twice: with the write patched to fail, and with
SQLite itself out of room (its page limit held at the file's size, so the error comes from
the real write path, not from a double).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from daemon.simulator.world import World
from tests.conftest import FakeClock
from tests.daemon.shop import local, new_order, story
from tests.daemon.test_end_to_end import daemon_for, run_once


def ledger_keys(violations: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return sorted((v["rule"], v["subject"]["id"], v["agent"]) for v in violations)


async def fault_free_ledger(
    world: World, clock: FakeClock, tmp_path: Path
) -> list[tuple[str, str, str | None]]:
    """What a daemon without the fault records of ``world``: the ledger a fault must not
    change once the daemon has got back."""
    (tmp_path / "control").mkdir()
    async with daemon_for(world, clock, tmp_path / "control") as control:
        await run_once(control)
        return ledger_keys(await control.ledger.find())


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
    expected = await fault_free_ledger(world, clock, tmp_path)
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


class SQLiteDiskLimit:
    """A real full disk for SQLite: every connection's ``max_page_count`` is held at the
    file's size when the disk fills, so a write that needs one more page fails inside SQLite
    itself with SQLITE_FULL ("database or disk is full"), as on a full file system; the free
    pages are vacuumed away first so that nothing fits for free."""

    def __init__(self) -> None:
        self.pages: int | None = None

    def on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {self.pages or 1_073_741_823}")
        cursor.close()

    async def fill(self, daemon: Any) -> None:
        async with daemon.engine.connect() as conn:
            driver = await conn.get_raw_connection()
            await driver.driver_connection.execute("VACUUM")
            cursor = await driver.driver_connection.execute("PRAGMA page_count")
            (self.pages,) = await cursor.fetchone()
        event.listen(daemon.engine.sync_engine, "checkout", self.on_checkout)


async def test_a_really_full_sqlite_disk_loses_nothing(clock: FakeClock, tmp_path: Path) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    for n in range(100):  # more findings than the ledger's half-empty last pages can take
        world.put_order(
            new_order(
                order_id=f"o-full-{n}", buyer_id=f"b-full-{n}", at=local(clock.now(), "08:30")
            )
        )
    expected = await fault_free_ledger(world, clock, tmp_path)
    (tmp_path / "faulty").mkdir()
    async with daemon_for(world, clock, tmp_path / "faulty") as daemon:
        await daemon.prepare()
        daemon.ready = True
        await daemon.poll_all()  # the platform's data is stored while there is room
        disk = SQLiteDiskLimit()
        await disk.fill(daemon)
        await daemon.tick()
        ready, details = daemon.readiness()
        assert not ready and "database or disk is full" in str(details["evaluation"]), details
        assert await daemon.ledger.find() == []

        disk.pages = None  # space is back
        await daemon.tick()
        assert ledger_keys(await daemon.ledger.find()) == expected
        assert daemon.readiness()[0]


async def test_a_failed_pruning_reads_not_ready_too(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hourly pruning of refused records is a write like the ledger's: when it fails the
    daemon says so, instead of logging a crash every tick while /readyz stays green."""
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        prune = daemon.store.forget_rejected

        async def full(*_: object) -> int:
            raise OperationalError("DELETE FROM rejected_records", {}, Exception("disk is full"))

        monkeypatch.setattr(daemon.store, "forget_rejected", full)
        daemon.ready = True
        await run_once(daemon)  # the evaluation's failure is logged, and read by readiness
        ready, details = daemon.readiness()
        assert not ready and "disk is full" in str(details["evaluation"])
        monkeypatch.setattr(daemon.store, "forget_rejected", prune)
        await daemon.tick()
        assert daemon.readiness()[0]
