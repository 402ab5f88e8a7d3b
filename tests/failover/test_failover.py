"""Three ``shopwatch run`` processes share twenty simulated shops over one PostgreSQL
(SPEC §9), as real processes: one is killed with SIGKILL and another is cut off from the
database at the same moment; every shop is held again within 45 s, the daemon cut off stops
polling before anyone takes its shops, the ledger is the one a single process records from
the same data, and the team lead's webhook never gets a notice twice.

What runs: the shops (``tests/failover/shops.py``, one process serving every shop under its
own path), a webhook receiver in this test counting notices, and the daemons, each
``shopwatch run --config FILE --listen HOST:PORT`` with the same config, over a database
created for this test (and dropped after it) on the server of
``SHOPWATCH_TEST_DATABASE_URL``. Cutting a daemon off: a transaction of this test holds
the row lock of its heartbeat (so no renewal of its can get through) while its database
connections are terminated with ``pg_terminate_backend`` again and again (found by their
client ports, which /proc ties to its pid). Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from daemon.app import Daemon
from daemon.config.alert_settings import AlertSettings
from daemon.config.settings import load
from daemon.store.engine import create_engine
from daemon.store.tables import daemon_instances, shop_leases, violations
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.integration

SHOPS = [f"shop-{i:02d}" for i in range(1, 21)]
DAEMONS = 3
TAKEOVER_SECONDS = 45.0
"""SPEC §9: a dead or cut-off process's shops are taken over within this."""
START_DEADLINE = 120.0
"""Three daemons starting at once on a loaded two-core machine, then spreading the shops."""
SETTLE_DEADLINE = 60.0
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(
    condition: Callable[[], Awaitable[bool]], seconds: float, explain: Callable[[], str]
) -> float:
    """Poll ``condition`` until it holds; return when (``time.time()``), or fail with
    ``explain()`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if await condition():
                return time.time()
        except (httpx.HTTPError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(explain())
        await asyncio.sleep(0.2)


# ---- the database of this test ----


@pytest.fixture
async def databases() -> AsyncIterator[tuple[str, str]]:
    """Two fresh databases on the test server: the three daemons', and the single run's."""
    if POSTGRES_URL is None:
        pytest.skip("SHOPWATCH_TEST_DATABASE_URL is not set")
    names = [f"shopwatch_failover_{os.getpid()}", f"shopwatch_failover_{os.getpid()}_single"]
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = make_url(POSTGRES_URL)
        urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
        yield urls[0], urls[1]
    finally:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def ledger(url: str, until: datetime) -> set[tuple[str, str, str, str, datetime]]:
    """The violations whose deadline is at or before ``until`` (decided alike by any run
    that has read the data up to it): (shop, rule, subject type, subject id, deadline)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    violations.c.shop,
                    violations.c.rule,
                    violations.c.subject_type,
                    violations.c.subject_id,
                    violations.c.deadline,
                ).where(violations.c.deadline <= until)
            )
            return {tuple(row) for row in rows}  # type: ignore[misc]
    finally:
        await engine.dispose()


def client_ports(pid: int) -> set[int]:
    """The local ports of a process's TCP sockets (its fds' socket inodes in /proc/net)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@contextlib.asynccontextmanager
async def cut_off(url: str, pid: int, instance: str) -> AsyncIterator[Counter[str]]:
    """While the context lasts, ``instance`` (process ``pid``) cannot renew anything: its
    heartbeat row is locked by this test and its connections are terminated as they come."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    counts: Counter[str] = Counter()
    stop = asyncio.Event()
    async with engine.connect() as lock:
        await lock.execute(text("BEGIN"))
        held = await lock.execute(
            select(daemon_instances.c.instance)
            .where(daemon_instances.c.instance == instance)
            .with_for_update()
        )
        assert held.all(), f"no heartbeat of {instance}"

        async def terminate() -> None:
            async with engine.connect() as killer:
                while not stop.is_set():
                    ports = sorted(client_ports(pid))
                    if ports:
                        done = await killer.execute(
                            text(
                                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND client_port = ANY(:p)"
                            ),
                            {"p": ports},
                        )
                        counts["terminated"] += int(done.scalar_one())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.2)

        task = asyncio.create_task(terminate())
        try:
            yield counts
        finally:
            stop.set()
            await task
            await lock.execute(text("ROLLBACK"))
    await engine.dispose()


# ---- the webhook receiver ----


