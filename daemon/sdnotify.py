"""The systemd notification protocol (``sd_notify``), standard library only.

Why not libsystemd or a PyPI wrapper: the protocol is one ``AF_UNIX``/``SOCK_DGRAM``
datagram of newline-separated ``KEY=VALUE`` lines sent to ``$NOTIFY_SOCKET``, and
systemd declares it a stable interface. ``systemd-python`` needs libsystemd headers
to build and ``sdnotify`` (PyPI) has been unmaintained since 2017; forty lines of
stdlib code are easier to audit and to test against a real socket.

How the daemon uses it (``Type=notify``, ``WatchdogSec=`` in ``systemd/shopwatch.service``):

* ``ready()`` once migrations ran and the HTTP listener is bound, so ``systemctl start``
  and units ordered after us only proceed when we can actually serve;
* ``status(text)`` for the one line shown by ``systemctl status``;
* ``stopping()`` on SIGTERM, ``reloading()`` / ``ready_after_reload()`` around SIGHUP;
* :func:`run_watchdog` as a task on the main event loop, so a blocked loop stops the
  pings and systemd restarts the service.

Outside systemd (tests, a developer's shell) ``$NOTIFY_SOCKET`` is unset and every
call is a cheap no-op returning ``False``.

The unit's ``ExecReload=`` handshake lives here too (:func:`request_reload`): systemd 252
(Debian 12) has no ``Type=notify-reload``, and with a plain ``kill -HUP $MAINPID`` the reload
job ends when ``kill`` returns, before the daemon has even begun. ``shopwatch reload`` sends the
SIGHUP and returns only once the daemon has recorded, in ``$RUNTIME_DIRECTORY``, that a reload
begun after the signal has finished. Standard library only, so the command starts quickly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "ReloadOutcome",
    "ReloadState",
    "SystemdNotifier",
    "read_reload_state",
    "request_reload",
    "run_watchdog",
    "write_reload_state",
]

#: Upper bound for a blocking ``send`` to the manager. The socket is normally never
#: full; if PID 1 is so stuck that it is, we would rather drop one message than
#: freeze the event loop (and with it the HTTP server) indefinitely.
SEND_TIMEOUT_SECONDS = 1.0


def _socket_address(value: str | None) -> str | None:
    """Translate ``$NOTIFY_SOCKET`` into an address for ``socket.connect``.

    A leading ``@`` denotes the Linux abstract namespace, which the kernel spells
    with a leading NUL byte. Like libsystemd's ``sd_notify`` only absolute paths and
    abstract names are accepted; anything else (empty, relative, ``vsock:`` from
    newer systemd versions) is treated as "not under systemd" rather than guessed at.
    """
    if not value:
        return None
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def _one_line(text: str) -> str:
    """Flatten ``text`` to a single line.

    A newline inside a value would start a new assignment: a stream error message
    containing ``"\\nSTOPPING=1"`` must not be able to change the service state.
    """
    return " ".join(text.splitlines()).strip()


class SystemdNotifier:
    """Sends state changes to the service manager.

    The environment is read at call time (not cached at construction) so the
    ``$WATCHDOG_PID`` check compares against the *current* process id, which is what
    ``sd_watchdog_enabled`` does too. Tests pass their own ``environ`` mapping.

    No method ever raises: notification is advisory, and a broken socket must not
    take the monitoring daemon down. Every sender returns ``True`` when the datagram
    was handed to the kernel and ``False`` otherwise (no-op or failure). Nothing is
    logged here either, because the watchdog sends from the event loop every few
    seconds and a failing socket would flood the journal; callers that care can
    log the ``False``.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    @property
    def enabled(self) -> bool:
        """Whether a usable ``$NOTIFY_SOCKET`` is set (i.e. we run under systemd)."""
        return _socket_address(self._environ.get("NOTIFY_SOCKET")) is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments as one datagram; ``False`` if not delivered.

        One datagram per call keeps related assignments atomic (systemd processes a
        datagram as a whole, e.g. ``RELOADING=1`` together with ``MONOTONIC_USEC``).
        A fresh socket per call, as libsystemd's ``sd_notify`` does, means there is no
        long-lived descriptor to go stale, reconnect or leak; at one call every few
        seconds the cost is irrelevant.
        """
        address = _socket_address(self._environ.get("NOTIFY_SOCKET"))
        if address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode("utf-8", errors="replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT_SECONDS)
                sock.connect(address)
                sent = sock.send(payload)
        except (OSError, ValueError):
            # OSError: socket gone, permission, full queue (timeout), RLIMIT_NOFILE,
            # path too long, seccomp; ValueError: an address Python cannot encode.
            return False
        return sent == len(payload)

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: startup finished; ``systemctl start`` returns only now."""
        return self.notify("READY=1", *self._status_line(status))

    def status(self, text: str) -> bool:
        """``STATUS=…``: the free-form line ``systemctl status`` shows (newlines flattened)."""
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: keep-alive ping.

        Skipped (``False``) when ``$WATCHDOG_PID`` names another process: the
        variable is inherited by children, and only the process systemd watches may
        vouch for itself, otherwise a healthy child could mask a hung parent.
        """
        if not self._watchdog_pid_matches():
            return False
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown began, so systemd shows "deactivating" instead of a hang."""
        return self.notify("STOPPING=1", *self._status_line(status))

    def reloading(self, status: str | None = None) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC``: a configuration reload began.

        systemd 253+ (``Type=notify-reload``) requires ``MONOTONIC_USEC`` (the
        ``CLOCK_MONOTONIC`` time of the reload) to match this message with the
        ``READY=1`` that ends the reload; systemd 252 ignores the extra key. Both
        go in one datagram so they cannot be separated.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *self._status_line(status))

    def ready_after_reload(self, status: str | None = None) -> bool:
        """``READY=1`` again: the reload finished (or failed and the old config stays)."""
        return self.ready(status)

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC``: ask for ``seconds`` more before a start/stop timeout.

        For slow work before ``READY=1`` (a long migration or backfill) so that
        ``TimeoutStartSec=`` does not kill a daemon that is making progress.
        """
        if seconds <= 0:
            return False
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def watchdog_interval(self) -> float | None:
        """The watchdog timeout in seconds from ``$WATCHDOG_USEC``, or ``None``.

        ``None`` when no watchdog is configured, the value is not a positive
        integer, or ``$WATCHDOG_PID`` is set and names another process (same rules
        as ``sd_watchdog_enabled``). Callers ping at half this interval.
        """
        raw = self._environ.get("WATCHDOG_USEC")
        if not raw:
            return None
        try:
            usec = int(raw)
        except ValueError:
            return None
        if usec <= 0 or not self._watchdog_pid_matches():
            return None
        return usec / 1_000_000

    def _watchdog_pid_matches(self) -> bool:
        raw = self._environ.get("WATCHDOG_PID")
        if not raw:
            return True
        try:
            return int(raw) == os.getpid()
        except ValueError:
            return False

    @staticmethod
    def _status_line(status: str | None) -> tuple[str, ...]:
        return () if status is None else (f"STATUS={_one_line(status)}",)


async def run_watchdog(
    notifier: SystemdNotifier,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Ping ``WATCHDOG=1`` every half watchdog interval until cancelled.

    Run it as a task on the daemon's main event loop, not in a thread: the point of
    the watchdog is to notice a loop that no longer runs callbacks (a blocking call,
    a busy loop, a deadlock). A thread would keep pinging while the daemon is dead.
    Half the interval is what ``sd_watchdog_enabled(3)`` recommends, leaving slack
    for scheduling jitter.

    Returns immediately when no watchdog is configured (no ``$WATCHDOG_USEC``, it is
    meant for another pid, or there is no ``$NOTIFY_SOCKET`` to ping), so the daemon
    can start it unconditionally. ``sleep`` is injectable for tests. Cancel the task
    on shutdown.
    """
    interval = notifier.watchdog_interval()
    if interval is None or not notifier.enabled:
        return
    period = interval / 2
    while True:
        notifier.watchdog()
        await sleep(period)


