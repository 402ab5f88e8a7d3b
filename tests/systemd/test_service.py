"""daemon.service without systemd: what a real systemd showed was missing.

One reload at a time (a SIGHUP during a reload queues one more, once); ``shopwatch reload``
(the unit's ExecReload=) returns only when the reload it asked for has finished; a rejected
reload shows in STATUS= and in the metrics; STATUS= changes as soon as the back-fill ends;
a watchdog abort (SIGABRT) leaves a Python traceback on stderr. The notification socket is
a real one (``notify_socket.py``); nothing here sleeps to synchronise: each wait is for a
condition, with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from daemon import service
from daemon.app import Daemon
from daemon.config.settings import Settings
from daemon.sdnotify import (
    ReloadState,
    SystemdNotifier,
    read_reload_state,
    request_reload,
    write_reload_state,
)
from daemon.simulator.world import World
from tests.daemon.fakes import ScriptedSource, settings_for
from tests.daemon.shop import simulator
from tests.daemon.test_process import free_port, write_config

from .notify_socket import NotifyReceiver, bound_socket

#: Only a bound against hanging when something is broken (a loaded CI machine is slow).
DEADLINE = 60.0
BROKEN = "\n[rules.CS101]\nwithinn = '60m'\n"


@pytest.fixture
def notify() -> Iterator[NotifyReceiver]:
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        path = os.path.join(directory, "notify")
        sock = bound_socket(path)
        try:
            yield NotifyReceiver(sock, path)
        finally:
            sock.close()


async def until(condition: Callable[[], bool], what: str, seconds: float = DEADLINE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def next_message(receiver: NotifyReceiver, prefix: str, seconds: float = DEADLINE) -> str:
    """The next datagram starting with ``prefix`` (others are skipped), within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            text = (await receiver.recv_async()).text
        except TimeoutError:  # nothing for RECV_TIMEOUT: a slow machine, or nothing coming
            if time.monotonic() > deadline:
                raise
            continue
        if text.startswith(prefix):
            return text


@dataclass
class FakeDaemon:
    """What service.run needs of a Daemon; each reload waits until the test lets it end."""

    metrics: Any = field(default_factory=lambda: _Metrics())
    scheduler: Any = None
    reloads: list[Settings] = field(default_factory=list)
    active: int = 0
    most_at_once: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def status_line(self) -> str:
        return "watching 1 shop(s)"

    async def reload(self, settings: Settings) -> None:
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        self.entered.set()
        try:
            await self.release.wait()
        finally:
            self.active -= 1
            self.release.clear()
        self.reloads.append(settings)


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


def metric(daemon: FakeDaemon, name: str) -> float | None:
    value = daemon.metrics.registry.get_sample_value(name)
    return None if value is None else float(value)


def append(path: Path, text: str) -> str:
    """Append ``text`` to the file; returns what it held before."""
    before = path.read_text()
    path.write_text(before + text)
    return before


def restore(path: Path, text: str) -> None:
    path.write_text(text)


def add_a_second_shop(config: Path) -> str:
    """Copy shop "s" as "s2"; returns the config as it was."""
    good = config.read_text()
    second = good.replace('id = "s"', 'id = "s2"')
    restore(config, good + second[second.index("[[shops]]") : second.index("[[agents]]")])
    return good


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "shopwatch.toml"
    write_config(path, base_url="http://127.0.0.1:1", port=free_port())
    return path


def reloader_for(
    daemon: FakeDaemon, config: Path, receiver: NotifyReceiver, state: Path | None
) -> service.Reloader:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": receiver.notify_socket})
    status = service.StatusReporter(daemon, notifier)  # type: ignore[arg-type]
    return service.Reloader(
        daemon,  # type: ignore[arg-type]
        config,
        notifier,
        status,
        service.ReloadMetrics(daemon.metrics.registry),
        state_directory=state,
    )


# --- one reload at a time ----------------------------------------------------------------