class NoticeCounter:
    """The team lead's webhook: counts every notice by what makes it one."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[Any, ...]] = Counter()
        self.senders: dict[tuple[Any, ...], list[str]] = {}
        self.messages = 0
        self.pids: dict[int, str] = {}
        """The daemons by pid: a message is put down to the one whose socket sent it."""

    def sender(self, request: web.Request) -> str:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        for pid, name in self.pids.items():
            with contextlib.suppress(OSError):
                if peer and peer[1] in client_ports(pid):
                    return name
        return "?"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.messages += 1
        sender = f"{self.sender(request)} at {datetime.now(UTC):%H:%M:%S.%f}"
        for notice in body["notices"]:
            key: tuple[Any, ...] = (
                notice["event"],
                notice["shop"],
                notice["rule"],
                notice["subject"]["id"],
            )
            if notice["event"] == "at_risk":
                key += (notice["deadline"],)
            elif notice["event"] == "violation_escalated":
                key += (notice["tier"],)
            self.seen[key] += 1
            self.senders.setdefault(key, []).append(sender)
        return web.json_response({"ok": True})

    def twice(self) -> dict[tuple[Any, ...], list[str]]:
        return {key: self.senders[key] for key, n in self.seen.items() if n > 1}


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[NoticeCounter, str]]:
    counter = NoticeCounter()
    app = web.Application()
    app.router.add_post("/hook", counter.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield counter, str(server.make_url("/hook"))
    finally:
        await server.close()


# ---- the processes ----


def write_config(directory: Path, *, database_url: str, shops_port: int, hook: str) -> Path:
    (directory / "shop-token").write_text("failover-shop-token")
    (directory / "webhook-url").write_text(hook)
    agents = "".join(f'[[agents]]\nid = "a{i}"\n' for i in range(1, 4))
    shops = ""
    for shop in SHOPS:
        stream = f"""kind = "generic"
base_url = "http://127.0.0.1:{shops_port}/shops/{shop}"
token_file = "shop-token"
poll_interval = "2s"
backfill = "12h"
settle = "2s"
"""
        shops += f'[[shops]]\nid = "{shop}"\n[shops.orders]\n{stream}[shops.chat]\n{stream}'
    path = directory / "shopwatch.toml"
    path.write_text(
        f"""timezone = "Asia/Shanghai"
