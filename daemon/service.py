"""``shopwatch run``: the daemon under systemd (or a terminal), with its signals.

READY=1 goes out only after migrations ran and the HTTP listener is bound; STATUS= says
what the daemon is doing, updated as soon as a poll changes it (the end of the back-fill
shows at once); the watchdog is pinged from the event loop, so a blocked loop gets the
service restarted, and ``faulthandler`` puts the Python traceback of the abort in the
journal. SIGTERM/SIGINT stop cleanly (exit 0).

SIGHUP re-reads the config, one reload at a time: a SIGHUP that arrives while a reload runs
queues one more, however many arrive. A rejected config is logged, counted
(``shopwatch_config_reload_failures_total``, ``shopwatch_config_last_reload_successful``)
and shown in STATUS= until a reload succeeds, while the old config keeps running. Each reload
is recorded in ``$RUNTIME_DIRECTORY`` for ``shopwatch reload``, the unit's ``ExecReload=``,
which returns only when the reload it asked for has finished (:func:`request_reload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from prometheus_client import CollectorRegistry, Counter, Gauge

from daemon.app import Daemon
from daemon.config.settings import ConfigError, Settings, load
from daemon.scoring.policy_file import read_policy
from daemon.sdnotify import (
    RELOAD_STATE_FILE,
    ReloadState,
    SystemdNotifier,
    run_watchdog,
    write_reload_state,
)

log = structlog.get_logger("shopwatch")

#: How often STATUS= is re-checked besides after every poll (nothing else changes it today).
STATUS_INTERVAL = 15.0
STATUS_AFTER_JOBS_EVERY = 0.25
"""Jobs ending within this many seconds of the last update after a job share the next one:
the line is at most this late, and a thousand shops' polls do not rebuild it each."""
STOP_TIMEOUT = 10.0
#: A rejected reload's error in STATUS= is cut to this length (the journal has all of it).
STATUS_ERROR_CHARS = 160


def enable_faulthandler() -> None:
    """Dump every thread's Python traceback to stderr (the journal) on SIGABRT, SIGSEGV,
    SIGFPE, SIGBUS and SIGILL. systemd's watchdog kills a hung daemon with SIGABRT; without
    this, the journal shows only "code=dumped, status=6/ABRT", not where the loop hung."""
    if faulthandler.is_enabled():  # PYTHONFAULTHANDLER, -X faulthandler, or pytest
        return
    try:
        faulthandler.enable(all_threads=True)
    except (OSError, ValueError, RuntimeError) as exc:  # stderr without a file descriptor
        log.warning("faulthandler not enabled", error=str(exc))


def load_checked(path: Path) -> Settings:
    """The config, with its policy catalogue checked too (a broken one rejects the reload)."""
    settings = load(path)
    read_policy(settings)
    return settings


class ReloadMetrics:
    """Whether the running configuration is the one on disk, for Prometheus."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_successful = Gauge(
            "shopwatch_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP) was applied or none was tried, "
            "0 if it was rejected and the previous configuration still runs",
            registry=registry,
        )
        self.failures = Counter(
            "shopwatch_config_reload_failures_total",
            "Configuration reloads rejected since the daemon started",
            registry=registry,
        )
        self.last_successful.set(1)

    def record(self, ok: bool) -> None:
        self.last_successful.set(1 if ok else 0)
        if not ok:
            self.failures.inc()


class StatusReporter:
    """Sends STATUS= whenever the line changes: the daemon's own status line, followed by
    the last reload's rejection until a reload succeeds."""

    def __init__(self, daemon: Daemon, notifier: SystemdNotifier) -> None:
        self.daemon = daemon
        self.notifier = notifier
        self.rejected: str | None = None
        self._sent: str | None = None
        self._update_due: asyncio.TimerHandle | None = None
        self._updated_at = float("-inf")

    def line(self) -> str:
        line = self.daemon.status_line()
        if self.rejected is not None:
            error = " ".join(self.rejected.split())
            if len(error) > STATUS_ERROR_CHARS:
                error = error[: STATUS_ERROR_CHARS - 1] + "…"
            line += f"; config reload rejected: {error}"
        return line

    def sent(self, line: str) -> None:
        """``line`` went out with another message (READY=1)."""
        self._sent = line

    def update(self) -> None:
        line = self.line()
        if line != self._sent:
            self.notifier.status(line)
            self._sent = line

    def after_job(self, _event: Any) -> None:
        """Scheduler listener: a poll may have ended the back-fill or a failure. Jobs that
        end together (a thousand shops' polls) share one update, at the next turn of the
        loop."""
        if self._update_due is None:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self._updated_at + STATUS_AFTER_JOBS_EVERY)
            self._update_due = loop.call_at(at, self._due_update)

    def _due_update(self) -> None:
        self._update_due = None
        self._updated_at = asyncio.get_running_loop().time()
        self.update()

    async def run(self) -> None:
        while True:
            self.update()
            await asyncio.sleep(STATUS_INTERVAL)