async def test_requests_during_a_reload_queue_exactly_one_more_never_a_parallel_one(
    config: Path, notify: NotifyReceiver, tmp_path: Path
) -> None:
    daemon = FakeDaemon()
    reloader = reloader_for(daemon, config, notify, tmp_path)
    reloader.open()

    reloader.request()
    await asyncio.wait_for(daemon.entered.wait(), DEADLINE)
    daemon.entered.clear()
    for _ in range(3):  # three SIGHUPs while the first reload runs
        reloader.request()
    assert daemon.active == 1
    daemon.release.set()

    await asyncio.wait_for(daemon.entered.wait(), DEADLINE)  # the queued one
    daemon.entered.clear()
    reloader.request()  # one during the queued reload: queued again, once
    daemon.release.set()
    await asyncio.wait_for(daemon.entered.wait(), DEADLINE)
    daemon.release.set()
    await until(lambda: reloader.state.finished == 3, "three reloads")

    assert len(daemon.reloads) == 3
    assert daemon.most_at_once == 1
    assert reloader.state == ReloadState(pid=os.getpid(), started=3, finished=3)
    assert read_reload_state(tmp_path) == reloader.state
    await reloader.close()


async def test_a_request_while_starting_runs_once_started(
    config: Path, notify: NotifyReceiver
) -> None:
    daemon = FakeDaemon()
    reloader = reloader_for(daemon, config, notify, None)
    reloader.request()
    reloader.request()
    await asyncio.sleep(0)
    assert daemon.reloads == [] and not daemon.entered.is_set()

    reloader.open()
    await asyncio.wait_for(daemon.entered.wait(), DEADLINE)
    daemon.release.set()
    await until(lambda: reloader.state.finished == 1, "the reload")
    assert len(daemon.reloads) == 1


# --- a rejected reload is visible --------------------------------------------------------


async def test_a_rejected_reload_shows_in_status_and_metrics_until_one_succeeds(
    config: Path, notify: NotifyReceiver, tmp_path: Path
) -> None:
    daemon = FakeDaemon()
    daemon.release.set()
    reloader = reloader_for(daemon, config, notify, tmp_path)
    reloader.open()
    assert metric(daemon, "shopwatch_config_last_reload_successful") == 1
    assert metric(daemon, "shopwatch_config_reload_failures_total") == 0

    good = append(config, BROKEN)
    reloader.request()
    assert (await next_message(notify, "RELOADING=1")).startswith("RELOADING=1\nMONOTONIC_USEC=")
    ready = await next_message(notify, "READY=1")
    assert ready.startswith("READY=1\nSTATUS=watching 1 shop(s); config reload rejected: ")
    assert "withinn" in ready
    await until(lambda: reloader.state.finished == 1, "the rejected reload")
    assert daemon.reloads == []  # the daemon never saw the broken config
    assert metric(daemon, "shopwatch_config_last_reload_successful") == 0
    assert metric(daemon, "shopwatch_config_reload_failures_total") == 1
    state = read_reload_state(tmp_path)
    assert state is not None and not state.ok and "withinn" in (state.error or "")

    # The periodic status keeps saying so: the rejection is not overwritten.
    reloader.status.update()
    assert notify.drain() == []
    assert "config reload rejected" in reloader.status.line()

    restore(config, good)
    reloader.request()
    assert await next_message(notify, "READY=1") == "READY=1\nSTATUS=watching 1 shop(s)"
    await until(lambda: reloader.state.finished == 2, "the good reload")
    assert len(daemon.reloads) == 1
    assert metric(daemon, "shopwatch_config_last_reload_successful") == 1
    assert metric(daemon, "shopwatch_config_reload_failures_total") == 1
    assert read_reload_state(tmp_path) == ReloadState(pid=os.getpid(), started=2, finished=2)


# --- ExecReload=: shopwatch reload waits for the reload ---------------------------------


