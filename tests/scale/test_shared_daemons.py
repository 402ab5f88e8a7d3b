"""Two daemons over one PostgreSQL share the shops (SPEC §9), in one test process.

Each polls and judges only the shops it holds; when one stops, the other takes its shops
over from their stored watermarks; the ledger is the one a single daemon records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.app import Daemon
from daemon.simulator.world import World
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for
from tests.daemon.shop import local, simulator, story

SHOPS = ("s1", "s2", "s3", "s4")


def keys(violations: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((v["shop"], v["rule"], v["subject"]["id"]) for v in violations)


async def test_two_daemons_share_the_shops_and_one_takes_over(
    pg_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with simulator(world) as base_url:
        settings = settings_for(tmp_path, database_url=pg_url, base_url=base_url, shops=SHOPS)
        a = Daemon(settings, clock=clock, instance="a")
        b = Daemon(settings, clock=clock, instance="b")
        try:
            await a.prepare()
            assert a.held_shops() == list(SHOPS)
            await b.prepare()  # every shop is held: b waits for a to give some back
            assert b.held_shops() == []
            await a.lease_step()
            await b.lease_step()
            assert sorted(a.held_shops() + b.held_shops()) == list(SHOPS)
            assert len(a.held_shops()) == len(b.held_shops()) == 2
            for daemon in (a, b):
                await daemon.poll_all()
                await daemon.tick()
            _, details = b.readiness()
            assert details["holds"] == b.held_shops() and details["instance"] == "b"
            assert b.watch is not None
            polled_by_b = {p.shop for p in b.watch.pollers if p.state and p.state.last_success_at}
            assert polled_by_b <= set(b.held_shops())
            shared = keys(await a.ledger.find())

            await a.stop()  # a clean stop hands a's shops over at once
            await b.lease_step()
            assert b.held_shops() == list(SHOPS)
            await b.poll_all()
            await b.tick()
            assert keys(await b.ledger.find()) == shared  # nothing recorded twice
            sample = b.metrics.registry.get_sample_value
            assert sample("shopwatch_shop_held", {"shop": "s1", "instance": "b"}) == 1
            assert sample("shopwatch_lease_changes_total", {"change": "acquired"}) == 4
        finally:
            await b.stop()

    # the same data through one daemon alone records the same ledger
    async with simulator(world) as base_url:
        settings = settings_for(tmp_path, database_url=pg_url, base_url=base_url, shops=SHOPS)
        alone = Daemon(settings, clock=clock, instance="alone")
        try:
            await alone.prepare()
            await alone.poll_all()
            await alone.tick()
            assert keys(await alone.ledger.find()) == shared
        finally:
            await alone.stop()
