"""``shopwatch demo`` and ``shopwatch simulate``: the built-in simulated shop.

``demo`` runs the simulated shop and the daemon in one process, no set-up. The simulator
plays 30 hours of back-dated history at start, so the first evaluation already finds
violations; then new buyers arrive every few seconds. The demo's config (shipped in the
package), SQLite file and tokens live in a state directory (``var/demo/`` by default) and are
started afresh each run, since the simulated shop is new each run too.

``simulate`` runs the simulated shop alone, so an operator can point a real install at it
and tests can start it as a separate process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon import service
from daemon.app import Daemon
from daemon.clock import Clock, SystemClock
from daemon.config.settings import Settings
from daemon.simulator.app import make_simulator_app
from daemon.simulator.scenario import PLAN_AHEAD, PRESENCE_HISTORY, Scenario, lunch_break
from daemon.simulator.world import World
from daemon.store import migrate
from daemon.store.engine import create_engine
from daemon.store.people import PeopleBook
from daemon.store.users import UserBook

log = structlog.get_logger("shopwatch.demo")

SIMULATOR_LISTEN = ("127.0.0.1", 9311)
DEMO_CONFIG = "demo.toml"


def write_demo_config(state_directory: Path) -> Path:
    """The packaged demo config, written into ``state_directory`` with its database there."""
    state_directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    template = (resources.files("daemon.simulator") / DEMO_CONFIG).read_text(encoding="utf-8")
    path = state_directory / DEMO_CONFIG
    path.write_text(
        template.replace("{state_directory}", str(state_directory.resolve())), encoding="utf-8"
    )
    return path


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value)


def prepare_state(settings: Settings) -> str:
    """Fresh tokens and database for this run; returns the shop token."""
    token = secrets.token_urlsafe(24)
    for shop in settings.shops:
        for stream in (shop.orders, shop.chat):
            if stream.token_file is not None:  # None: a kind reading no endpoint (files)
                _write_secret(stream.token_file, token)
    if settings.api_token_file is not None:
        _write_secret(settings.api_token_file, secrets.token_urlsafe(24))
    if settings.console.session_key_file is not None:
        _write_secret(settings.console.session_key_file, secrets.token_urlsafe(48))
    prefix = "sqlite+aiosqlite:///"
    if settings.database_url.startswith(prefix):
        db = Path(settings.database_url.removeprefix(prefix))
        for suffix in ("", "-wal", "-shm", ".id"):  # .id: the marker that one was there
            with contextlib.suppress(FileNotFoundError):
                Path(f"{db}{suffix}").unlink()
    return token


async def _drive(scenario: Scenario, clock: SystemClock) -> None:
    while True:
        scenario.step(clock.now())
        await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def simulated_shop(
    settings: Settings, listen: tuple[str, int], token: str | Callable[[], str]
) -> AsyncIterator[tuple[str, int]]:
    """The simulated shop serving on ``listen`` while the context lasts; yields the bound
    address (port 0 picks a free one). Its shifts and agents come from ``settings``."""
    clock = SystemClock()
    world = World()
    scenario = Scenario(world, settings.calendar(), [a.id for a in settings.agents])
    scenario.backfill(clock.now())
    scenario.step(clock.now())
    runner = web.AppRunner(make_simulator_app(world, token), access_log=None)
    await runner.setup()
    driver: asyncio.Task[None] | None = None
    try:
        await web.TCPSite(runner, *listen).start()
        driver = asyncio.create_task(_drive(scenario, clock))
        host, port = runner.addresses[0][:2]
        yield str(host), int(port)
    finally:
        if driver is not None:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
        await runner.cleanup()


async def simulate(settings: Settings, listen: tuple[str, int], token_file: Path) -> int:
    """``shopwatch simulate``: the simulated shop alone until SIGTERM or Ctrl-C. The token
    is read from ``token_file`` at every request, so it can be rotated under it."""

    def token() -> str:
        return token_file.read_text(encoding="utf-8").splitlines()[0].strip()

    token()  # refuse at start, not at the first request, when the file is unreadable
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with simulated_shop(settings, listen, token) as (host, port):
        log.info("simulated shop serving", address=f"http://{host}:{port}")
        print(f"simulated shop at http://{host}:{port} (token: {token_file})", flush=True)
        await stop.wait()
    log.info("simulated shop stopped")
    return 0


async def demo(settings: Settings, config_path: Path, state_directory: Path | None = None) -> int:
    token = prepare_state(settings)
    books = await write_history(settings)
    async with simulated_shop(settings, SIMULATOR_LISTEN, token):
        return await _run_daemon(
            settings, config_path, state_directory or config_path.parent, books
        )


CONSOLE_LOGINS = "console-login.txt"
_background: set[asyncio.Task[None]] = set()


async def console_logins(daemon: Daemon, state_directory: Path) -> Path:
    """A supervisor and an agent (the roster's first) with throw-away passwords, written
    one per line as ``role name password`` to ``console-login.txt`` (mode 0600)."""
    settings = daemon.settings
    now = SystemClock().now()
    book = UserBook(daemon.engine)
    people: list[tuple[str, str, str | None]] = [("supervisor", "supervisor", None)]
    if settings.agents:
        first = settings.agents[0].id
        people.append(("agent", f"agent-{first}", first))
    lines = []
    for role, name, agent in people:
        password = secrets.token_urlsafe(12)
        await book.add(
            name=name,
            role=role,
            agent=agent,
            password=password,
            by="demo",
            now=now,
            roster=settings.roster,
        )
        lines.append(f"{role} {name} {password}\n")
    path = state_directory / CONSOLE_LOGINS
    _write_secret(path, "".join(lines))
    return path


async def _announce_console(daemon: Daemon, base: str, state_directory: Path) -> None:
    try:
        path = await console_logins(daemon, state_directory)
    except Exception:
        log.exception("the demo's console users could not be created")
        return
    print(f"  console          {base}/   (names and passwords: {_shown(path)})\n", flush=True)


NOTE_BEFORE_END = timedelta(minutes=10)
"""When the demo's agents write their handover note: this long before the shift ends."""
_people_writers: set[asyncio.Task[None]] = set()


class PeopleBooks:
    """The demo's people in shopwatch's own books (SPEC §6): every lunch break the simulated
    shop plans is a leave the supervisor approved, and each shift that hands over gets its
    note ten minutes before it ends — all but the last one that ended before the demo
    started, whose missing note CS108 reports at once; then the notes of the shifts that end
    while the demo runs."""

    def __init__(self, settings: Settings, engine: AsyncEngine, clock: Clock) -> None:
        self.settings = settings
        self.calendar = settings.calendar()
        self.book = PeopleBook(engine)
        self.clock = clock
        self.start = clock.now() - PRESENCE_HISTORY
        self.handing_over = {shift.name for shift in settings.shifts if shift.handover}
        self.written: set[tuple[str, date]] = set()
        self.missing: tuple[str, date] | None = None

    async def write_leaves(self) -> None:
        now = self.clock.now()
        for interval in self.calendar.intervals(self.start, now + PLAN_AHEAD):
            if interval.start < self.start:
                continue
            on_duty = [a for a in interval.agents if self.calendar.works(a, interval)]
            for index, agent in enumerate(on_duty):
                lunch = lunch_break(interval.start, interval.end, index)
                if lunch is not None:
                    await self.book.add_leave(
                        agent=agent,
                        start=lunch[0],
                        end=lunch[1],
                        by="demo supervisor",
                        reason="lunch break",
                        now=now,
                        roster=self.settings.roster,
                    )

    async def write_notes(self) -> None:
        """The notes due by now and not written yet (at the start: the history's)."""
        now = self.clock.now()
        due = [
            iv
            for iv in self.calendar.intervals(self.start, now)
            if iv.shift in self.handing_over
            and iv.end - NOTE_BEFORE_END <= now
            and (iv.shift, iv.day) not in self.written
            and any(self.calendar.works(a, iv) for a in iv.agents)
        ]
        if not self.written:
            ended = [iv for iv in due if iv.end <= now]
            last = max(ended, key=lambda iv: iv.end, default=None)
            self.missing = (last.shift, last.day) if last is not None else None
        for interval in due:
            key = (interval.shift, interval.day)
            self.written.add(key)
            if key == self.missing:
                continue  # the missing handover (CS108)
            await self.book.add_handover(
                shift=interval.shift,
                day=interval.day,
                by=next(a for a in interval.agents if self.calendar.works(a, interval)),
                text="交接：未结事项已记录 / open items noted",
                now=min(interval.end - NOTE_BEFORE_END, now),
                shifts=self.handing_over,
                calendar=self.calendar,
            )


async def write_history(settings: Settings) -> PeopleBooks:
    """The leaves and notes of the back-filled history, written before the daemon starts, so
    its first evaluation finds them (a fresh demo database is migrated here first)."""
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        books = PeopleBooks(settings, engine, SystemClock())
        await books.write_leaves()
        await books.write_notes()
    finally:
        await engine.dispose()
    return books


def _write_people_books(daemon: Daemon, books: PeopleBooks | None) -> None:
    """Then the notes of the shifts that end while the demo runs, on the daemon's engine."""
    if books is None:
        return

    async def write() -> None:
        books.book = PeopleBook(daemon.engine)
        try:
            while True:
                await asyncio.sleep(60)
                await books.write_notes()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the demo's leaves and handover notes could not be written")

    task = asyncio.get_running_loop().create_task(write())
    _people_writers.add(task)
    task.add_done_callback(_people_writers.discard)


def _shown(path: Path) -> str:
    return os.path.relpath(path.resolve())


async def _run_daemon(
    settings: Settings,
    config_path: Path,
    state_directory: Path,
    books: PeopleBooks | None = None,
) -> int:

    def started(daemon: Daemon) -> None:
        host, port = daemon.listening or settings.listen
        base = f"http://{host}:{port}"
        token = settings.api_token_file
        token_path = os.path.relpath(token.resolve()) if token else "(none)"
        auth = f'-H "Authorization: Bearer $(cat {token_path})"'
        print(
            "\nshopwatch demo is running (Ctrl-C stops it).\n"
            f"  simulated shop   http://{SIMULATOR_LISTEN[0]}:{SIMULATOR_LISTEN[1]}\n"
            f"  violations       curl {auth} {base}/api/violations\n"
            f"  scorecard        curl {auth} '{base}/api/scorecard?month="
            f"{datetime.now(settings.timezone):%Y-%m}'\n"
            f"  metrics          {base}/metrics   (open, like /healthz and /readyz)\n"
            f"  readiness        {base}/readyz\n"
            f"  API token        {token_path}  (reads and writes of /api need it)\n",
            flush=True,
        )
        task = asyncio.get_running_loop().create_task(
            _announce_console(daemon, base, state_directory)
        )
        _background.add(task)
        task.add_done_callback(_background.discard)
        _write_people_books(daemon, books)

    return await service.run(settings, config_path, on_started=started)