class Reloader:
    """Runs reloads one at a time. :meth:`request` is the SIGHUP handler: it starts a reload,
    or, while one runs, marks that one more is needed (once, however many SIGHUPs came).
    Requests before :meth:`open` (still starting) wait for it."""

    def __init__(
        self,
        daemon: Daemon,
        config_path: Path,
        notifier: SystemdNotifier,
        status: StatusReporter,
        metrics: ReloadMetrics,
        *,
        state_directory: Path | None,
        load_settings: Callable[[Path], Settings] = load_checked,
    ) -> None:
        self.daemon = daemon
        self.config_path = config_path
        self.notifier = notifier
        self.status = status
        self.metrics = metrics
        self.state_directory = state_directory
        self.load_settings = load_settings
        self.state = ReloadState(pid=os.getpid())
        self._open = False
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        if self._task is not None and not self._task.done():
            if not self._pending:
                log.info("reload requested while one runs; it follows this one")
            self._pending = True
            return
        if not self._open:
            self._pending = True
            return
        self._task = asyncio.create_task(self._run())

    def open(self) -> None:
        """Started: publish the state, and run a reload requested while starting."""
        self._open = True
        self._publish()
        if self._pending:
            self._pending = False
            self.request()

    async def close(self) -> None:
        """Stopping: cancel a reload in flight and wait for it."""
        self._open = False
        self._pending = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def withdraw(self) -> None:
        """Exited: remove our state file so nobody waits on a daemon that is gone."""
        if self.state_directory is None:
            return
        with contextlib.suppress(OSError):
            (self.state_directory / RELOAD_STATE_FILE).unlink()

    async def _run(self) -> None:
        while True:
            self._pending = False
            await self._reload_once()
            if not self._pending:
                return

    async def _reload_once(self) -> None:
        self.state = ReloadState(
            pid=self.state.pid,
            started=self.state.started + 1,
            finished=self.state.finished,
            ok=self.state.ok,
            error=self.state.error,
        )
        self._publish()
        self.notifier.reloading("reloading configuration")
        error: str | None = None
        try:
            settings = self.load_settings(self.config_path)
            await self.daemon.reload(settings)
        except (ConfigError, ValueError, OSError) as exc:
            error = str(exc)
            log.error("reload rejected; the previous configuration keeps running", error=error)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("reload failed; the previous configuration keeps running")
        else:
            log.info("configuration reloaded", shops=[s.id for s in settings.shops])
        self.metrics.record(error is None)
        self.status.rejected = error
        # READY=1 goes out before the state says "finished": systemd then has it queued
        # before the waiting ExecReload= exits (it reads notifications before SIGCHLD).
        line = self.status.line()
        self.notifier.ready_after_reload(line)
        self.status.sent(line)
        self.state = ReloadState(
            pid=self.state.pid,
            started=self.state.started,
            finished=self.state.started,
            ok=error is None,
            error=error,
        )
        self._publish()

    def _publish(self) -> None:
        if self.state_directory is None:
            return
        try:
            write_reload_state(self.state_directory, self.state)
        except OSError as exc:
            log.error("cannot record the reload state", error=str(exc))


def runtime_directory(environ: Mapping[str, str]) -> Path | None:
    """systemd's ``$RUNTIME_DIRECTORY`` (``RuntimeDirectory=``; the first if several)."""
    value = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(value) if value else None


async def run(
    settings: Settings,
    config_path: Path,
    *,
    notifier: SystemdNotifier | None = None,
    on_started: Callable[[Daemon], None] | None = None,
    daemon: Daemon | None = None,
    state_directory: Path | None = None,
    load_settings: Callable[[Path], Settings] = load_checked,
) -> int:
    """Run until SIGTERM/SIGINT. ``state_directory`` (default ``$RUNTIME_DIRECTORY``) is
    where reloads are recorded for ``shopwatch reload``; without one nothing is recorded.
    ``load_settings`` reads the config on SIGHUP (``run --listen`` keeps its override)."""
    enable_faulthandler()
    notifier = notifier or SystemdNotifier()
    daemon = daemon or Daemon(settings)
    if state_directory is None:
        state_directory = runtime_directory(os.environ)
    status = StatusReporter(daemon, notifier)
    reloader = Reloader(
        daemon,
        config_path,
        notifier,
        status,
        ReloadMetrics(daemon.metrics.registry),
        state_directory=state_directory,
        load_settings=load_settings,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reloader.request)
    watchdog = asyncio.create_task(run_watchdog(notifier))
    try:
        notifier.status("starting: migrating the database")
        await daemon.start()
        # No await between start() and here: no poll has run yet, none can end unseen.
        if daemon.scheduler is not None:
            daemon.scheduler.add_listener(status.after_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        line = status.line()
        notifier.ready(line)
        status.sent(line)
        reloader.open()
        status_task = asyncio.create_task(status.run())
        if on_started is not None:
            on_started(daemon)
        await stop.wait()
        log.info("stopping")
        notifier.stopping("stopping")
        status_task.cancel()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await reloader.close()
                await daemon.stop()
        except TimeoutError:
            log.error("clean stop took too long; exiting anyway")
        log.info("stopped")
        return 0
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        reloader.withdraw()
