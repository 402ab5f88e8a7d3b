"""``shopwatch run`` as a real process: SIGKILL and restart, SIGTERM, SIGHUP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from connectors.model import Direction
from daemon.simulator.world import World, new_message, new_order

from .shop import simulator

VIOLATING_ORDERS = 300
WAIT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unchased_orders(world: World, now: datetime) -> set[str]:
    """Orders placed 3–5 hours ago, never chased: each a CS101 violation (24/7 coverage)."""
    for i in range(VIOLATING_ORDERS):
        at = now - timedelta(hours=3, seconds=i * 30)
        world.put_order(new_order(order_id=f"o-{i}", buyer_id=f"b-{i}", at=at))
        world.add_message(
            new_message(
                message_id=f"m-{i}", buyer_id=f"b-{i}", at=at, direction=Direction.BUYER, text="?"
            )
        )
    return {f"o-{i}" for i in range(VIOLATING_ORDERS)}


def write_config(path: Path, *, base_url: str, port: int) -> None:
    (path.parent / "token").write_text("test-token")
    stream = f"""kind = "generic"
base_url = "{base_url}"
token_file = "token"
poll_interval = "1s"
backfill = "12h"
settle = "1s"
"""
    path.write_text(
        f"""
[database]
url = "sqlite+aiosqlite:///{path.parent / "shopwatch.db"}"
[http]
listen = "127.0.0.1:{port}"
read_token_file = "token"
[evaluation]
interval = "1s"
[[shops]]
id = "s"
[shops.orders]
{stream}
[shops.chat]
{stream}
[[agents]]
id = "a1"
"""
    )


class Process:
    def __init__(self, proc: asyncio.subprocess.Process, base: str, log: Path) -> None:
        self.proc = proc
        self.base = base
        self.log = log

    async def violations(self) -> list[dict[str, object]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{self.base}/api/violations",
                params={"limit": "1000"},  # one page: more than the 300 expected
                headers={"Authorization": "Bearer test-token"},
            ) as response,
        ):
            return list((await response.json())["violations"])

    async def wait_for(self, predicate: object, what: str) -> list[dict[str, object]]:
        """Poll the API until ``predicate(violations)`` holds (bounded; fails with the log)."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            try:
                found = await self.violations()
                if predicate(found):  # type: ignore[operator]
                    return found
            except aiohttp.ClientError:
                pass
            if self.proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"gave up waiting for {what}; log:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.2)


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[Path, set[str], object]]:
    world = World()
    expected = unchased_orders(world, datetime.now(UTC))
    async with simulator(world) as base_url:
        config = tmp_path / "shopwatch.toml"
        port = free_port()
        write_config(config, base_url=base_url, port=port)

        launches = 0

        async def launch() -> Process:
            nonlocal launches
            launches += 1
            log = tmp_path / f"run-{launches}.log"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "daemon.cli",
                "run",
                "--config",
                str(config),
                stdout=log.open("w"),
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "SHOPWATCH_LOG_LEVEL": "INFO"},
            )
            return Process(proc, f"http://127.0.0.1:{port}", log)

        yield config, expected, launch


async def test_sigkill_mid_run_then_restart_records_no_duplicate_and_loses_nothing(
    started: tuple[Path, set[str], object],
) -> None:
    _, expected, launch = started
    first = await launch()  # type: ignore[operator]
    await first.wait_for(lambda v: len(v) >= 1, "the first violations")
    first.proc.send_signal(signal.SIGKILL)
    await first.proc.wait()
    killed_with = {v["subject"]["id"] for v in await_safe(first)}  # type: ignore[index]

    second = await launch()  # type: ignore[operator]
    try:
        found = await second.wait_for(lambda v: len(v) >= len(expected), "every violation")
        subjects = [v["subject"]["id"] for v in found]  # type: ignore[index]
        assert len(subjects) == len(set(subjects)) == len(expected)
        assert set(subjects) == expected
        assert killed_with <= expected
    finally:
        second.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.proc.wait(), 10) == 0


def await_safe(process: Process) -> list[dict[str, object]]:
    """What the killed process left in the database (read without a server)."""
    import sqlite3

    db = process.log.parent / "shopwatch.db"
    rows = sqlite3.connect(db).execute("SELECT subject_id FROM violations").fetchall()
    return [{"subject": {"id": row[0]}} for row in rows]


async def test_sigterm_exits_zero_within_ten_seconds(
    started: tuple[Path, set[str], object],
) -> None:
    _, _, launch = started
    process = await launch()  # type: ignore[operator]
    await process.wait_for(lambda v: True, "the API")
    process.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.proc.wait(), 10) == 0
    assert '"stopped"' in process.log.read_text()


async def test_sighup_with_a_broken_config_keeps_the_old_one_running(
    started: tuple[Path, set[str], object],
) -> None:
    config, expected, launch = started
    process = await launch()  # type: ignore[operator]
    try:
        await process.wait_for(lambda v: len(v) >= 1, "the first violations")
        text = config.read_text()
        config.write_text(text + "\n[rules.CS101]\nwithinn = '60m'\n")
        process.proc.send_signal(signal.SIGHUP)
        await _wait_for_log(process, "reload rejected")
        assert "rules.CS101.withinn" in process.log.read_text()
        assert process.proc.returncode is None
        await process.wait_for(lambda v: len(v) >= len(expected), "every violation, still")

        config.write_text(text.replace('poll_interval = "1s"', 'poll_interval = "2s"'))
        process.proc.send_signal(signal.SIGHUP)
        await _wait_for_log(process, "configuration reloaded")
        assert len(await process.violations()) == len(expected)
    finally:
        process.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.proc.wait(), 10) == 0


async def _wait_for_log(process: Process, needle: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while needle not in process.log.read_text():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {needle!r} in the log:\n{process.log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def test_under_systemd_ready_comes_after_the_listener_then_watchdog_and_stopping(
    started: tuple[Path, set[str], object], tmp_path: Path
) -> None:
    """READY=1 only once the API answers; WATCHDOG=1 pings; STOPPING=1 on SIGTERM."""
    import tempfile

    from tests.systemd.notify_socket import NotifyReceiver, bound_socket

    _, _, launch = started
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        path = os.path.join(directory, "notify")
        receiver = NotifyReceiver(bound_socket(path), path)
        os.environ["NOTIFY_SOCKET"] = path
        os.environ["WATCHDOG_USEC"] = "1000000"
        try:
            process = await launch()  # type: ignore[operator]
        finally:
            del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
        seen: list[str] = []
        while not any(text.startswith("READY=1") for text in seen):
            seen.append((await receiver.recv_async()).text)
        # READY was sent: the HTTP listener must already answer.
        assert await process.violations() is not None
        while "WATCHDOG=1" not in seen[seen.index(next(t for t in seen if "READY=1" in t)) :]:
            seen.append((await receiver.recv_async()).text)
        process.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.proc.wait(), 10) == 0
        seen.extend(d.text for d in receiver.drain())
        receiver.sock.close()
    assert seen[0].startswith(("STATUS=starting", "WATCHDOG=1"))
    assert any(t.startswith("STOPPING=1") for t in seen)
    ready = next(i for i, t in enumerate(seen) if t.startswith("READY=1"))
    stopping = next(i for i, t in enumerate(seen) if t.startswith("STOPPING=1"))
    assert ready < stopping
