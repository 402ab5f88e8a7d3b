"""The bench phases that hold a daemon. Each runs in its own process (see ``bench.child``);
the first argument is the pipe to the orchestrator."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bench import config, gen, profiling, raw
from bench.child import memory
from bench.config import SHOP, Clock
from bench.server import ShopControl
from bench.sqltimer import SqlTimer
from connectors.wire import rfc3339
from daemon import logs
from daemon.app import Daemon


def _log_to(path: Path) -> None:
    """The daemon's production logging (JSON lines), into a file instead of the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logs.configure(level="INFO", json=True)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(path.open("a", encoding="utf-8"))


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


class LoopMonitor:
    """The longest stretch the event loop went without running a 10 ms timer: how long a
    /metrics scrape or a poll job could have been kept waiting."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.worst = 0.0
        self.over_100ms = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            late = time.perf_counter() - t - self.period
            self.worst = max(self.worst, late)
            self.over_100ms += late > 0.1

    def stop(self) -> dict[str, float]:
        if self.task is not None:
            self.task.cancel()
        return {"worst_block_s": round(self.worst, 3), "blocks_over_100ms": self.over_100ms}


async def _counts(daemon: Daemon) -> dict[str, Any]:
    async with daemon.engine.connect() as conn:
        result: dict[str, Any] = {}
        for table in ("order_versions", "messages", "violations", "undecidable_subjects"):
            result[table] = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        by_rule = await conn.execute(
            text("SELECT rule, count(*) FROM violations GROUP BY rule ORDER BY rule")
        )
        result["violations_by_rule"] = dict(by_rule.tuples().all())
    return result


# ---- raw bound ----


def raw_bound(conn: Connection, *, base_url: str, since: str, database: str, observed: str) -> Any:
    return {**raw.run(base_url, since, Path(database), observed), "memory": memory()}


# ---- backfill (and the idle scrape, on the same settled daemon) ----


def extra_pragmas(daemon: Daemon, pragmas: list[str]) -> None:
    """An experiment: more ``PRAGMA``s on each of the daemon's SQLite connections, after the
    daemon's own (``--sqlite-pragma``; the results record them)."""
    if not pragmas:
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    event.listen(daemon.engine.sync_engine, "connect", on_connect)


