"""The failover test's simulated shops: every shop of a config in one process.

``python -m tests.failover.shops --config FILE --port PORT`` serves each ``[[shops]]`` of the
config as the built-in simulated shop (its own seeded scenario: a few hours of history, then
new stories as time passes) under ``/shops/<shop id>/``, and prints "listening" once it
accepts connections. Presence is not reported, so no rule depends on when it was sampled.

Two control routes, outside the shops' token: ``GET /_requests`` lists when each shop was
asked for anything (who polled when), and ``POST /_freeze`` stops the shops' time: from then
on nothing changes, so a later run reads exactly the data the daemons read.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from daemon.config.settings import load
from daemon.simulator.app import make_simulator_app
from daemon.simulator.scenario import Scenario
from daemon.simulator.world import World

STEP_SECONDS = 0.2


def make_app(
    config: str, *, hours: float, stories: int, stories_per_hour: float
) -> web.Application:
    settings = load(config)
    token_file = settings.shops[0].orders.token_file
    assert token_file is not None
    token = token_file.read_text().strip()
    now = datetime.now(UTC)
    worlds: dict[str, World] = {}
    scenarios = []
    for index, shop in enumerate(settings.shops):
        world = World()
        world.report_presence = False
        scenario = Scenario(
            world,
            settings.calendar(),
            [agent.id for agent in settings.agents],
            seed=index + 1,
            stories_per_hour=stories_per_hour,
        )
        scenario.backfill(now, hours=hours, stories=stories)
        worlds[shop.id] = world
        scenarios.append(scenario)
    requests: dict[str, list[float]] = defaultdict(list)
    frozen: dict[str, float] = {}

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        parts = request.path.split("/")
        if len(parts) > 2 and parts[1] == "shops":
            requests[parts[2]].append(time.time())
        return await handler(request)

    async def drive(app: web.Application) -> AsyncIterator[None]:
        async def run() -> None:
            while "at" not in frozen:
                for scenario in scenarios:
                    scenario.step(datetime.now(UTC))
                await asyncio.sleep(STEP_SECONDS)

        task = asyncio.create_task(run())
        yield
        task.cancel()

    async def freeze(request: web.Request) -> web.Response:
        frozen.setdefault("at", time.time())
        return web.json_response(frozen)

    async def listed(request: web.Request) -> web.Response:
        return web.json_response(requests)

    app = web.Application(middlewares=[record])
    app.add_subapp("/shops", make_simulator_app(worlds, token))
    app.router.add_get("/_requests", listed)
    app.router.add_post("/_freeze", freeze)
    app.cleanup_ctx.append(drive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--stories", type=int, default=40, help="per shop, in its history")
    parser.add_argument("--stories-per-hour", type=float, default=240.0, help="per shop, live")
    args = parser.parse_args()
    app = make_app(
        args.config, hours=args.hours, stories=args.stories, stories_per_hour=args.stories_per_hour
    )
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        print=lambda _text: print("listening", flush=True),
        access_log=None,
    )


if __name__ == "__main__":
    main()
