"""``shopwatch demo``: the simulated shop and the daemon in one process, no set-up.

The simulator plays 30 hours of back-dated history at start, so the first evaluation
already finds violations; then new buyers arrive every few seconds. The demo's SQLite
file and tokens live in ``var/demo/`` and are started afresh each run, since the
simulated shop is new each run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from datetime import datetime
from pathlib import Path

import structlog
from aiohttp import web

from daemon import service
from daemon.app import Daemon
from daemon.clock import SystemClock
from daemon.config.settings import Settings
from daemon.simulator.app import make_simulator_app
from daemon.simulator.scenario import Scenario
from daemon.simulator.world import World

log = structlog.get_logger("shopwatch.demo")

SIMULATOR_LISTEN = ("127.0.0.1", 9311)


def prepare_state(settings: Settings) -> str:
    """Fresh tokens and database for this run; returns the shop token."""
    token = secrets.token_urlsafe(24)
    for shop in settings.shops:
        for stream in (shop.orders, shop.chat):
            stream.token_file.parent.mkdir(parents=True, exist_ok=True)
            stream.token_file.write_text(token)
    if settings.api_token_file is not None:
        settings.api_token_file.parent.mkdir(parents=True, exist_ok=True)
        settings.api_token_file.write_text(secrets.token_urlsafe(24))
    prefix = "sqlite+aiosqlite:///"
    if settings.database_url.startswith(prefix):
        db = Path(settings.database_url.removeprefix(prefix))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{db}{suffix}").unlink()
    return token


async def _drive(scenario: Scenario, clock: SystemClock) -> None:
    while True:
        scenario.step(clock.now())
        await asyncio.sleep(1.0)


async def demo(settings: Settings, config_path: Path) -> int:
    clock = SystemClock()
    token = prepare_state(settings)
    world = World()
    scenario = Scenario(world, settings.calendar(), [a.id for a in settings.agents])
    scenario.backfill(clock.now())
    scenario.step(clock.now())
    runner = web.AppRunner(make_simulator_app(world, token), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, *SIMULATOR_LISTEN).start()
    driver = asyncio.create_task(_drive(scenario, clock))

    def started(daemon: Daemon) -> None:
        host, port = daemon.listening or settings.listen
        base = f"http://{host}:{port}"
        token = settings.api_token_file
        token_path = os.path.relpath(token.resolve()) if token else "(none)"
        print(
            "\nshopwatch demo is running (Ctrl-C stops it).\n"
            f"  simulated shop   http://{SIMULATOR_LISTEN[0]}:{SIMULATOR_LISTEN[1]}\n"
            f"  violations       {base}/api/violations\n"
            f"  scorecard        {base}/api/scorecard?month="
            f"{datetime.now(settings.timezone):%Y-%m}\n"
            f"  metrics          {base}/metrics\n"
            f"  readiness        {base}/readyz\n"
            f'  write token      {token_path}  (curl -H "Authorization: Bearer $(cat '
            f'{token_path})" …)\n',
            flush=True,
        )

    try:
        return await service.run(settings, config_path, on_started=started)
    finally:
        driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driver
        await runner.cleanup()
