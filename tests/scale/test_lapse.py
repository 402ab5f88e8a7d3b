"""A step knows when another process's first lease lapses, so the daemon can step just
after it: a dead process's shops are taken over about one TTL after its last renewal,
not up to a renewal interval later (SPEC §9: within 45 s)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store.leases import LeaseStore
from daemon.watch.leases import ShopLeases

SHOPS = frozenset({"s1", "s2"})

pytestmark = pytest.mark.postgres


async def test_a_step_reports_when_another_process_lease_lapses(pg: AsyncEngine) -> None:
    a = ShopLeases(store=LeaseStore(pg), instance="a", shops=SHOPS, ttl=timedelta(seconds=5))
    b = ShopLeases(store=LeaseStore(pg), instance="b", shops=SHOPS)
    await a.step()
    assert a.held == SHOPS and a.next_lapse is None  # nobody else holds a lease
    await b.step()
    assert b.held == set()
    assert b.next_lapse is not None and 0 < b.next_lapse <= 5  # a's, renewed with its ttl
