"""The agency phase: N shops on one ``shopwatch run`` process, as an agency runs them.

Every shop is the built-in simulated shop (``daemon/simulator/scenario.py``, the demo's
stories) served under its own path by one shop process (``serve_shops``); all shops share
one simulated world, so the shop process stays small while the daemon sees N shops' worth
of data. The daemon is a real ``shopwatch run --config FILE --listen HOST:PORT`` process
(SQLite), polling every shop's two streams every ``poll_interval``, scraped every
``scrape_every`` as Prometheus would.

Measured per size: start-up (config read, watchers built, listener bound), the back-fill
(until every stream has read its history once), then a steady window of four poll
intervals: the daemon's CPU share of one core, its peak and current RSS, each scrape's
``/metrics`` time and size (asked for gzip, as Prometheus asks; the body and the bytes on the
wire), and the watermark lag of every stream at every scrape. A poll
is starved when its stream's lag beyond ``settle`` reaches two poll intervals (the
watermark is a poll's start minus ``settle``, so ``settle`` is the floor of any lag).
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

from bench import child
from daemon.config.settings import parse
from daemon.simulator.app import make_simulator_app
from daemon.simulator.scenario import Scenario
from daemon.simulator.world import World

TOKEN = "agency-token"
SETTLE_SECONDS = 60  # the default: every poll re-reads the last minute
WATERMARK = re.compile(
    r'^shopwatch_watermark_timestamp_seconds\{shop="([^"]+)",stream="([^"]+)"\} (\S+)$',
    re.MULTILINE,
)


def shop_ids(count: int) -> list[str]:
    return [f"s{i:04d}" for i in range(1, count + 1)]


def config_text(
    *,
    shops: int,
    base_url: str,
    database: Path,
    poll_interval: float,
    agents: int,
) -> str:
    """The demo's rules and shifts, ``agents`` agents (two thirds on the day shift), and
    ``shops`` generic shops whose base URL ends in their id."""
    stream = f"""kind = "generic"
token_file = "shop-token"
poll_interval = "{poll_interval:g}s"
backfill = "24h"
settle = "{SETTLE_SECONDS}s"
"""
    parts = [
        f"""timezone = "Asia/Shanghai"
[database]
url = "sqlite+aiosqlite:///{database}"
[http]
listen = "127.0.0.1:9310"
[evaluation]
interval = "10s"
[rules.CS101]
within = "60m"
[rules.CS102]
within = "10m"
[rules.CS103]
within = "30m"
"""
    ]
    roster = [f"a{i}" for i in range(1, agents + 1)]
    day = roster[: max(1, (2 * len(roster)) // 3)]
    night = roster[len(day) :] or roster[-1:]
    parts += [f'[[agents]]\nid = "{a}"\n' for a in roster]
    parts.append(
        '[[shifts]]\nname = "day"\nstart = "08:30"\nend = "17:30"\n'
        f"agents = [{', '.join(repr(a) for a in day)}]\n".replace("'", '"')
    )
    parts.append(
        '[[shifts]]\nname = "night"\nstart = "17:30"\nend = "24:00"\n'
        f"agents = [{', '.join(repr(a) for a in night)}]\n".replace("'", '"')
    )
    for shop in shop_ids(shops):
        url = f'base_url = "{base_url}/{shop}"\n'
        parts.append(
            f'[[shops]]\nid = "{shop}"\n[shops.orders]\n{stream}{url}[shops.chat]\n{stream}{url}'
        )
    return "\n".join(parts)


# ---- the shop process ----


def serve_shops(conn: Connection, *, shops: int, stories: int, stories_per_hour: float) -> None:
    """Child-process entry point: bind, send the port, wait for the config's path (its
    shifts and agents drive the stories), play 23 hours of history, say "ready", then add
    live stories every second until terminated."""

    async def main() -> None:
        world = World()
        runner = web.AppRunner(
            make_simulator_app(dict.fromkeys(shop_ids(shops), world), TOKEN), access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(("port", runner.addresses[0][1]))
        loop = asyncio.get_running_loop()
        config = Path(await loop.run_in_executor(None, conn.recv))
        text = await loop.run_in_executor(None, config.read_text)
        settings = parse(tomllib.loads(text), str(config), config.parent)
        scenario = Scenario(
            world,
            settings.calendar(),
            [a.id for a in settings.agents],
            stories_per_hour=stories_per_hour,
        )
        started = time.perf_counter()
        scenario.backfill(datetime.now(UTC), hours=23, stories=stories)
        conn.send(
            (
                "ready",
                {
                    "orders": len(world.orders),
                    "messages": len(world.messages),
                    "generate_seconds": round(time.perf_counter() - started, 2),
                },
            )
        )
        while True:
            await asyncio.sleep(1.0)
            scenario.step(datetime.now(UTC))

    asyncio.run(main())


# ---- measuring the daemon process from outside ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, timeout: float = 60.0) -> tuple[int, bytes, float]:
    status, body, _, seconds = scrape(port, path, timeout=timeout, compressed=False)
    return status, body, seconds


def scrape(
    port: int, path: str, *, timeout: float = 60.0, compressed: bool = True
) -> tuple[int, bytes, int, float]:
    """GET as Prometheus scrapes: it asks for gzip (``Accept-Encoding``), so the time includes
    the daemon's compression. Returns the status, the body (decompressed), the bytes on the
    wire and the seconds until the last byte."""
    headers = {"Accept-Encoding": "gzip"} if compressed else {}
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        wire = response.read()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    gzipped = response.getheader("Content-Encoding") == "gzip"
    body = gzip.decompress(wire) if gzipped else wire
    return response.status, body, len(wire), seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def lags(body: bytes, at: float) -> list[float]:
    """Every stream's watermark lag (seconds behind ``at``) in one /metrics body."""
    return [at - float(m.group(3)) for m in WATERMARK.finditer(body.decode())]


