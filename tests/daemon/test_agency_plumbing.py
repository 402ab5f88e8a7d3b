"""What lets one machine run many shops and several processes: ``run --listen``, the
simulator serving many shops on one listener, one connection pool per host, and
migrations that wait for each other."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.generic.client import GenericShopClient
from connectors.http import HostPools
from connectors.model import Stream
from daemon import cli, service
from daemon.config.settings import Settings
from daemon.simulator.app import make_simulator_app
from daemon.simulator.world import World, new_order
from daemon.store import migrate
from daemon.store.engine import create_engine
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.daemon.fakes import settings_for


def test_run_listen_overrides_the_config_also_on_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, database_url="sqlite+aiosqlite://")
    config = tmp_path / "shopwatch.toml"
    config.touch()
    monkeypatch.setattr(cli, "_settings", lambda path: settings)
    monkeypatch.setattr(service, "load_checked", lambda path: settings)
    ran: dict[str, Any] = {}

    async def run(given: Settings, path: Path, **kwargs: Any) -> int:
        ran.update(settings=given, reload=kwargs["load_settings"](path))
        return 0

    monkeypatch.setattr(service, "run", run)
    assert cli.main(["run", "--config", str(config), "--listen", "127.0.0.1:9411"]) == 0
    assert ran["settings"].listen == ("127.0.0.1", 9411)
    assert ran["reload"].listen == ("127.0.0.1", 9411)
    assert dataclasses.replace(ran["settings"], listen=settings.listen) == settings
    assert cli.main(["run", "--config", str(config), "--listen", "9411"]) == 1  # no host


async def test_one_simulator_serves_many_shops_under_their_paths() -> None:
    now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    a, b = World(), World()
    a.put_order(new_order(order_id="o-a", buyer_id="b", at=now))
    b.put_order(new_order(order_id="o-b", buyer_id="b", at=now))
    server = TestServer(make_simulator_app({"a": a, "b": b}, "t"), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        query = {"updated_since": (now - timedelta(hours=1)).isoformat()}
        async with httpx.AsyncClient(headers={"Authorization": "Bearer t"}) as http:
            for shop, order in (("a", "o-a"), ("b", "o-b")):
                page = (await http.get(f"{base}/{shop}/orders", params=query)).json()
                assert [o["id"] for o in page["orders"]] == [order]
            assert (await http.get(f"{base}/c/orders", params=query)).status_code == 404
    finally:
        await server.close()


async def test_sources_of_one_host_share_its_pool_and_closing_one_leaves_it_open() -> None:
    world = World()
    server = TestServer(make_simulator_app({"a": world, "b": world}, "t"), host="127.0.0.1")
    await server.start_server()
    pools = HostPools()
    try:
        base = str(server.make_url("")).rstrip("/")
        clients = [
            GenericShopClient(
                base_url=f"{base}/{shop}", token=lambda: "t", transport=pools.transport(base)
            )
            for shop in ("a", "b")
        ]
        pools.transport("https://other.example.com/shop")
        assert len(pools) == 2  # one per host, not one per shop
        since = datetime(2026, 11, 2, tzinfo=UTC)
        await clients[0].fetch_orders(since, None)
        await clients[0].aclose()  # a reload closes the old sources …
        page = await clients[1].fetch_orders(since, None)  # … the pool stays open
        assert page.items == ()
    finally:
        await pools.aclose()
        await server.close()


async def test_processes_starting_together_migrate_one_at_a_time() -> None:
    if POSTGRES_URL is None:
        pytest.skip("SHOPWATCH_TEST_DATABASE_URL is not set")
    await _reset_postgres(POSTGRES_URL)
    engines = [create_engine(POSTGRES_URL) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(engine) for engine in engines))
        async with engines[0].connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert [row[0] for row in version] == [migrate.head_revision()]
    finally:
        for engine in engines:
            await engine.dispose()


class _SlowPoller:
    """A stream whose poll waits until released, counting how many run at once."""

    running = 0
    most = 0

    def __init__(self, shop: str, release: asyncio.Event) -> None:
        self.shop = shop
        self.stream = "orders"
        self.release = release

    async def poll(self) -> bool:
        cls = type(self)
        cls.running += 1
        cls.most = max(cls.most, cls.running)
        try:
            await self.release.wait()
        finally:
            cls.running -= 1
        return False


async def test_at_most_a_fixed_number_of_polls_run_at_once(tmp_path: Path) -> None:
    """A thousand shops' first polls must not all run together: they would queue on their
    host's connections and the database's write lock until they time out."""
    from daemon import app

    daemon = app.Daemon(settings_for(tmp_path, database_url="sqlite+aiosqlite://"))
    release = asyncio.Event()
    pollers = [_SlowPoller(f"s{i}", release) for i in range(app.POLLS_AT_ONCE + 10)]
    jobs = [asyncio.create_task(daemon._poll_job(p)) for p in pollers]  # type: ignore[arg-type]
    for _ in range(200):  # turns of the loop, not time: every job that may start, starts
        await asyncio.sleep(0)
    assert _SlowPoller.running == app.POLLS_AT_ONCE
    release.set()
    await asyncio.gather(*jobs)
    assert _SlowPoller.most == app.POLLS_AT_ONCE
    assert _SlowPoller.running == 0


def test_a_status_line_names_five_streams_and_counts_the_rest() -> None:
    from daemon import app

    names = [f"s{i}/orders" for i in range(1000)]
    line = app._some(names)
    assert line == "s0/orders, s1/orders, s2/orders, s3/orders, s4/orders and 995 more"
    assert app._some(names[:2]) == "s0/orders, s1/orders"


async def test_the_rules_about_people_are_judged_at_most_once_a_minute(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thousand shops judged from days of presence at every poll took most of a core:
    the shop-level rules (their limits are minutes) run at a shop's first evaluation and
    then when a minute has passed, not at every tick."""
    from daemon.store.ledger import Ledger
    from daemon.store.observations import ObservationStore
    from daemon.watch import evaluator as evaluator_module
    from daemon.watch.metrics import Metrics
    from tests.conftest import FakeClock
    from tests.scorecard.support import at, make_settings

    now = at("2026-11-02 12:00")
    store = ObservationStore(engine)
    pollers = {}
    for stream in Stream:
        await store.start_stream("s", stream, now - timedelta(days=1), now)
        await store.advance_watermark("s", stream, now - timedelta(minutes=1), now)
        pollers[stream] = type("Polled", (), {"state": await store.stream_state("s", stream)})()
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    clock = FakeClock(now)
    evaluator = evaluator_module.ShopEvaluator(
        shop="s",
        settings=settings,
        store=store,
        ledger=Ledger(engine),
        metrics=Metrics(version="test", roster=settings.roster),
        clock=clock,
        pollers=pollers,  # type: ignore[arg-type]
    )
    judged: list[datetime] = []
    judge_shop = evaluator._evaluate_shop

    async def counting(marks: Any, at_now: datetime, horizon_start: datetime) -> None:
        judged.append(at_now)
        await judge_shop(marks, at_now, horizon_start)

    monkeypatch.setattr(evaluator, "_evaluate_shop", counting)
    for seconds in (0, 30, 59, 60, 90, 121):
        clock.set(now + timedelta(seconds=seconds))
        await evaluator.tick()
    assert judged == [now, now + timedelta(seconds=60), now + timedelta(seconds=121)]