@asynccontextmanager
async def running_service(
    daemon: FakeDaemon, config: Path, receiver: NotifyReceiver, state: Path
) -> AsyncIterator[asyncio.Task[int]]:
    """service.run in this process, with its real signal handlers; stopped with SIGTERM."""
    started = asyncio.Event()
    task = asyncio.create_task(
        service.run(
            service.load_checked(config),
            config,
            notifier=SystemdNotifier({"NOTIFY_SOCKET": receiver.notify_socket}),
            daemon=daemon,  # type: ignore[arg-type]
            on_started=lambda _daemon: started.set(),
            state_directory=state,
        )
    )
    await asyncio.wait_for(started.wait(), DEADLINE)
    try:
        yield task
    finally:
        daemon.release.set()
        os.kill(os.getpid(), signal.SIGTERM)  # handled by run()'s loop handler
        assert await asyncio.wait_for(task, DEADLINE) == 0
    assert read_reload_state(state) is None  # withdrawn at exit


@pytest.mark.parametrize("broken", [False, True], ids=["accepted", "rejected"])
async def test_shopwatch_reload_returns_only_when_the_reload_has_finished(
    config: Path, notify: NotifyReceiver, tmp_path: Path, broken: bool
) -> None:
    daemon = FakeDaemon()
    state = tmp_path / "run"
    state.mkdir()
    async with running_service(daemon, config, notify, state):
        assert read_reload_state(state) == ReloadState(pid=os.getpid())
        if broken:
            append(config, BROKEN)
        # The real request: SIGHUP to this process, then wait for the record.
        waiting = asyncio.create_task(
            asyncio.to_thread(request_reload, os.getpid(), state, timeout=DEADLINE)
        )
        if not broken:
            await asyncio.wait_for(daemon.entered.wait(), DEADLINE)
            await next_message(notify, "RELOADING=1")
            # The daemon is reloading: the request must still be waiting.
            assert not waiting.done()
            assert daemon.reloads == []
            daemon.release.set()
        outcome = await asyncio.wait_for(waiting, DEADLINE)
        # READY=1 was sent before the request returned: systemd sees it first.
        assert any(d.text.startswith("READY=1") for d in notify.drain())
        if broken:
            assert not outcome.ok
            assert "reload rejected" in outcome.message and "withinn" in outcome.message
            assert daemon.reloads == []
        else:
            assert outcome.ok, outcome.message
            assert len(daemon.reloads) == 1


def test_request_reload_refuses_a_daemon_that_keeps_no_state(tmp_path: Path) -> None:
    signals: list[tuple[int, int]] = []
    outcome = request_reload(4242, tmp_path, kill=lambda pid, sig: signals.append((pid, sig)))
    assert not outcome.ok and "keeps no reload state" in outcome.message
    write_reload_state(tmp_path, ReloadState(pid=1111))
    outcome = request_reload(4242, tmp_path, kill=lambda pid, sig: signals.append((pid, sig)))
    assert not outcome.ok
    assert signals == []  # nothing was signalled: the state belongs to another process


def test_request_reload_gives_up_at_its_deadline_and_when_the_daemon_exits(
    tmp_path: Path,
) -> None:
    write_reload_state(tmp_path, ReloadState(pid=4242, started=2, finished=2))
    now = [100.0]
    signals: list[int] = []

    def alive(pid: int, sig: int) -> None:
        signals.append(sig)

    def advance(seconds: float) -> None:
        now[0] += seconds

    outcome = request_reload(
        4242, tmp_path, timeout=5, kill=alive, sleep=advance, monotonic=lambda: now[0]
    )
    assert not outcome.ok and "did not finish its reload in 5 s" in outcome.message
    assert signals[0] == signal.SIGHUP and set(signals[1:]) == {0}
    assert now[0] >= 105.0

    def gone(pid: int, sig: int) -> None:
        if sig == 0:
            raise ProcessLookupError(pid)

    outcome = request_reload(4242, tmp_path, kill=gone, sleep=advance, monotonic=lambda: now[0])
    assert not outcome.ok and "exited before its reload finished" in outcome.message


