"""systemd/INSTALL.md, word for word, under a real systemd 252 as PID 1.

systemd boots in private namespaces on an overlay of the host's root whose upper layer is a
tmpfs (``container.py``, ``boot-systemd.sh``): ``/opt/shopwatch``, ``/etc/shopwatch``,
``/var/lib/shopwatch`` and the unit exist only there. Every command of INSTALL.md's shell
blocks runs inside, in the document's order, from a copy of the checkout; between them the
test does what the text tells the operator to do (edit the config, write the tokens) and
checks what the unit promises:

* ``systemctl start`` returns only after READY=1: the listener answers at once;
* the status text, updated when the back-fill ends (well before the 15 s status interval);
* DynamicUser owns a 0700 state directory with 0600 database files, same uid after restarts;
* the credentials are delivered (the shop accepts the token, the API its own);
* ``systemctl reload`` keeps the PID and returns only once the new config is in force,
  several times in a row; a broken config is refused and visible (exit status, STATUS=,
  metrics);
* SIGSTOP -> the watchdog's SIGABRT -> a Python traceback in the journal -> a restart;
* ``systemctl stop`` -> exit 0, inactive; the upgrade recipe keeps the directory 0700;
* ``systemd-analyze security`` (online, the loaded unit) at most 2.0.

Nothing is left behind: the mounts die with the mount namespace, the sub-cgroup is removed,
files are written only below the test's temporary directory. Skipped without root, the
namespace tools or systemd (CI sets SHOPWATCH_REQUIRE_INTEGRATION=1: then it fails instead).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .container import (
    CHECKOUT,
    HOST_PROGRAMS,
    SYSTEMD,
    ContainerError,
    Result,
    SystemdContainer,
    cgroup2_mount,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "systemd" / "INSTALL.md"
README = REPO / "README.md"
UNIT = "shopwatch.service"
SHOP_PORT = 8080
API = "http://127.0.0.1:9310"
#: The exposure `systemd-analyze security` may report for the running unit (1.1 shipped).
MAX_EXPOSURE = 2.0
#: Programs INSTALL.md's commands use, besides systemd's own.
INSTALL_PROGRAMS = ("systemctl", "journalctl", "systemd-run", "systemd-analyze", "jq", "apt")
#: Host paths the install writes inside the container; the real ones must not change.
HOST_PATHS = ("/opt/shopwatch", "/etc/shopwatch", "/etc/systemd/system/shopwatch.service")
#: Copied into the container as the operator's checkout (not the caches, not the venv).
NOT_CHECKOUT = (".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "var")
NOT_CHECKOUT += (".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")


# --- INSTALL.md ----------------------------------------------------------------------------


def install_commands(text: str) -> list[str]:
    """Every command of the document's ``sh`` blocks, in order; continuation lines joined,
    comment lines dropped (a command's trailing comment stays: sh ignores it)."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            commands.append(" ".join((pending + line).split()))
            pending = ""
    return commands


def readme_install_commands(text: str) -> list[str]:
    """The commands of README's "Install as a systemd service" section."""
    start = text.index("\n## Install as a systemd service\n")
    end = text.find("\n## ", start + 1)
    return install_commands(text[start : end if end > 0 else None])


def test_readme_install_section_is_install_md_word_for_word() -> None:
    """README's install section is what the real-systemd test below runs: INSTALL.md's
    commands up to the service's start, word for word and in order, nothing left out; after
    that only commands INSTALL.md has, in its order. (Before, README's short version had no
    `apt install python3-venv` and no console-session-key, so the unit could not start.)"""
    readme = readme_install_commands(README.read_text())
    install = install_commands(INSTALL.read_text())
    started = install.index("systemctl enable --now shopwatch") + 1
    assert readme[:started] == install[:started]
    later = iter(install[started:])
    assert all(command in later for command in readme[started:]), readme[started:]


def test_the_upgrade_runs_as_the_service_does() -> None:
    """INSTALL.md's `systemd-run ... shopwatch db upgrade` gives the upgrade what the unit
    gives the service. Without StateDirectoryMode=0700 systemd resets the state directory
    to 0755 (the real-systemd test sees that); without UMask=0077 a file the upgrade creates
    is world-readable until the next start, which that test cannot see (upgrading an existing
    database leaves no new file behind), so this one compares the properties."""
    upgrades = [c for c in install_commands(INSTALL.read_text()) if "shopwatch db upgrade" in c]
    assert len(upgrades) == 1, upgrades
    given = re.findall(r"-p (\w+)=(\S+)", upgrades[0])
    unit_text = (REPO / "systemd" / UNIT).read_text()
    unit = re.findall(r"^(\w+)=(.*)$", unit_text, flags=re.MULTILINE)
    same = ("DynamicUser", "StateDirectory", "StateDirectoryMode", "UMask")
    for key in (*same, "ConfigurationDirectory", "LoadCredential"):
        assert [v for k, v in given if k == key] == [v for k, v in unit if k == key], key
    assert ("StateDirectoryMode", "0700") in given and ("UMask", "0077") in given


def uses_the_index(command: str) -> bool:
    """pip needs the package index: those commands keep the host's network."""
    return "/bin/pip " in command


# --- what the test does for the operator, and checks ------------------------------------


def operator_config(example: str, *, shops: int = 1, broken: bool = False) -> str:
    """config/example.toml as the operator edits it: the shop API is the simulated shop on
    the container's loopback, polled every 2 s; no Alertmanager here. ``shops=2`` adds a
    copy of the shop as "second"; ``broken`` misspells a rule option."""
    text = example
    replacements = {
        "https://shop.example.com/api": f"http://127.0.0.1:{SHOP_PORT}",
        'poll_interval = "30s"': 'poll_interval = "2s"',
    }
    for old, new in replacements.items():
        assert old in text, f"config/example.toml no longer has {old!r}: update this test"
        text = text.replace(old, new)
    alerts = text.index("# Notices to the team lead")
    text = text[:alerts]
    if shops == 2:
        start, end = text.index("\n[[shops]]\n"), text.index("# Other platforms")
        second = text[start:end].replace('id = "main"', 'id = "second"')
        text = text[:end] + second + text[end:]
    if broken:
        assert 'within = "60m"' in text
        text = text.replace('within = "60m"', 'withinn = "60m"', 1)
    return text


HTTP_CLIENT = """
import sys, urllib.error, urllib.request
method, url, token, body = sys.argv[1:5]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
if token:
    request.add_header("Authorization", "Bearer " + token)
if body:
    request.add_header("Content-Type", "application/json")
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        status, text = response.status, response.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode()
print(status)
print(text)
"""


class Install:
    """INSTALL.md's commands, run in the container, with the test's part between them."""

    def __init__(self, box: SystemdContainer, checkout: Path, example: str) -> None:
        self.box = box
        self.checkout = checkout
        self.example = example
        self.shop_token = secrets.token_hex(16)
        self.api_token = secrets.token_hex(16)
        self.ran: list[str] = []
        self.main_pid = 0
        self.uid = 0
        self.exposure = float("nan")
        reload = "systemctl reload shopwatch # re-read the config (SIGHUP); waits until done"
        self.before: dict[str, Callable[[], None]] = {reload: self.edit_config_for_reload}
        self.after: dict[str, Callable[[Result], None]] = {
            "/opt/shopwatch/venv/bin/pip install dist/shopwatch-*-py3-none-any.whl": (
                self.check_installed
            ),
            "cp config/example.toml shopwatch.toml # then edit shopwatch.toml": self.edit_config,
            "install -m 0600 /dev/null /etc/shopwatch/credentials/api-token": self.write_tokens,
            "systemctl enable --now shopwatch": self.check_started,
            "systemctl status shopwatch # shows the daemon's STATUS= line, e.g. "
            '"watching 3 shop(s)"': self.check_running,
            reload: self.check_reloads,
            "systemctl restart shopwatch": self.check_restart_and_watchdog,
            "systemctl stop shopwatch": self.check_stopped,
            "systemctl start shopwatch": self.check_started,
        }
        self.after_db_upgrade = self.check_state_directory_after_upgrade

    # ---- running the document ----

    def run_all(self, commands: list[str]) -> None:
        unknown = (set(self.after) | set(self.before)) - set(commands)
        assert not unknown, f"INSTALL.md no longer has {unknown}: update this test"
        for command in commands:
            if command in self.before:
                self.before[command]()
            result = self.execute(command)
            self.ran.append(command)
            if command in self.after:
                self.after[command](result)
            elif "shopwatch db upgrade" in command:
                self.after_db_upgrade(result)

    def execute(self, command: str) -> Result:
        if "journalctl" in command and " -f" in command:
            # Never ends by itself: follow until the daemon's JSON log lines show.
            text = self.box.follow(command, lambda out: self.daemon_log_line(out, command))
            return Result(command, 0, text, "", 0.0)
        return self.box.run(
            command, cwd=CHECKOUT, host_network=uses_the_index(command), timeout=300
        )

    @staticmethod
    def daemon_log_line(output: str, command: str) -> bool:
        if "jq" in command:  # pretty-printed JSON objects
            return '  "event": "' in output and '  "level": "' in output
        return bool(re.search(r'shopwatch\[\d+\]: \{".*"event": ', output))

    # ---- the operator's part ----

    def write_config(self, text: str) -> None:
        self.box.run("cat > /etc/shopwatch/shopwatch.toml", stdin=text)

    def edit_config(self, _result: Result) -> None:
        (self.checkout / "shopwatch.toml").write_text(operator_config(self.example))

    def write_tokens(self, _result: Result) -> None:
        for name, token in (("shop-token", self.shop_token), ("api-token", self.api_token)):
            self.box.run(f"cat > /etc/shopwatch/credentials/{name}", stdin=token + "\n")
        modes = self.box.run("stat -c '%a %U %n' /etc/shopwatch/credentials/*").stdout
        assert modes.split("\n")[:2] == [
            "600 root /etc/shopwatch/credentials/api-token",
            "600 root /etc/shopwatch/credentials/shop-token",
        ], modes

    def edit_config_for_reload(self) -> None:
        self.write_config(operator_config(self.example, shops=2))

    # ---- looking at the service ----

    def http(self, method: str, path: str, *, token: str = "", body: str = "") -> tuple[int, str]:
        out = self.box.in_network(
            [sys.executable, "-c", HTTP_CLIENT, method, API + path, token, body]
        )
        status, _, text = out.partition("\n")
        return int(status), text

    def streams(self) -> dict[str, dict[str, object]]:
        status, body = self.http("GET", "/readyz")
        assert status == 200, body
        streams: dict[str, dict[str, object]] = json.loads(body)["streams"]
        return streams

    def metric(self, name: str) -> float:
        status, body = self.http("GET", "/metrics")
        assert status == 200
        found = re.search(rf"^{name} (\S+)$", body, flags=re.MULTILINE)
        assert found, f"{name} is not in /metrics"
        return float(found.group(1))

    def show(self, *properties: str) -> dict[str, str]:
        return self.box.show(UNIT, *properties)

    def pid_and_uid(self) -> tuple[int, int]:
        pid = int(self.show("MainPID")["MainPID"])
        assert pid > 0
        uid = self.box.run(f"awk '/^Uid:/ {{print $2}}' /proc/{pid}/status").stdout
        return pid, int(uid)

    def journal(self) -> str:
        return self.box.run(f"journalctl --no-pager -u {UNIT} -o cat").stdout

    def wait_for_status(self, expected: str, seconds: float) -> None:
        last: dict[str, str] = {}

        def shows() -> bool:
            last.update(self.show("StatusText"))
            return last["StatusText"] == expected

        try:
            wait_until(shows, seconds, f"StatusText={expected!r}")
        except ContainerError as exc:
            raise AssertionError(f"{exc}; last: {last}\n{self.journal()[-3000:]}") from None

    # ---- the checks ----

    def check_installed(self, result: Result) -> None:
        """A real install: a venv of Debian's /usr/bin/python3 at the production path, the
        package in its site-packages (no editable finder pointing at the checkout)."""
        assert "Successfully installed" in result.stdout or "already installed" in result.stdout
        config = self.box.run("cat /opt/shopwatch/venv/pyvenv.cfg").stdout
        assert "home = /usr/bin\n" in config, config
        where = self.box.run(
            "/opt/shopwatch/venv/bin/python -c 'import daemon.cli; print(daemon.cli.__file__)'"
        ).stdout.strip()
        site = re.fullmatch(
            r"(/opt/shopwatch/venv/lib/python3\.\d+/site-packages)/daemon/cli\.py", where
        )
        assert site, where
        assert "__editable__" not in self.box.run(f"ls {site.group(1)}").stdout

    def check_started(self, result: Result) -> None:
        """`systemctl start` returned: READY=1 came, so the listener answers now (no retry)."""
        state = self.show("ActiveState", "SubState", "StatusText", "MainPID")
        assert (state["ActiveState"], state["SubState"]) == ("active", "running"), state
        assert state["StatusText"], "READY=1 came with a STATUS="
        status, body = self.http("GET", "/readyz")
        assert status == 200 and json.loads(body)["status"] == "ready", body
        self.main_pid, uid = self.pid_and_uid()
        if self.uid:
            assert uid == self.uid, "DynamicUser: the same uid as before"
        self.uid = uid

    def check_running(self, result: Result) -> None:
        assert "Active: active (running)" in result.stdout, result.stdout
        assert "Status: " in result.stdout, result.stdout
        # The back-fill of the empty shop ends at the first poll; the status says so at
        # once, not at the next 15 s status interval.
        self.wait_for_status("watching 1 shop(s)", 12.0)
        self.check_dynamic_user()
        self.check_credentials()

    def check_dynamic_user(self) -> None:
        assert 61184 <= self.uid <= 65519, f"{self.uid} is not a dynamic uid"
        box = self.box
        assert box.run("readlink /var/lib/shopwatch").stdout.strip() == "private/shopwatch"
        assert box.run("stat -c '%a %u' /var/lib/private").stdout.split() == ["700", "0"]
        directory = box.run("stat -c '%a %u' /var/lib/private/shopwatch").stdout.split()
        assert directory == ["700", str(self.uid)]
        files = box.run("find /var/lib/private/shopwatch -type f -printf '%m %U %f\\n'").stdout
        rows = [line.split() for line in files.splitlines()]
        assert "shopwatch.db" in {row[2] for row in rows}, files
        assert all(row[:2] == ["600", str(self.uid)] for row in rows), files

    def check_credentials(self) -> None:
        listing = self.box.run(f"ls /run/credentials/{UNIT}").stdout.split()
        assert listing == ["api-token", "console-session-key", "shop-token"], listing
        # shop-token: the shop answers only to it, and every stream has polled successfully.
        streams = self.streams()
        assert set(streams) == {"main/orders", "main/chat"}, streams
        assert all(s["ok"] and not s["backfilling"] for s in streams.values()), streams
        # api-token: a write with it gets past the token check (400: the body is empty).
        assert self.http("POST", "/api/violations", token=self.api_token, body="{}")[0] == 400
        assert self.http("POST", "/api/violations", token="wrong", body="{}")[0] == 401

    def check_reloads(self, result: Result) -> None:
        """`systemctl reload` returned: the new config (a second shop) is in force now."""
        assert result.returncode == 0
        assert {"second/orders", "second/chat"} <= set(self.streams())
        assert self.pid_and_uid()[0] == self.main_pid, "a reload keeps the process"
        # Back and forth, each checked the moment `systemctl reload` returns.
        for shops in (1, 2, 1, 2):
            self.write_config(operator_config(self.example, shops=shops))
            self.box.run("systemctl reload shopwatch")
            names = {name.split("/")[0] for name in self.streams()}
            assert names == ({"main", "second"} if shops == 2 else {"main"}), names
        assert self.pid_and_uid()[0] == self.main_pid
        self.check_rejected_reload()

    def check_rejected_reload(self) -> None:
        self.write_config(operator_config(self.example, shops=2, broken=True))
        refused = self.box.run("systemctl reload shopwatch", check=False)
        assert refused.returncode != 0, "a rejected reload fails `systemctl reload`"
        state = self.show("ActiveState", "MainPID", "StatusText")
        assert state["ActiveState"] == "active" and int(state["MainPID"]) == self.main_pid
        assert "config reload rejected" in state["StatusText"], state
        assert "withinn" in state["StatusText"], state
        assert self.metric("shopwatch_config_last_reload_successful") == 0
        assert self.metric("shopwatch_config_reload_failures_total") == 1
        assert {name.split("/")[0] for name in self.streams()} == {"main", "second"}
        assert "reload rejected" in self.journal()

        self.write_config(operator_config(self.example, shops=2))
        self.box.run("systemctl reload shopwatch")
        assert self.metric("shopwatch_config_last_reload_successful") == 1
        self.wait_for_status("watching 2 shop(s)", 30.0)

    def check_restart_and_watchdog(self, result: Result) -> None:
        old_pid = self.main_pid
        self.check_started(result)
        assert self.main_pid != old_pid
        self.check_watchdog()

    def check_watchdog(self) -> None:
        """SIGSTOP: no more pings; within WatchdogSec=30 systemd sends SIGABRT (and SIGCONT),
        faulthandler prints the traceback, Restart=on-failure starts it again after 5 s."""
        restarts = int(self.show("NRestarts")["NRestarts"])
        stopped = self.main_pid
        self.box.run(f"kill -STOP {stopped}")
        # Meanwhile (the watchdog takes 15-30 s): the hardening of the unit as loaded.
        self.check_security()

        def restarted() -> bool:
            state = self.show("NRestarts", "MainPID", "ActiveState", "SubState")
            return (
                int(state["NRestarts"]) == restarts + 1
                and int(state["MainPID"]) not in (0, stopped)
                and (state["ActiveState"], state["SubState"]) == ("active", "running")
            )

        wait_until(restarted, 90.0, "the watchdog to kill and systemd to restart the daemon")
        journal = self.journal()
        assert "Watchdog timeout" in journal, journal[-3000:]
        assert "Fatal Python error: Aborted" in journal, journal[-3000:]
        current = journal[journal.rindex("Current thread") :].splitlines()
        assert "(most recent call first)" in current[0]
        assert current[1].lstrip().startswith('File "'), "\n".join(current[:10])
        pid, uid = self.pid_and_uid()
        assert uid == self.uid, "DynamicUser: the same uid after the restart"
        self.main_pid = pid
        self.wait_for_status("watching 2 shop(s)", 30.0)

    def check_security(self) -> None:
        out = self.box.run(f"systemd-analyze security --no-pager {UNIT}").stdout
        found = re.search(rf"Overall exposure level for {re.escape(UNIT)}:\s*([0-9.]+)", out)
        assert found, out
        self.exposure = float(found.group(1))
        assert self.exposure <= MAX_EXPOSURE, out

    def check_stopped(self, result: Result) -> None:
        assert result.returncode == 0
        state = self.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        assert state == {
            "ActiveState": "inactive",
            "Result": "success",
            "ExecMainCode": "1",  # CLD_EXITED: it exited by itself, no signal
            "ExecMainStatus": "0",
        }, state

    def check_state_directory_after_upgrade(self, result: Result) -> None:
        assert "database at revision" in result.stdout, result.output
        # Before the next start: still 0700, files 0600, owned by the same dynamic uid.
        self.check_dynamic_user()


def requirements() -> list[str]:
    """What is missing on this machine for the test to run."""
    missing = [] if os.geteuid() == 0 else ["root"]
    missing += [p for p in (*HOST_PROGRAMS, *INSTALL_PROGRAMS) if shutil.which(p) is None]
    if not SYSTEMD.exists():
        missing.append(str(SYSTEMD))
    if not Path("/usr/bin/dbus-daemon").exists():
        missing.append("dbus-daemon (systemd-run needs the bus)")
    venv = subprocess.run(
        ["/usr/bin/python3", "-c", "import ensurepip, venv"], capture_output=True, check=False
    )
    if venv.returncode != 0:
        missing.append("python3-venv")
    if cgroup2_mount() is None:
        missing.append("a cgroup2 mount")
    return missing


@contextmanager
def simulated_shop(box: SystemdContainer, token: str, log: Path) -> Iterator[None]:
    """The shop's API on the container's loopback (a host process in its network)."""
    server = ["-m", "tests.systemd.shop_server", "--port", str(SHOP_PORT), "--token", token]
    process = box.start_in_network(
        [sys.executable, *server],
        cwd=REPO,
        log=log,
    )
    try:
        wait_until(
            lambda: "listening" in log.read_text() or process.poll() is not None,
            30.0,
            "the simulated shop",
        )
        assert process.poll() is None, log.read_text()
        yield
    finally:
        process.terminate()
        process.wait(10)


def mount_lines(path: Path) -> list[str]:
    return [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in line
    ]


def test_install_md_word_for_word_under_a_real_systemd(tmp_path: Path) -> None:
    missing = requirements()
    if missing:
        pytest.skip("needs " + ", ".join(missing))
    host_before = {path: os.path.lexists(path) for path in HOST_PATHS}
    commands = install_commands(INSTALL.read_text())
    work = tmp_path / "container"
    checkout = tmp_path / "checkout"
    work.mkdir()
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(*NOT_CHECKOUT))
    example = (checkout / "config" / "example.toml").read_text()

    box = SystemdContainer(work, checkout)
    journal = ""
    try:
        with box:
            install = Install(box, checkout, example)
            with simulated_shop(box, install.shop_token, tmp_path / "shop.log"):
                try:
                    install.run_all(commands)
                    box.run("systemctl stop shopwatch")
                    install.check_stopped(Result("", 0, "", "", 0))
                finally:
                    journal = box.run("journalctl --no-pager", check=False).stdout
    except (AssertionError, ContainerError) as exc:
        raise AssertionError(
            f"{exc}\n--- commands ({box.transcript}) ---\n"
            + (box.transcript.read_text()[-6000:] if box.transcript.exists() else "")
            + f"\n--- journal ---\n{journal[-6000:]}"
        ) from exc

    assert install.ran == commands, "every command of INSTALL.md ran, in order"
    # Nothing left behind: no cgroup, no mount, nothing written outside tmp_path.
    assert box.cgroup is not None and not box.cgroup.exists()
    assert mount_lines(tmp_path) == []
    assert {path: os.path.lexists(path) for path in HOST_PATHS} == host_before
