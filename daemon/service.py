"""``shopwatch run``: the daemon under systemd (or a terminal), with its signals.

READY=1 goes out only after migrations ran and the HTTP listener is bound; STATUS= says
what the daemon is doing; the watchdog is pinged from the event loop, so a blocked loop
gets the service restarted. SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP re-reads the
config, and a bad new config is logged and ignored while the old one keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog

from daemon.app import Daemon
from daemon.config.settings import ConfigError, Settings, load
from daemon.scoring.policy_file import read_policy
from daemon.sdnotify import SystemdNotifier, run_watchdog

log = structlog.get_logger("shopwatch")

STATUS_INTERVAL = 15.0
STOP_TIMEOUT = 10.0


async def _report_status(daemon: Daemon, notifier: SystemdNotifier) -> None:
    last = ""
    while True:
        line = daemon.status_line()
        if line != last:
            notifier.status(line)
            last = line
        await asyncio.sleep(STATUS_INTERVAL)


async def _reload(daemon: Daemon, config_path: Path, notifier: SystemdNotifier) -> None:
    notifier.reloading("reloading configuration")
    try:
        settings = load(config_path)
        read_policy(settings)  # a broken catalogue is rejected with the config
        await daemon.reload(settings)
    except (ConfigError, ValueError, OSError) as exc:
        log.error("reload rejected; the previous configuration keeps running", error=str(exc))
    except Exception:
        log.exception("reload failed; the previous configuration keeps running")
    else:
        log.info("configuration reloaded", shops=[s.id for s in settings.shops])
    notifier.ready_after_reload(daemon.status_line())


async def run(
    settings: Settings,
    config_path: Path,
    *,
    notifier: SystemdNotifier | None = None,
    on_started: Callable[[Daemon], None] | None = None,
    daemon: Daemon | None = None,
) -> int:
    notifier = notifier or SystemdNotifier()
    daemon = daemon or Daemon(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    background: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        background.add(task)
        task.add_done_callback(background.discard)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: spawn(_reload(daemon, config_path, notifier)))
    watchdog = asyncio.create_task(run_watchdog(notifier))
    try:
        notifier.status("starting: migrating the database")
        await daemon.start()
        notifier.ready(daemon.status_line())
        status = asyncio.create_task(_report_status(daemon, notifier))
        if on_started is not None:
            on_started(daemon)
        await stop.wait()
        log.info("stopping")
        notifier.stopping("stopping")
        status.cancel()
        for task in list(background):
            task.cancel()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
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