def test_request_reload_waits_for_a_reload_begun_after_its_signal(tmp_path: Path) -> None:
    """A reload already running when the SIGHUP is sent may have read the old file: the
    request waits for the next one (which the daemon queued), not for that one."""
    write_reload_state(tmp_path, ReloadState(pid=4242, started=5, finished=4))
    script = [
        ReloadState(pid=4242, started=5, finished=5),  # the running one ends
        ReloadState(pid=4242, started=6, finished=5),  # the queued one begins
        ReloadState(pid=4242, started=6, finished=6, ok=False, error="bad"),
    ]
    seen: list[ReloadState] = []

    def step(seconds: float) -> None:
        state = script.pop(0)
        seen.append(state)
        write_reload_state(tmp_path, state)

    outcome = request_reload(4242, tmp_path, kill=lambda pid, sig: None, sleep=step)
    assert script == []
    assert not outcome.ok and outcome.message.endswith(": bad")


# --- STATUS= follows the back-fill -------------------------------------------------------


class GatedSource(ScriptedSource):
    """Answers nothing until the test opens the gate, then an empty page (back-fill done)."""

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__()
        self.gate = gate

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Any:
        await self.gate.wait()
        return await super().fetch_orders(since, page_token)

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Any:
        await self.gate.wait()
        return await super().fetch_messages(since, page_token)