[database]
url = "{database_url}"
[http]
listen = "127.0.0.1:9310"
[evaluation]
interval = "2s"
[alerts]
[[alerts.webhooks]]
name = "lead"
kind = "json"
url_file = "webhook-url"
{agents}{shops}"""
    )
    return path


@dataclasses.dataclass
class Process:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path
    instance: str = ""

    async def readyz(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5)
        body: dict[str, Any] = response.json()
        return body

    async def holds(self) -> set[str]:
        return set((await self.readyz())["holds"])

    def tail(self) -> str:
        text = self.log.read_text(errors="replace")
        return f"--- {self.name} ({self.instance}):\n{text[-2500:]}"


async def spawn(args: list[str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            *args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, "SHOPWATCH_LOG_LEVEL": "INFO"},
        )


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after 15 s (by pid: asyncio refuses once a wait was cut)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 15)


async def single_run(config: Path, database_url: str, frozen: datetime) -> set[Any]:
    """The same data through one daemon alone (in this process), read to the end."""
    settings = dataclasses.replace(load(config), database_url=database_url, alerts=AlertSettings())
    daemon = Daemon(settings, instance="single")
    try:
        await daemon.prepare()
        assert daemon.watch is not None
        read_until = frozen + timedelta(seconds=1)
        deadline = time.monotonic() + SETTLE_DEADLINE
        while not all(
            p.state is not None and p.state.watermark >= read_until for p in daemon.watch.pollers
        ):
            assert time.monotonic() < deadline, daemon.stream_status()
            await daemon.poll_all()
        while sum([await e.tick() for e in daemon.watch.evaluators.values()]):
            pass
    finally:
        await daemon.stop()
    return await ledger(database_url, frozen)


# ---- the test ----


async def test_three_daemons_twenty_shops_a_kill_and_a_cut_off(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    shared_url, single_url = databases
    shops_port = free_port()
    async with receiver() as (notices, hook):
        config = write_config(tmp_path, database_url=shared_url, shops_port=shops_port, hook=hook)
        shop_log = tmp_path / "shops.log"
        shop_proc = await spawn(
            [
                sys.executable,
                "-m",
                "tests.failover.shops",
                "--config",
                str(config),
                "--port",
                str(shops_port),
            ],
            shop_log,
        )
        daemons: list[Process] = []
        engine = create_engine(shared_url)
        try:

            async def shops_up() -> bool:
                assert shop_proc.returncode is None, shop_log.read_text()
                async with httpx.AsyncClient() as http:
                    url = f"http://127.0.0.1:{shops_port}/_requests"
                    return (await http.get(url, timeout=2)).status_code == 200

            await until(shops_up, 60, shop_log.read_text)
            for index in range(DAEMONS):  # at once: they migrate one at a time by themselves
                port = free_port()
                log = tmp_path / f"daemon-{index}.log"
                proc = await spawn(
                    [
                        sys.executable,
                        "-m",
                        "daemon.cli",
                        "run",
                        "--config",
                        str(config),
                        "--listen",
                        f"127.0.0.1:{port}",
                    ],
                    log,
                )
                daemons.append(Process(f"daemon-{index}", proc, port, log))
                notices.pids[proc.pid] = f"daemon-{index}"

            def logs() -> str:
                return "\n".join(d.tail() for d in daemons) + "\n" + timeline()

            def timeline() -> str:
                """When each daemon's leases changed, and why renewals failed."""
                lines = []
                for daemon in daemons:
                    for line in daemon.log.read_text(errors="replace").splitlines():
                        with contextlib.suppress(ValueError):
                            event = json.loads(line)
                            if event.get("logger") == "shopwatch.leases" or "renew" in str(
                                event.get("event")
                            ):
                                lines.append(f"{event['timestamp']} {daemon.name} {line}")
                return "\n".join(sorted(lines))

            seen: dict[str, Any] = {}

            async def spread() -> bool:
                held: list[set[str]] = []
                for daemon in daemons:
                    assert daemon.proc.returncode is None, logs()
                    ready = await daemon.readyz()
                    daemon.instance = ready["instance"]
                    reading = {n: s for n, s in ready["streams"].items() if s["backfilling"]}
                    seen[daemon.name] = {"holds": ready["holds"], "back-filling": reading}
                    held.append(set(ready["holds"]))
                every = set().union(*held)
                return (
                    every == set(SHOPS)
                    and sum(map(len, held)) == len(SHOPS)
                    and all(len(h) in (6, 7) for h in held)
                    and not any(s["back-filling"] for s in seen.values())
                )

            await until(
                spread, START_DEADLINE, lambda: f"shops never spread evenly: {seen}\n{logs()}"
            )
            killed, cut, survivor = daemons
            cut_shops = await cut.holds()

            # ---- a SIGKILL and a cut-off at once ----
            killed_at = time.time()
            killed.proc.kill()
            await killed.proc.wait()
            fenced: dict[str, float] = {}

            async with cut_off(shared_url, cut.proc.pid, cut.instance) as terminated:

                async def cut_holds_nothing() -> bool:
                    ready = await cut.readyz()
                    return not ready["holds"] and not ready["streams"]

                fenced["at"] = await until(
                    cut_holds_nothing,
                    TAKEOVER_SECONDS,
                    lambda: f"the cut-off daemon kept its shops:\n{cut.tail()}",
                )

                async def all_held() -> bool:
                    return await survivor.holds() == set(SHOPS)

                await until(
                    all_held,
                    killed_at + TAKEOVER_SECONDS - time.time(),
                    lambda: (
                        f"not every shop held again within {TAKEOVER_SECONDS:.0f} s of the "
                        f"kill at {datetime.fromtimestamp(killed_at, UTC)}:\n{timeline()}"
                    ),
                )
                taken_over = time.time() - killed_at
                async with engine.connect() as conn:
                    rows = await conn.execute(
                        select(shop_leases.c.shop, shop_leases.c.holder, shop_leases.c.acquired_at)
                    )
                    leases = {row.shop: (row.holder, row.acquired_at) for row in rows}
                assert terminated["terminated"] > 0
            assert {holder for holder, _ in leases.values()} == {survivor.instance}

            # The cut-off daemon stopped before anyone took its shops: between its stop and
            # each shop's new lease, nobody asked that shop for anything.
            async with httpx.AsyncClient() as http:
                url = f"http://127.0.0.1:{shops_port}/_requests"
                requests: dict[str, list[float]] = (await http.get(url)).json()
            for shop in cut_shops:
                acquired = leases[shop][1].timestamp()
                assert fenced["at"] < acquired, (shop, fenced, acquired)
                unleased = [t for t in requests[shop] if fenced["at"] < t < acquired]
                assert unleased == [], f"{shop} polled while nobody held it: {unleased}"

            # ---- the same data through one process alone ----
            async with httpx.AsyncClient() as http:
                url = f"http://127.0.0.1:{shops_port}/_freeze"
                frozen = datetime.fromtimestamp((await http.post(url)).json()["at"], UTC)
            expected = await single_run(config, single_url, frozen)
            assert expected, "the shops' history holds violations"
            found: set[Any] = set()

            async def same_ledger() -> bool:
                found.clear()
                found.update(await ledger(shared_url, frozen))
                return found == expected

            await until(
                same_ledger,
                SETTLE_DEADLINE,
                lambda: (
                    f"ledgers differ: only shared {sorted(found - expected)[:5]}, only "
                    f"single {sorted(expected - found)[:5]}\n{logs()}"
                ),
            )
        finally:
            await asyncio.gather(
                *(stop(p) for p in [*(d.proc for d in daemons), shop_proc]),
                return_exceptions=True,
            )
            await engine.dispose()
        assert await ledger(shared_url, frozen) == expected
        assert notices.seen, "the team lead got no notice at all"
        twice = notices.twice()
        assert twice == {}, f"{len(twice)} notices sent twice, e.g. {list(twice.items())[:8]}"
        print(
            f"taken over {taken_over:.1f} s after the kill; {len(expected)} violations; "
            f"{sum(notices.seen.values())} notices in {notices.messages} messages; "
            f"{json.dumps({d.name: d.instance for d in daemons})}"
        )
