"""The bench's shop: the built-in simulator app in its own process, plus control routes.

The simulator (``daemon.simulator.app``) is mounted unchanged under ``/shop``; ``/_bench/…``
loads a generated history, injects records, resets the world and drives live traffic at a
given rate. Running it in a child process keeps its JSON encoding off the daemon's core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.request
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

from bench import gen
from connectors.generic import normalize
from connectors.model import PresenceStatus
from daemon.simulator.app import make_simulator_app
from daemon.simulator.world import World

TOKEN = "bench-token"


class Driver:
    """Adds ``rate`` orders/s and ``ratio × rate`` messages/s to the world, in small batches
    stamped with the wall clock (so a poll can never miss one behind its watermark)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.feed = gen.Feed()
        self.task: asyncio.Task[None] | None = None
        self.rate = 0.0
        self.ratio = 5.0
        self.orders = 0
        self.messages = 0
        self.started = 0.0
        self.busy = 0.0

    async def start(self, rate: float, ratio: float, period: float) -> None:
        await self.stop()
        self.feed = gen.Feed()  # each run on its own: no payments of another run's orders
        self.rate, self.ratio = rate, ratio
        self.orders = self.messages = 0
        self.busy = 0.0
        self.started = time.monotonic()
        if rate > 0:
            self.task = asyncio.create_task(self._run(period))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _run(self, period: float) -> None:
        world = self.world
        while True:
            await asyncio.sleep(period)
            t = time.monotonic()
            elapsed = t - self.started
            n_orders = int(self.rate * elapsed) - self.orders
            n_messages = int(self.rate * self.ratio * elapsed) - self.messages
            if n_orders <= 0 and n_messages <= 0:
                continue
            orders, messages = self.feed.batch(
                datetime.now(UTC), max(0, n_orders), max(0, n_messages)
            )
            for order in orders:
                world.put_order(order)
            for msg in messages:
                world.add_message(msg)
            self.orders += len(orders)
            self.messages += len(messages)
            self.busy += time.monotonic() - t

    def stats(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "orders": self.orders,
            "messages": self.messages,
            "seconds": time.monotonic() - self.started if self.started else 0.0,
            "busy_seconds": self.busy,
        }


def _presence(world: World, now: datetime) -> None:
    t = now.timestamp()
    sod = (t + gen.LOCAL_OFFSET) % 86400
    day = gen.DAY_OPEN <= sod < gen.NIGHT_START
    night = sod >= gen.NIGHT_START
    since = gen.to_dt(t - 600)
    for agent in gen.DAY_AGENTS:
        world.set_presence(agent, PresenceStatus.ONLINE if day else PresenceStatus.OFFLINE, since)
    for agent in gen.NIGHT_AGENTS:
        world.set_presence(agent, PresenceStatus.ONLINE if night else PresenceStatus.OFFLINE, since)


def make_app(world: World) -> web.Application:
    driver = Driver(world)
    app = web.Application(client_max_size=256 * 1024**2)
    app.add_subapp("/shop", make_simulator_app(world, TOKEN))

    async def load(request: web.Request) -> web.Response:
        body = await request.json()
        now = datetime.fromisoformat(body["now"])
        started = time.perf_counter()
        history = gen.history(
            orders=int(body["orders"]),
            messages=int(body["messages"]),
            now=now,
            hours=float(body.get("hours", 24)),
            seed=int(body.get("seed", 11)),
        )
        generated = time.perf_counter() - started
        world.bulk_load(history.orders, history.messages)
        _presence(world, now)
        return web.json_response(
            {
                "orders": len(world.orders),
                "messages": len(world.messages),
                "buyers": history.buyers,
                "generate_seconds": generated,
                "load_seconds": time.perf_counter() - started - generated,
            }
        )

    async def reset(request: web.Request) -> web.Response:
        await driver.stop()
        world.__init__()  # type: ignore[misc]  # in place: the simulator app holds this world
        body = await request.json() if request.can_read_body else {}
        if body.get("now"):
            _presence(world, datetime.fromisoformat(body["now"]))
        return web.json_response({"ok": True})

    async def inject(request: web.Request) -> web.Response:
        body = await request.json()
        orders = normalize.orders_page({"orders": body.get("orders", []), "next_page_token": None})
        msgs = normalize.messages_page(
            {"messages": body.get("messages", []), "next_page_token": None}
        )
        for order in orders.items:
            world.put_order(order)
        for msg in msgs.items:
            world.add_message(msg)
        return web.json_response({"orders": len(orders.items), "messages": len(msgs.items)})

    async def drive(request: web.Request) -> web.Response:
        before = driver.stats()  # what the previous run added
        if request.method == "POST":
            body = await request.json()
            await driver.start(
                float(body.get("rate", 0)),
                float(body.get("ratio", 5)),
                float(body.get("period", 0.05)),
            )
        return web.json_response(before)

    async def stats(request: web.Request) -> web.Response:
        cpu = os.times()
        return web.json_response(
            {
                "orders": len(world.orders),
                "messages": len(world.messages),
                "cpu_seconds": cpu.user + cpu.system,
                "driver": driver.stats(),
            }
        )

    app.router.add_post("/_bench/load", load)
    app.router.add_post("/_bench/reset", reset)
    app.router.add_post("/_bench/inject", inject)
    app.router.add_route("*", "/_bench/drive", drive)
    app.router.add_get("/_bench/stats", stats)
    return app


def serve(conn: Connection) -> None:
    """Child-process entry point: serve on an ephemeral loopback port, send it, run."""

    async def main() -> None:
        runner = web.AppRunner(make_app(World()), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send(("port", port))
        await asyncio.Event().wait()

    asyncio.run(main())


class ShopControl:
    """The orchestrator's (synchronous) handle on the bench shop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root}/shop"

    def call(self, path: str, body: dict[str, Any] | None = None, timeout: float = 600) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.root}/_bench/{path}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