async def test_status_changes_when_the_backfill_ends_not_at_the_next_interval(
    tmp_path: Path, notify: NotifyReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "STATUS_INTERVAL", 3600.0)  # the periodic path cannot help
    gate = asyncio.Event()
    settings = settings_for(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db'}")
    daemon = Daemon(settings, source_factory=lambda _stream: GatedSource(gate))
    started = asyncio.Event()
    task = asyncio.create_task(
        service.run(
            settings,
            tmp_path / "test.toml",
            notifier=SystemdNotifier({"NOTIFY_SOCKET": notify.notify_socket}),
            daemon=daemon,
            on_started=lambda _daemon: started.set(),
        )
    )
    try:
        await asyncio.wait_for(started.wait(), DEADLINE)
        ready = await next_message(notify, "READY=1")
        assert ready == "READY=1\nSTATUS=backfilling: s/orders, s/chat"
        gate.set()
        # One STATUS= per stream whose back-fill ends (the interval is an hour: not from it).
        statuses = [await next_message(notify, "STATUS=")]
        while statuses[-1] != "STATUS=watching 1 shop(s)":
            assert statuses[-1].startswith("STATUS=backfilling: "), statuses
            statuses.append(await next_message(notify, "STATUS="))
    finally:
        gate.set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(task, DEADLINE) == 0


# --- faulthandler, and the whole handshake, in a real `shopwatch run` -------------------


class RunningDaemon:
    """``python -m daemon.cli run`` as a child process, READY=1 awaited on a real socket."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path, base: str) -> None:
        self.proc = proc
        self.log = log
        self.base = base

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(self.base + path) as response:
            return response.status, await response.text()


@asynccontextmanager
async def shopwatch_run(
    config: Path, port: int, receiver: NotifyReceiver, env: dict[str, str]
) -> AsyncIterator[RunningDaemon]:
    log = config.parent / "run.log"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONFAULTHANDLER",)}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "daemon.cli",
            "run",
            "--config",
            str(config),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**clean, "NOTIFY_SOCKET": receiver.notify_socket, **env},
        )
    try:
        try:
            await next_message(receiver, "READY=1")
        except TimeoutError:
            pytest.fail(f"no READY=1; log:\n{log.read_text()[-3000:]}")
        yield RunningDaemon(proc, log, f"http://127.0.0.1:{port}")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_shopwatch_reload_against_a_real_daemon(
    tmp_path: Path, notify: NotifyReceiver
) -> None:
    config = tmp_path / "shopwatch.toml"
    port = free_port()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {"RUNTIME_DIRECTORY": str(runtime)}
    # A shop that answers: a reload waits for the polls in flight, and polls of a shop
    # that refuses connections retry with back-off.
    async with simulator(World()) as base_url:
        write_config(config, base_url=base_url, port=port)
        await reload_a_real_daemon(config, port, notify, env)
    assert not (runtime / "reload-state.json").exists()


async def reload_a_real_daemon(
    config: Path, port: int, notify: NotifyReceiver, env: dict[str, str]
) -> None:
    async with shopwatch_run(config, port, notify, env) as daemon:

        async def reload() -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "daemon.cli",
                "reload",
                "--pid",
                str(daemon.proc.pid),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **env},
            )
            out, _ = await asyncio.wait_for(proc.communicate(), DEADLINE * 2)
            assert proc.returncode is not None
            return proc.returncode, out.decode()

        good = add_a_second_shop(config)
        assert await reload() == (0, "shopwatch: configuration reloaded\n")
        # In force the moment the command returned: the new shop's streams are there.
        _, body = await daemon.get("/readyz")
        assert '"s2/orders"' in body, body

        restore(config, good + BROKEN)
        code, out = await reload()
        assert code == 1 and "reload rejected" in out and "withinn" in out
        _, metrics = await daemon.get("/metrics")
        assert "shopwatch_config_last_reload_successful 0.0" in metrics
        assert "shopwatch_config_reload_failures_total 1.0" in metrics
        assert daemon.proc.returncode is None

        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), DEADLINE) == 0


async def test_a_watchdog_abort_leaves_a_python_traceback(
    tmp_path: Path, notify: NotifyReceiver
) -> None:
    """systemd's watchdog sends SIGABRT; faulthandler, enabled by run(), prints where the
    event loop was (the journal collects stderr)."""
    config = tmp_path / "shopwatch.toml"
    port = free_port()
    write_config(config, base_url="http://127.0.0.1:1", port=port)
    async with shopwatch_run(config, port, notify, {}) as daemon:
        daemon.proc.send_signal(signal.SIGABRT)
        assert await asyncio.wait_for(daemon.proc.wait(), DEADLINE) == -signal.SIGABRT
    log = daemon.log.read_text()
    assert "Fatal Python error: Aborted" in log
    # Where the main thread was: the event loop, or a greenlet of SQLAlchemy's that it ran.
    current = log[log.index("Current thread") :]
    assert "(most recent call first)" in current.splitlines()[0]
    assert current.splitlines()[1].lstrip().startswith('File "'), log


# --- the status line after jobs --------------------------------------------------------


class _CountingDaemon(FakeDaemon):
    asked: int = 0

    def status_line(self) -> str:
        self.asked += 1
        return f"watching 1 shop(s) ({self.asked})"


class _Notifier:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def status(self, line: str) -> None:
        self.lines.append(line)


async def test_jobs_ending_together_share_one_status_update() -> None:
    """A thousand shops' polls must not each rebuild the status line."""
    daemon = _CountingDaemon()
    notifier = _Notifier()
    status = service.StatusReporter(daemon, notifier)  # type: ignore[arg-type]
    for _ in range(50):
        status.after_job(None)
    assert notifier.lines == []  # not yet: at the next turn of the loop
    for _ in range(3):
        await asyncio.sleep(0)
    assert daemon.asked == 1
    assert notifier.lines == ["watching 1 shop(s) (1)"]
    status.after_job(None)  # within STATUS_AFTER_JOBS_EVERY of the last: later, once
    for _ in range(3):
        await asyncio.sleep(0)
    assert daemon.asked == 1
    assert status._update_due is not None
    status._update_due.cancel()