class ReadAhead:
    """An experiment (``--read-ahead``): wraps a poller's source so that returning page N
    starts fetching page N+1 at once, overlapping the HTTP request and JSON validation with
    the store's write of page N (what a one-page read-ahead in the poller would do)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.pending: dict[tuple[str, Any, str], asyncio.Task[Any]] = {}

    async def _fetch(self, name: str, since: Any, token: str | None) -> Any:
        task = self.pending.pop((name, since, token or ""), None)
        page = await task if task is not None else await getattr(self.source, name)(since, token)
        for stale in self.pending.values():
            stale.cancel()
        self.pending.clear()
        if page.next_page_token is not None:
            nxt = page.next_page_token
            self.pending[(name, since, nxt)] = asyncio.create_task(
                getattr(self.source, name)(since, nxt)
            )
        return page

    async def fetch_orders(self, since: Any, page_token: str | None) -> Any:
        return await self._fetch("fetch_orders", since, page_token)

    async def fetch_messages(self, since: Any, page_token: str | None) -> Any:
        return await self._fetch("fetch_messages", since, page_token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def backfill(
    conn: Connection,
    *,
    workdir: str,
    base_url: str,
    now: str,
    profile: str | None = None,
    pragmas: list[str] | None = None,
    read_ahead: bool = False,
) -> Any:
    return asyncio.run(
        _backfill(
            conn,
            Path(workdir),
            base_url,
            datetime.fromisoformat(now),
            profile,
            pragmas or [],
            read_ahead,
        )
    )


async def _backfill(
    conn: Connection,
    workdir: Path,
    base_url: str,
    now: datetime,
    profile: str | None,
    pragmas: list[str],
    read_ahead: bool,
) -> dict[str, Any]:
    log_path = workdir / "daemon.log"
    _log_to(log_path)
    settings = config.settings(workdir, base_url=base_url, database=workdir / "backfill.db")
    clock = Clock(now)
    daemon = Daemon(settings, clock=clock)
    extra_pragmas(daemon, pragmas)
    await daemon.prepare()
    _, port = await daemon.serve_http()
    assert daemon.watch is not None
    if read_ahead:
        for poller in daemon.watch.pollers:
            poller.source = ReadAhead(poller.source)
    conn.send(("listening", port))
    monitor = LoopMonitor()
    monitor.start()
    timer = SqlTimer(daemon.engine)  # a few microseconds per statement
    profiler = profiling.start() if profile else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    polls = 0
    while not all(p.state and p.state.last_success_at for p in daemon.watch.pollers):
        polls += 1
        if polls > 3:
            raise RuntimeError(f"backfill polls keep failing: {daemon.stream_status()}")
        await daemon.poll_all()
    t1 = time.perf_counter()
    ticks: list[dict[str, Any]] = []
    while len(ticks) < 20:
        started = time.perf_counter()
        buyers = 0
        for evaluator in daemon.watch.evaluators.values():
            buyers += await evaluator.tick()
        ticks.append({"buyers": buyers, "seconds": round(time.perf_counter() - started, 3)})
        if buyers == 0:
            break
    t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    profile_summary = (
        profiling.finish(
            profiler, Path(profile), "backfill: poll_all until read, tick until settled"
        )
        if profiler and profile
        else None
    )
    sql = timer.report()
    timer.close()
    loop = monitor.stop()
    counts = await _counts(daemon)
    evaluator = next(iter(daemon.watch.evaluators.values()))
    result = {
        "ingest_seconds": t1 - t0,
        "evaluate_seconds": t2 - t1,
        "seconds": t2 - t0,
        "cpu_seconds": cpu,
        "polls": polls,
        "ticks": ticks,
        "stored": counts,
        "open_items": len(evaluator.open_items()),
        "log_lines": _count_lines(log_path),
        "loop": loop,
        "sql": sql,
        "profile": profile_summary,
    }
    conn.send(("settled", result))
    # The orchestrator scrapes /metrics of the settled, idle daemon, then says "stop".
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await daemon.stop()
    result["memory"] = memory()
    return result


# ---- growth: one tick with the same small new work over small and large stores ----


def build_growth_dbs(conn: Connection, *, stores: list[dict[str, Any]], now: str) -> Any:
    """Stores holding ``orders`` orders and as many messages of the last 24 h each, written
    with plain SQL (the daemon would take far too long to backfill a million orders)."""
    at = datetime.fromisoformat(now)
    built = []
    for store in stores:
        started = time.perf_counter()
        path = Path(store["database"])
        raw.create_schema(path)
        order_rows, message_rows, buyers = gen.growth_rows(
            orders=store["orders"], messages=store["messages"], now=at
        )
        db = raw.connect(path)
        db.execute("BEGIN")
        db.executemany(raw.ORDER_SQL, order_rows)
        db.executemany(raw.MESSAGE_SQL, message_rows)
        del order_rows, message_rows
        mark = raw.sql_time(rfc3339(at - timedelta(seconds=60)))
        history = raw.sql_time(rfc3339(at - timedelta(hours=24)))
        for stream in ("orders", "chat"):
            db.execute(
                "INSERT INTO stream_state (shop, stream, history_start, watermark, "
                "last_success_at, updated_at) VALUES (?,?,?,?,?,?)",
                (SHOP, stream, history, mark, mark, mark),
            )
        db.execute("COMMIT")
        db.close()
        built.append(
            {
                **store,
                "buyers": buyers,
                "seconds": time.perf_counter() - started,
                "file_mib": round(path.stat().st_size / 1024**2, 1),
            }
        )
    return built


def growth(
    conn: Connection,
    *,
    workdir: str,
    control_port: int,
    now: str,
    stores: list[dict[str, Any]],
    dirty: int,
    rounds: int,
    profile: str | None = None,
) -> Any:
    return asyncio.run(
        _growth(
            Path(workdir), control_port, datetime.fromisoformat(now), stores, dirty, rounds, profile
        )
    )


async def _growth(
    workdir: Path,
    control_port: int,
    now: datetime,
    stores: list[dict[str, Any]],
    dirty: int,
    rounds: int,
    profile: str | None,
) -> dict[str, Any]:
    """Both stores open at once, each behind its own daemon; every round injects the same
    ``dirty`` buyers' new messages (buyers that exist in both stores), each daemon polls
    them and ticks, the order alternating; only the ticks are timed."""
    _log_to(workdir / "growth.log")
    control = ShopControl(control_port)
    control.call("reset", {"now": now.isoformat()})
    clock = Clock(now)
    daemons = []
    for store in stores:
        settings = config.settings(
            workdir / f"growth-{store['label']}",
            base_url=control.base_url,
            database=Path(store["database"]),
        )
        daemon = Daemon(settings, clock=clock)
        await daemon.prepare()
        assert daemon.watch is not None
        # After a start the first tick re-evaluates every buyer active in the horizon (the
        # restart cost, which the backfill measures); a running daemon has done that long
        # ago. Mark it done so the tick holds only the new work.
        daemon.watch.evaluators[SHOP].started = True
        daemons.append(daemon)
    largest = len(stores) - 1
    timers = [SqlTimer(daemon.engine, active=False) for daemon in daemons]
    profiler = None
    times: list[list[float]] = [[] for _ in stores]
    looked_at: list[list[int]] = [[] for _ in stores]
    population = min(store["buyers"] for store in stores)
    rng = random.Random(3)
    for r in range(rounds + 1):
        chosen = rng.sample(range(population), dirty)
        sent = rfc3339(clock.now())
        msgs = [
            {
                "id": f"g{r:03d}-{i:05d}",
                "conversation_id": f"c-b{b:08d}",
                "buyer_id": f"b{b:08d}",
                "direction": "buyer" if i % 2 == 0 else "agent",
                "agent_id": None if i % 2 == 0 else gen.DAY_AGENTS[i % len(gen.DAY_AGENTS)],
                "is_auto": False,
                "sent_at": sent,
                "text": "还有货吗？" if i % 2 == 0 else "亲，有货的哦",
            }
            for i, b in enumerate(chosen)
        ]
        control.call("inject", {"messages": msgs})
        clock.advance(2)
        order = list(range(len(daemons)))
        if r % 2:
            order.reverse()
        for index in order:
            daemon = daemons[index]
            await daemon.poll_all()
            evaluator = daemon.watch.evaluators[SHOP]  # type: ignore[union-attr]
            profiled = profile is not None and index == largest and r > 0
            if profiled:
                if profiler is None:
                    profiler = profiling.start()
                else:
                    profiler.start()
            timers[index].active = r > 0
            started = time.perf_counter()
            looked = await evaluator.tick()
            elapsed = time.perf_counter() - started
            timers[index].active = False
            if profiler is not None and profiled:
                profiler.stop()
            if r > 0:  # round 0 warms the statement caches
                times[index].append(elapsed)
                looked_at[index].append(looked)
    profile_summary = None
    if profiler is not None:
        profile_summary = profiling.finish(
            profiler,
            Path(profile),  # type: ignore[arg-type]
            f"growth: {rounds} ticks of {dirty} dirty buyers over {stores[largest]['orders']} "
            "stored orders",
        )
    results = []
    for index, store in enumerate(stores):
        counts = await _counts(daemons[index])
        await daemons[index].stop()
        results.append(
            {
                "label": store["label"],
                "orders": store["orders"],
                "messages": store["messages"],
                "tick_median_s": statistics.median(times[index]),
                "tick_min_s": min(times[index]),
                "tick_max_s": max(times[index]),
                "ticks_s": [round(t, 4) for t in times[index]],
                "buyers_per_tick": statistics.median(looked_at[index]),
                "recorded": {k: counts[k] for k in ("violations", "undecidable_subjects")},
                "sql_per_tick": [
                    {
                        **row,
                        "seconds": round(row["seconds"] / len(times[index]), 4),
                        "cursor_seconds": round(row["cursor_seconds"] / len(times[index]), 4),
                        "sqlalchemy_seconds": round(
                            row["sqlalchemy_seconds"] / len(times[index]), 4
                        ),
                    }
                    for row in timers[index].report()
                ],
            }
        )
    results[largest]["profile"] = profile_summary
    return {"stores": results, "memory": memory()}


# ---- sustained: the highest rate at which the watermark lag stays under 2 poll intervals ----


def sustained(conn: Connection, **kwargs: Any) -> Any:
    return asyncio.run(_sustained(conn, **kwargs))


def _timed_poll(poller: Any, into: list[float], window: dict[str, bool]) -> Any:
    """Wrap one poller's ``poll`` (what the scheduler's job calls) to time each poll that
    starts inside the measuring window."""
    inner = poller.poll

    async def poll() -> bool:
        started = time.perf_counter()
        counted = window["open"]
        try:
            return bool(await inner())
        finally:
            if counted:
                into.append(time.perf_counter() - started)

    return poll


async def _sustained_step(
    *,
    index: int,
    rate: float,
    seconds: float,
    workdir: Path,
    control: ShopControl,
    poll_interval: float,
    settle: str,
    evaluation_interval: str,
) -> dict[str, Any]:
    threshold = 2 * poll_interval
    control.call("reset", {"now": datetime.now(UTC).isoformat()})
    settings = config.settings(
        workdir / f"sustained-{index:02d}",
        base_url=control.base_url,
        database=workdir / f"sustained-{index:02d}" / "db.sqlite",
        poll_interval=f"{poll_interval}s",
        settle=settle,
        backfill="1m",
        evaluation_interval=evaluation_interval,
    )
    daemon = Daemon(settings)
    await daemon.prepare()
    assert daemon.watch is not None
    window = {"open": False}  # measuring: polls and evaluations starting now are counted
    ticks: list[tuple[float, int]] = []
    evaluator = daemon.watch.evaluators[SHOP]
    inner_tick = evaluator.tick

    async def timed_tick() -> int:  # every evaluation, scheduled or right after a poll
        counted = window["open"]
        started = time.perf_counter()
        looked = await inner_tick()
        if counted:
            ticks.append((time.perf_counter() - started, looked))
        return looked

    evaluator.tick = timed_tick  # type: ignore[method-assign]
    poll_times: dict[str, list[float]] = {"orders": [], "chat": []}
    for poller in daemon.watch.pollers:
        poller.poll = _timed_poll(poller, poll_times[poller.stream.value], window)  # type: ignore[method-assign]
    control.call("drive", {"rate": rate, "ratio": 5})
    daemon.start_scheduler()
    pollers = daemon.watch.pollers
    deadline = time.monotonic() + 20
    while not all(p.state and p.state.last_success_at for p in pollers):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # warm-up: first ticks, caches
    window["open"] = True
    lags: list[float] = []
    worst = 0.0
    failed_at = None
    cpu0 = os.times()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.05)
        marks = [p.state.watermark for p in pollers if p.state is not None]
        lag = (datetime.now(UTC) - min(marks)).total_seconds()
        lags.append(lag)
        worst = max(worst, lag)
        if lag >= threshold:
            failed_at = time.monotonic() - t0
            break
    window["open"] = False
    elapsed = time.monotonic() - t0
    cpu1 = os.times()
    driven = control.call("drive", {"rate": 0})
    stored: dict[str, int] = {}
    complete = None
    if failed_at is None:
        # Let the scheduler read the last of it: a poll of each stream started after now.
        stopped = datetime.now(UTC)
        deadline = time.monotonic() + 10 * poll_interval
        while time.monotonic() < deadline:
            if all(
                p.state and p.state.last_success_at and p.state.last_success_at > stopped
                for p in pollers
            ):
                break
            await asyncio.sleep(0.05)
        stored = await _counts(daemon)
        complete = (
            stored["order_versions"] >= driven["orders"]
            and stored["messages"] >= driven["messages"]
        )
    polls = {
        stream: {
            "polls": len(times),
            "median_s": round(statistics.median(times), 3) if times else None,
            "max_s": round(max(times), 3) if times else None,
        }
        for stream, times in poll_times.items()
    }
    await daemon.stop()
    await asyncio.sleep(0.2)
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {
        "rate_orders_per_s": rate,
        "rate_messages_per_s": rate * 5,
        "seconds": round(elapsed, 2),
        "passed": failed_at is None,
        "failed_after_s": None if failed_at is None else round(failed_at, 2),
        "max_lag_s": round(worst, 3),
        "median_lag_s": round(statistics.median(lags), 3) if lags else None,
        "driven": {"orders": driven["orders"], "messages": driven["messages"]},
        "stored": stored,
        "complete": complete,
        "daemon_cpu_share": round(cpu / elapsed, 3) if elapsed else None,
        "polls": polls,
        "ticks": len(ticks),
        "tick_max_s": round(max((t for t, _ in ticks), default=0.0), 3),
        "tick_buyers_max": max((n for _, n in ticks), default=0),
    }


async def _sustained(
    conn: Connection,
    *,
    workdir: str,
    control_port: int,
    start_rate: float,
    search_seconds: float,
    confirm_seconds: float,
    poll_interval: float,
    settle: str,
    evaluation_interval: str,
    max_steps: int,
    bisect_steps: int,
    cap: float,
) -> dict[str, Any]:
    _log_to(Path(workdir) / "sustained.log")
    control = ShopControl(control_port)
    steps: list[dict[str, Any]] = []

    async def step(rate: float, seconds: float) -> bool:
        rate = float(max(1, round(rate)))
        result = await _sustained_step(
            index=len(steps),
            rate=rate,
            seconds=seconds,
            workdir=Path(workdir),
            control=control,
            poll_interval=poll_interval,
            settle=settle,
            evaluation_interval=evaluation_interval,
        )
        steps.append(result)
        conn.send(("step", result))
        return bool(result["passed"])

    lo, hi = 0.0, math.inf
    rate = start_rate
    while len(steps) < max_steps:  # bracket: double while it holds, halve while it fails
        if await step(rate, search_seconds):
            lo = rate
            if hi != math.inf or rate >= cap:
                break
            rate = min(cap, rate * 2)
        else:
            hi = rate
            if lo > 0:
                break
            rate /= 2
            if rate < 1:
                break
    for _ in range(bisect_steps):
        if lo <= 0 or hi == math.inf or hi / lo < 1.2:
            break
        mid = math.sqrt(lo * hi)
        if await step(mid, search_seconds):
            lo = mid
        else:
            hi = mid
    confirmed = 0.0
    for _ in range(3):
        if lo < 1:
            break
        if await step(lo, confirm_seconds):
            confirmed = lo
            break
        hi, lo = lo, lo * 0.7
    return {
        "confirmed_orders_per_s": round(confirmed),
        "confirmed_messages_per_s": round(confirmed) * 5,
        "upper_failed_orders_per_s": None if hi == math.inf else round(hi),
        "confirm_seconds": confirm_seconds,
        "steps": steps,
        "memory": memory(),
    }