# --- The ExecReload= handshake -----------------------------------------------------------

#: The file in ``$RUNTIME_DIRECTORY`` where the daemon records its reloads.
RELOAD_STATE_FILE = "reload-state.json"
#: How long ``shopwatch reload`` waits by default: below systemd's default reload timeout
#: (90 s), above the daemon's longest reload (the old jobs get 30 s to finish).
RELOAD_TIMEOUT_SECONDS = 80.0
#: How often ``shopwatch reload`` looks at the state file while it waits.
RELOAD_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ReloadState:
    """What the daemon (``pid``) says about its reloads: how many began, how many ended, and
    how the last one ended. A reload that was requested while another ran is counted when it
    begins, so ``started`` only counts reloads that read the config file."""

    pid: int
    started: int = 0
    finished: int = 0
    ok: bool = True
    error: str | None = None


def write_reload_state(directory: Path, state: ReloadState) -> None:
    """Replace the state file atomically (a reader sees the old or the new one, never half)."""
    target = directory / RELOAD_STATE_FILE
    partial = directory / f".{RELOAD_STATE_FILE}.{os.getpid()}"
    partial.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(partial, target)


def read_reload_state(directory: Path) -> ReloadState | None:
    """The recorded state, or ``None`` when there is none (yet) or it cannot be read."""
    try:
        raw = json.loads((directory / RELOAD_STATE_FILE).read_text(encoding="utf-8"))
        return ReloadState(
            pid=int(raw["pid"]),
            started=int(raw["started"]),
            finished=int(raw["finished"]),
            ok=bool(raw["ok"]),
            error=None if raw.get("error") is None else str(raw["error"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    message: str


def request_reload(
    pid: int,
    directory: Path,
    *,
    timeout: float = RELOAD_TIMEOUT_SECONDS,
    kill: Callable[[int, int], None] = os.kill,
    sleep: Callable[[float], object] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> ReloadOutcome:
    """Send SIGHUP to ``pid`` and wait until a reload that began after it has finished.

    Every reload that begins after this function read the state file reads the config as
    it is now, so the one to wait for is number ``started + 1``: either the SIGHUP starts it,
    or, when a reload is already running, the daemon queues it to run right after (several
    SIGHUPs during one reload are folded into that one). ``ok`` is ``False`` when the reload
    was rejected (the previous configuration keeps running), the daemon exited, it keeps no
    state here (an older version: restart it), or nothing was confirmed within ``timeout``.
    """
    before = read_reload_state(directory)
    if before is None or before.pid != pid:
        return ReloadOutcome(
            False,
            f"pid {pid} keeps no reload state in {directory}: "
            "is it shopwatch run, of this version? Restart the service instead.",
        )
    wanted = before.started + 1
    try:
        kill(pid, signal.SIGHUP)
    except OSError as exc:
        return ReloadOutcome(False, f"cannot signal pid {pid}: {exc}")
    deadline = monotonic() + timeout
    while True:
        state = read_reload_state(directory)
        if state is not None and state.pid == pid and state.finished >= wanted:
            if state.ok:
                return ReloadOutcome(True, "configuration reloaded")
            return ReloadOutcome(
                False,
                f"reload rejected, the previous configuration keeps running: {state.error}",
            )
        try:
            kill(pid, 0)
        except ProcessLookupError:
            return ReloadOutcome(False, f"pid {pid} exited before its reload finished")
        if monotonic() >= deadline:
            return ReloadOutcome(False, f"pid {pid} did not finish its reload in {timeout:g} s")
        sleep(RELOAD_POLL_SECONDS)
