"""Real storage faults, not a patched method: PostgreSQL going down under the daemon (its
connections cut, new ones refused) and a SQLite database that refuses every write (as a
file made read-only does: "attempt to write a readonly database"). While it lasts every
stream reads down (``shopwatch_stream_up`` 0) and ``/readyz`` answers 503; once storage is
back, the daemon gets back by itself and the ledger holds exactly what a fault-free run
records — nothing is lost to the fault."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import event
from sqlalchemy.engine import make_url

from daemon.app import Daemon
from daemon.simulator.world import World
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for
from tests.daemon.shop import local, simulator, story

from .test_storage_faults import fault_free_ledger, ledger_keys


class Relay:
    """A TCP relay to the database server that can be cut (the server down: every open
    connection reset, new ones refused) and brought back on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.open):
            writer.transport.abort()
        self.open.clear()
        await self.server.wait_closed()
        self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.open |= {writer, upstream}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pump(reader, upstream), pump(upstream_reader, writer))
        self.open -= {writer, upstream}


@asynccontextmanager
async def faulty_storage(database_url: str) -> AsyncIterator[tuple[str, Any]]:
    """(the URL the daemon uses, a function that turns the fault on or off once the
    daemon's engine exists)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        relay = Relay(url.host or "127.0.0.1", url.port or 5432)
        await relay.up()

        async def postgres_down(daemon: Daemon, down: bool) -> None:
            await (relay.down() if down else relay.up())

        try:
            yield url.set(host="127.0.0.1", port=relay.port).render_as_string(False), postgres_down
        finally:
            if relay.server is not None:
                await relay.down()
        return

    read_only = False

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA query_only = {int(read_only)}")
        cursor.close()

    async def sqlite_read_only(daemon: Daemon, down: bool) -> None:
        nonlocal read_only
        if not event.contains(daemon.engine.sync_engine, "checkout", on_checkout):
            event.listen(daemon.engine.sync_engine, "checkout", on_checkout)
        read_only = down

    yield database_url, sqlite_read_only


def stream_up(daemon: Daemon) -> dict[str, float | None]:
    return {
        stream: daemon.metrics.registry.get_sample_value(
            "shopwatch_stream_up", {"shop": "s", "stream": stream}
        )
        for stream in ("orders", "chat")
    }


async def readyz(http: aiohttp.ClientSession, base: str) -> tuple[int, Any]:
    async with http.get(f"{base}/readyz") as response:
        return response.status, await response.json()


async def test_storage_down_reads_not_ready_and_the_daemon_gets_back_losing_nothing(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    expected = await fault_free_ledger(world, clock, tmp_path)
    assert expected

    async with (
        faulty_storage(database_url) as (url, fault),
        simulator(world) as base_url,
        aiohttp.ClientSession() as http,
    ):
        (tmp_path / "faulty").mkdir()
        settings = settings_for(tmp_path / "faulty", database_url=url, base_url=base_url)
        daemon = Daemon(settings, clock=clock)
        try:
            await daemon.prepare()
            host, port = await daemon.serve_http()
            base = f"http://{host}:{port}"
            daemon.ready = True  # as after start: only the fault may take readiness away
            await daemon.poll_all()  # the platform's data is stored before the fault
            assert stream_up(daemon) == {"orders": 1, "chat": 1}

            await fault(daemon, True)
            await daemon.poll_all()  # what a poll reads cannot be stored
            assert stream_up(daemon) == {"orders": 0, "chat": 0}
            status, body = await readyz(http, base)
            assert status == 503 and body["evaluation"]["s"].startswith("storage:"), body
            assert daemon.status_line().startswith("NOT READY")
            await daemon.tick()  # nor the findings
            status, body = await readyz(http, base)
            assert status == 503 and "s" in body["evaluation"], body
            assert daemon.watch is not None and daemon.watch.evaluators["s"].failure

            await fault(daemon, False)  # storage is back
            await daemon.poll_all()
            await daemon.tick()
            assert stream_up(daemon) == {"orders": 1, "chat": 1}
            status, body = await readyz(http, base)
            assert status == 200, body
            assert ledger_keys(await daemon.ledger.find()) == expected
        finally:
            await daemon.stop()
