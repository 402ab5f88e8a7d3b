"""Shop leases over PostgreSQL (SPEC §9): exactly one holder per shop, fair shares that
rebalance when a process joins or leaves, lapsed leases taken over, and a holder that cannot
renew stopping itself before its leases may be taken."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store.engine import create_engine
from daemon.store.leases import LeaseStore
from daemon.store.tables import shop_leases
from daemon.watch.leases import ShopLeases
from tests.conftest import POSTGRES_URL

SHOPS = frozenset(f"shop-{i:02d}" for i in range(7))

pytestmark = pytest.mark.postgres


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def process(engine: AsyncEngine, name: str, clock: Monotonic | None = None) -> ShopLeases:
    return ShopLeases(
        store=LeaseStore(engine), instance=name, shops=SHOPS, monotonic=clock or Monotonic()
    )


def assert_disjoint(*processes: ShopLeases) -> None:
    held = [shop for p in processes for shop in p.held]
    assert len(held) == len(set(held)), "a shop held by two processes"


async def test_one_process_holds_every_shop(pg: AsyncEngine) -> None:
    a = process(pg, "a")
    changes = await a.step()
    assert a.held == set(SHOPS) and changes.acquired == SHOPS
    assert all(a.holds(shop) for shop in SHOPS)
    assert set((await LeaseStore(pg).holders()).values()) == {"a"}


async def test_a_joining_process_gets_a_fair_share_and_nothing_is_held_twice(
    pg: AsyncEngine,
) -> None:
    a, b, c = process(pg, "a"), process(pg, "b"), process(pg, "c")
    await a.step()
    for _ in range(3):
        for p in (b, c, a):
            await p.step()
            assert_disjoint(a, b, c)
    assert sorted(len(p.held) for p in (a, b, c)) == [2, 2, 3]
    assert a.held | b.held | c.held == set(SHOPS)


async def test_a_stopped_process_hands_its_shops_over(pg: AsyncEngine) -> None:
    a, b = process(pg, "a"), process(pg, "b")
    await a.step()
    await b.step()
    await a.step()
    await b.step()
    await b.leave()
    await a.step()
    assert a.held == set(SHOPS)


async def test_a_lapsed_lease_is_taken_over(pg: AsyncEngine) -> None:
    a, b = process(pg, "a"), process(pg, "b")
    await a.step()
    await b.step()  # b counts two processes but every shop is held: it takes nothing yet
    assert b.held == set()
    async with pg.begin() as conn:  # a died: its leases and heartbeat lapse
        await conn.execute(update(shop_leases).values(expires_at=text("now() - interval '1s'")))
        await conn.execute(text("DELETE FROM daemon_instances WHERE instance = 'a'"))
    await b.step()
    assert b.held == set(SHOPS)
    changes = await a.step()  # a comes back: what it held is gone
    assert (changes.lost == SHOPS and a.held == set()) or a.held.isdisjoint(b.held)


async def test_concurrent_takers_never_share_a_shop(pg: AsyncEngine) -> None:
    engines = [create_engine(POSTGRES_URL or "") for _ in range(4)]
    try:
        takers = [process(engine, f"p{i}") for i, engine in enumerate(engines)]
        await asyncio.gather(*(t.store.ensure_shops(SHOPS) for t in takers))
        taken = await asyncio.gather(
            *(t.store.acquire(t.instance, SHOPS, len(SHOPS), timedelta(seconds=30)) for t in takers)
        )
        flat = [shop for shops in taken for shop in shops]
        assert sorted(flat) == sorted(SHOPS)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_holder_that_cannot_renew_stops_before_its_leases_lapse(pg: AsyncEngine) -> None:
    clock = Monotonic()
    a = process(pg, "a", clock)
    await a.step()
    assert a.valid_until == clock.now + 25  # ttl 30 s − margin 5 s, from before the renewal
    clock.now += 24.9
    assert a.fence() == frozenset() and a.holds("shop-00")
    clock.now += 0.1  # no renewal came through: stop now, 5 s before anyone may take over
    assert not a.holds("shop-00")
    assert a.fence() == SHOPS and a.held == set()
