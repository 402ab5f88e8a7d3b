"""An order whose buyer the platform withheld keeps saying so through the store, so CS101
counts it undecidable instead of a violation, and the poller counts it (a metric)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import Stream
from daemon.simulator.world import new_order
from daemon.store.observations import ObservationStore
from tests.conftest import FakeClock
from tests.daemon.fakes import ScriptedSource, page
from tests.daemon.test_poller import Harness, sample

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


async def test_the_flag_survives_the_store(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    hidden = dataclasses.replace(
        new_order(order_id="o-1", buyer_id="order:o-1", at=T0), buyer_identified=False
    )
    known = new_order(order_id="o-2", buyer_id="b-2", at=T0)
    await store.save_orders("s", [hidden, known], T0)
    histories = await store.buyer_histories("s", ["order:o-1", "b-2"], T0 - timedelta(days=1))
    assert [o.buyer_identified for o in histories["order:o-1"].orders] == [False]
    assert [o.buyer_identified for o in histories["b-2"].orders] == [True]


async def test_the_poller_counts_unidentified_orders(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    at = clock.now() - timedelta(hours=1)
    hidden = dataclasses.replace(
        new_order(order_id="o-1", buyer_id="order:o-1", at=at), buyer_identified=False
    )
    source = ScriptedSource([page(hidden, new_order(order_id="o-2", buyer_id="b-2", at=at))])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is True
    assert sample(h.metrics, "shopwatch_orders_buyer_unidentified_total", shop="s") == 1