def series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def families(body: bytes, top: int = 15) -> dict[str, int]:
    """Series per metric family (histogram buckets, sums and counts under their family), the
    largest first: where the size of /metrics comes from."""
    counts: dict[str, int] = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            for suffix in ("_bucket", "_sum", "_count", "_created"):
                name = name.removesuffix(suffix)
            counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return dict(ranked[:top])


def wait_for(condition: Any, seconds: float, what: str, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited ({daemon.returncode}) while {what}")
        try:
            if condition():
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {seconds:.0f} s: {what}")
        time.sleep(0.5)


def run_size(
    *,
    work: Path,
    shops: int,
    stories: int,
    stories_per_hour: float,
    poll_interval: float,
    scrape_every: float,
    agents: int,
    say: Any,
) -> dict[str, Any]:
    """One size: the shop process, the daemon process, the measurements, both stopped."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "shop-token").write_text(TOKEN)
    shop = child.Child(serve_shops, shops=shops, stories=stories, stories_per_hour=stories_per_hour)
    daemon: subprocess.Popen[bytes] | None = None
    try:
        _, shop_port = shop.recv(timeout=60)
        shop_pid = shop.pid
        assert shop_pid is not None
        config = work / "agency.toml"
        config.write_text(
            config_text(
                shops=shops,
                base_url=f"http://127.0.0.1:{shop_port}",
                database=work / "agency.db",
                poll_interval=poll_interval,
                agents=agents,
            )
        )
        shop.send(str(config))
        _, world = shop.recv(timeout=600)
        port = free_port()
        log = (work / "daemon.log").open("wb")
        t0 = time.monotonic()
        daemon = subprocess.Popen(
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
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        pid = daemon.pid
        running = daemon

        def listening() -> bool:
            return get(port, "/healthz", timeout=5)[0] == 200

        wait_for(listening, 600, "starting", running)
        startup = time.monotonic() - t0
        say(f"  {shops} shops: daemon listening after {startup:.1f} s; back-filling …")

        def backfilled() -> bool:
            _, body, _ = get(port, "/readyz")
            streams = json.loads(body).get("streams", {})
            return len(streams) == 2 * shops and not any(s["backfilling"] for s in streams.values())

        wait_for(backfilled, 3600, "back-filling", running)
        backfill = time.monotonic() - t0
        say(f"  {shops} shops: back-filled after {backfill:.1f} s; settling one interval …")
        # Caught up: one whole poll interval after the back-fill, the first evaluations of
        # the history done meanwhile.
        time.sleep(poll_interval)
        window = 4 * poll_interval
        say(f"  {shops} shops: steady window of {window:.0f} s, /metrics every {scrape_every:g} s")
        cpu0, busy0, shop_cpu0 = cpu_seconds(pid), machine_busy_seconds(), cpu_seconds(shop_pid)
        load0 = os.getloadavg()
        w0 = time.monotonic()
        scrapes: list[dict[str, float]] = []
        last_body = b""
        worst: list[float] = []
        while time.monotonic() - w0 < window:
            at = time.time()
            status, body, wire, seconds = scrape(port, "/metrics")
            if status != 200:
                raise RuntimeError(f"/metrics answered {status}")
            found = lags(body, at)
            scrapes.append(
                {"seconds": seconds, "bytes": len(body), "wire": wire, "series": series(body)}
            )
            last_body = body
            worst.append(max(found, default=0.0))
            time.sleep(max(0.0, scrape_every - (time.time() - at)))
        elapsed = time.monotonic() - w0
        cpu = cpu_seconds(pid) - cpu0
        shop_cpu = cpu_seconds(shop_pid) - shop_cpu0
        busy = machine_busy_seconds() - busy0
        memory = child.proc_status(pid)
        times = sorted(s["seconds"] for s in scrapes)
        worst_lag = max(worst, default=0.0)
        cores = os.cpu_count() or 1
        result = {
            "shops": shops,
            "streams": 2 * shops,
            "agents": agents,
            "stories_per_shop": stories,
            "live_stories_per_shop_per_hour": stories_per_hour,
            "world": world,
            "poll_interval_s": poll_interval,
            "settle_s": SETTLE_SECONDS,
            "startup_s": round(startup, 1),
            "backfill_s": round(backfill, 1),
            "steady": {
                "window_s": round(elapsed, 1),
                "cpu_share": round(cpu / elapsed, 3),
                "shop_process_cpu_share": round(shop_cpu / elapsed, 3),
                "max_lag_s": round(worst_lag, 1),
                "max_lag_beyond_settle_s": round(worst_lag - SETTLE_SECONDS, 1),
                "starved": worst_lag - SETTLE_SECONDS >= 2 * poll_interval,
            },
            "scrape": {
                "count": len(scrapes),
                "median_ms": round(statistics.median(times) * 1000, 1),
                "max_ms": round(times[-1] * 1000, 1),
                "bytes": scrapes[-1]["bytes"],
                "wire_bytes": scrapes[-1]["wire"],
                "series": scrapes[-1]["series"],
                "families": families(last_body),
            },
            "memory": memory,
            "load": {
                "loadavg_before": [round(x, 2) for x in load0],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                "foreign_cpu_share": round(max(0.0, busy - cpu - shop_cpu) / (elapsed * cores), 3),
            },
        }
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        result["log_lines"] = sum(1 for _ in (work / "daemon.log").open("rb"))
        return result
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        shop.kill()


def summary_line(result: dict[str, Any]) -> str:
    steady, scrape, memory = result["steady"], result["scrape"], result["memory"]
    return (
        f"{result['shops']:,} shops: back-fill {result['backfill_s']:.0f} s; steady CPU "
        f"{steady['cpu_share']:.0%} of a core; RSS peak {memory['vm_hwm_mib']:.0f} MiB "
        f"(now {memory['vm_rss_mib']:.0f}); /metrics {scrape['median_ms']:.0f} ms "
        f"(max {scrape['max_ms']:.0f}), {scrape['bytes'] / 1e6:.2f} MB "
        f"({scrape['wire_bytes'] / 1e6:.2f} MB gzip), "
        f"{scrape['series']:,} series; worst lag beyond settle "
        f"{steady['max_lag_beyond_settle_s']:.0f} s (poll {result['poll_interval_s']:g} s); "
        f"machine: {result['load']['foreign_cpu_share']:.0%} foreign CPU"
    )
