"""A real systemd as PID 1 of private namespaces, on a throw-away root (for the tests).

``boot-systemd.sh`` (beside this file) builds the root and execs systemd; this module starts
it, talks to it, and takes it all down again:

* ``script -qfec`` gives it a pty for ``/dev/console``; ``unshare --cgroup --pid --fork
  --kill-child --mount --uts --ipc --net --propagation private`` the namespaces. Every mount
  is made in the private mount namespace and vanishes with it.
* It runs in a fresh sub-cgroup of the host's cgroup2 mount, which becomes the root of its
  cgroup namespace; :meth:`SystemdContainer.close` removes it once it is empty.
* Commands run through ``nsenter`` into its namespaces, as root with a clean environment.
  ``host_network=True`` keeps the host's network namespace (for pip, which needs the package
  index; the container's own network has only loopback).
* Only processes this module started are ever signalled, by their pid: systemd is powered
  off with SIGRTMIN+4, and if it does not go, the ``unshare --kill-child`` process is killed,
  which takes PID 1 and so the whole PID namespace with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pty
import re
import selectors
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BOOT_SCRIPT = Path(__file__).with_name("boot-systemd.sh")
SYSTEMD = Path("/lib/systemd/systemd")
#: Programs the container needs on the host (the root is an overlay of the host's /).
HOST_PROGRAMS = ("unshare", "script", "nsenter", "setpriv", "findmnt", "pivot_root", "mount")
#: Where the checkout appears inside the container (see boot-systemd.sh).
CHECKOUT = "/usr/local/src/shopwatch"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PR_SET_PDEATHSIG = 1
#: Passed on from the test's environment to commands with the host's network (pip).
PASSED_ON = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


class ContainerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Result:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cgroup2_mount() -> Path | None:
    """Where the host's cgroup2 hierarchy is mounted (``/sys/fs/cgroup`` on a unified host,
    ``/sys/fs/cgroup/unified`` on a hybrid one), or ``None``."""
    found = subprocess.run(
        ["findmnt", "--noheadings", "--first-only", "--types", "cgroup2", "--output", "TARGET"],
        capture_output=True,
        text=True,
        check=False,
    )
    target = found.stdout.strip()
    return Path(target) if found.returncode == 0 and target else None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _descendants(pid: int) -> Iterator[int]:
    for child in _children(pid):
        yield child
        yield from _descendants(child)


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _alive(pid: int) -> bool:
    state = _status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))


_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(output: bytes) -> str:
    """Terminal output as text: colour escapes and carriage returns removed."""
    return _ESCAPES.sub(b"", output).replace(b"\r", b"").decode(errors="replace")


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it if the test process dies without cleaning up.
    Then `script` goes, its pty hangs up, unshare gets SIGHUP, --kill-child takes systemd."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until it holds; ``ContainerError`` naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise ContainerError(f"gave up after {seconds:g} s waiting for {what}")
        time.sleep(0.05)


class SystemdContainer:
    """systemd booted into ``shopwatch-test.target``; use as a context manager."""

    def __init__(self, work: Path, checkout: Path) -> None:
        self.work = work
        self.checkout = checkout
        self.console = work / "console.log"
        self.transcript = work / "commands.log"
        self.cgroup: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        #: Host pids of systemd (PID 1 inside) and of its parent, ``unshare --kill-child``.
        self.pid = 0
        self.unshare_pid = 0

    # ---- life cycle ----

    def __enter__(self) -> SystemdContainer:
        try:
            self.boot()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def boot(self, seconds: float = 60.0) -> None:
        hierarchy = cgroup2_mount()
        if hierarchy is None:
            raise ContainerError("no cgroup2 hierarchy is mounted")
        self.cgroup = hierarchy / f"shopwatch-test-{uuid.uuid4().hex[:12]}"
        self.cgroup.mkdir()
        namespaces = [
            "unshare",
            "--cgroup",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--propagation",
            "private",
            "sh",
            str(BOOT_SCRIPT),
            str(self.work),
            str(self.checkout),
        ]
        # The shell moves itself into the new cgroup, then becomes `script`: everything
        # below it (unshare, systemd, the services) starts inside that cgroup.
        with self.console.open("wb") as console:
            self.process = subprocess.Popen(
                [
                    "sh",
                    "-c",
                    'echo $$ > "$1/cgroup.procs" && exec script -qfec "$2" /dev/null',
                    "sh",
                    str(self.cgroup),
                    shlex.join(namespaces),
                ],
                stdin=subprocess.PIPE,  # kept open: `script` ends its session on EOF
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        wait_until(self._found_systemd, seconds, f"systemd to start (see {self.console})")
        # Its private socket appears a moment after exec; then wait for the boot to finish.
        wait_until(
            lambda: os.path.exists(f"/proc/{self.pid}/root/run/systemd/private"),
            seconds,
            "systemd's control socket",
        )
        started = self.run("systemctl is-system-running --wait", check=False, timeout=seconds)
        if started.stdout.strip() not in ("running", "degraded"):
            raise ContainerError(
                f"systemd did not come up: {started.output}\n{self.console_text()}"
            )

    def _found_systemd(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ContainerError(f"the container exited at start:\n{self.console_text()}")
        for pid in _descendants(self.process.pid):
            status = _status(pid)
            if status.get("NSpid", "").split()[-1:] == ["1"] and status.get("Name") == "systemd":
                self.pid = pid
                self.unshare_pid = int(status["PPid"])
                return True
        return False

    def close(self, seconds: float = 30.0) -> None:
        """Power off, make sure every process of the container is gone, remove the cgroup."""
        if self.pid and _alive(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGRTMIN + 4)  # systemd: poweroff
            with contextlib.suppress(ContainerError):
                wait_until(lambda: not _alive(self.pid), seconds, "systemd to power off")
        if self.unshare_pid and _alive(self.unshare_pid):
            # --kill-child: its death takes PID 1, and so the PID namespace, with it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.unshare_pid, signal.SIGKILL)
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.cgroup is not None and self.cgroup.exists():
            wait_until(self._cgroup_empty, seconds, f"{self.cgroup} to empty")
            for directory, _subdirs, _files in os.walk(self.cgroup, topdown=False):
                os.rmdir(directory)

    def _cgroup_empty(self) -> bool:
        assert self.cgroup is not None
        events = (self.cgroup / "cgroup.events").read_text()
        return "populated 0" in events.splitlines()

    def console_text(self) -> str:
        try:
            return self.console.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # ---- commands ----

    def nsenter(self, *, host_network: bool = False) -> list[str]:
        namespaces = ["--mount", "--uts", "--ipc", "--pid", "--cgroup", "--root"]
        if not host_network:
            namespaces.append("--net")
        return ["nsenter", "--target", str(self.pid), *namespaces, "--"]

    def environment(self, host_network: bool) -> list[str]:
        env = {
            "PATH": PATH,
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "SYSTEMD_PAGER": "",
            "SYSTEMD_COLORS": "0",
        }
        if host_network:  # pip: the machine's index configuration and proxies
            env.update(
                {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in PASSED_ON}
            )
        return ["env", "-i", *(f"{k}={v}" for k, v in env.items())]

    def argv(self, command: str, *, cwd: str, host_network: bool) -> list[str]:
        script = f"cd {shlex.quote(cwd)} || exit 125\n{command}"
        enter = self.nsenter(host_network=host_network)
        return [*enter, *self.environment(host_network), "sh", "-c", script]

    def run(
        self,
        command: str,
        *,
        cwd: str = "/",
        host_network: bool = False,
        check: bool = True,
        timeout: float = 120.0,
        stdin: str = "",
    ) -> Result:
        """Run ``command`` with ``sh -c`` inside the container, as root."""
        started = time.monotonic()
        done = subprocess.run(
            self.argv(command, cwd=cwd, host_network=host_network),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(
            command, done.returncode, done.stdout, done.stderr, time.monotonic() - started
        )
        with self.transcript.open("a") as log:
            log.write(
                f"$ {command}\n{result.stdout}{result.stderr}"
                f"[exit {result.returncode}, {result.seconds:.2f} s]\n"
            )
        if check and result.returncode != 0:
            raise ContainerError(
                f"{command!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def follow(self, command: str, until: Callable[[str], bool], seconds: float = 60.0) -> str:
        """Run a command that never ends by itself (``journalctl -f``) on a terminal, as an
        operator would (``jq`` buffers its output on a pipe), until its output satisfies
        ``until``; then end it and everything it started (its own session)."""
        leader, terminal = pty.openpty()
        process = subprocess.Popen(
            self.argv(command, cwd="/", host_network=False),
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
            start_new_session=True,
        )
        os.close(terminal)
        output = b""
        deadline = time.monotonic() + seconds
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(leader, selectors.EVENT_READ)
                while not until(_plain(output)):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ContainerError(
                            f"{command!r}: no expected output in {seconds:g} s:\n"
                            + _plain(output)[-3000:]
                        )
                    if selector.select(left):
                        try:
                            chunk = os.read(leader, 65536)
                        except OSError:  # EIO: every writer is gone
                            chunk = b""
                        if not chunk:
                            raise ContainerError(f"{command!r} ended: {_plain(output)[-3000:]}")
                        output += chunk
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
            os.close(leader)
        text = _plain(output)
        with self.transcript.open("a") as log:
            log.write(f"$ {command}   (followed, then ended)\n{text[-2000:]}\n")
        return text

    def start_in_network(
        self, argv: Sequence[str], *, cwd: Path, log: Path
    ) -> subprocess.Popen[bytes]:
        """Start a host program (host file system and PID namespace) in the container's
        network namespace, e.g. a server the service talks to on its loopback."""
        with log.open("wb") as out:
            return subprocess.Popen(
                ["nsenter", "--target", str(self.pid), "--net", "--", *argv],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def in_network(self, argv: Sequence[str], *, timeout: float = 30.0) -> str:
        """Run a host program in the container's network namespace; its stdout."""
        done = subprocess.run(
            ["nsenter", "--target", str(self.pid), "--net", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        with self.transcript.open("a") as log:
            log.write(f"(in the network) {shlex.join(argv[-4:])}\n{done.stdout[:300]}\n")
        return done.stdout

    # ---- systemd ----

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.run(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in properties))
        return dict(line.partition("=")[::2] for line in out.stdout.splitlines() if line)

    def journal(self, unit: str) -> str:
        return self.run(f"journalctl --no-pager -u {unit} -o short-monotonic").stdout
