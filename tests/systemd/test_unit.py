"""systemd/shopwatch.service: clean verify, no hardening regression, what the daemon needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "shopwatch.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

#: `systemd-analyze security --offline=yes` "Overall exposure level" reached (systemd 252).
#: May only ever go down. The residue is what the daemon needs or cannot use: network
#: access (PrivateNetwork/IPAddressDeny/AF_INET*/AF_UNIX), full /proc for process metrics
#: (ProcSubset), the host root (RootDirectory), and char-rtc:r that ProtectClock adds.
MAX_EXPOSURE = 1.1

needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)


def _run_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [SYSTEMD_ANALYZE, "--no-pager", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, duplicates kept (unlike configparser)."""
    section = ""
    out: list[tuple[str, str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def _values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in _directives(UNIT.read_text()) if s == section and k == key]


def _runnable_copy(directory: Path, text: str) -> Path:
    """The unit with every Exec*= binary missing on this machine replaced by `true`.

    `verify` fails hard when ExecStart's binary does not exist, and the venv
    (/opt/shopwatch/venv) only exists on a real install. Arguments are kept.
    """
    true = shutil.which("true")
    assert true is not None

    def replace(match: re.Match[str]) -> str:
        binary = match.group(2)
        return match.group(0) if os.access(binary, os.X_OK) else f"{match.group(1)}{true}"

    rewritten = re.sub(r"^(Exec[A-Za-z]+=[-@:+!]*)(/\S+)", replace, text, flags=re.MULTILINE)
    target = directory / "shopwatch.service"
    target.write_text(rewritten)
    return target


# --- (d) systemd-analyze verify ----------------------------------------------------


@pytest.mark.integration
@needs_systemd_analyze
def test_verify_prints_nothing(tmp_path: Path) -> None:
    unit = _runnable_copy(tmp_path, UNIT.read_text())
    assert "ExecStart=" + str(shutil.which("true")) + " run --config " in unit.read_text()

    result = _run_analyze("verify", str(unit))
    # systemd 252 reports unknown keys/bad values on stderr but exits 0: any output fails.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.integration
@needs_systemd_analyze
def test_verify_check_would_catch_a_warning(tmp_path: Path) -> None:
    """Guard for the test above: a typo must produce output even though the exit code is 0."""
    unit = _runnable_copy(tmp_path, UNIT.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    result = _run_analyze("verify", str(unit))
    assert "WatchdogSecs" in result.stdout + result.stderr


# --- (e) systemd-analyze security -----------------------------------------------------


@pytest.mark.integration
@needs_systemd_analyze
def test_security_exposure_does_not_regress() -> None:
    result = _run_analyze("security", "--offline=yes", str(UNIT))
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for shopwatch\.service:\s*([0-9]+\.[0-9]+)", output)
    assert match, output
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, output

    # Cross-check with systemd's own gate (the threshold is exposure x 10).
    gated = _run_analyze(
        "security", "--offline=yes", f"--threshold={round(MAX_EXPOSURE * 10)}", str(UNIT)
    )
    assert gated.returncode == 0, gated.stdout + gated.stderr


# --- what the daemon relies on ------------------------------------------------------


def test_unit_matches_what_the_daemon_does() -> None:
    assert _values("Type") == ["notify"]
    assert _values("NotifyAccess") == ["main"]
    assert _values("ExecStart") == [
        "/opt/shopwatch/venv/bin/shopwatch run --config /etc/shopwatch/shopwatch.toml"
    ]
    # Waits until the daemon has finished the reload (systemd 252 has no notify-reload).
    assert _values("ExecReload") == ["/opt/shopwatch/venv/bin/shopwatch reload --pid $MAINPID"]
    # Where the daemon records its reloads for `shopwatch reload`.
    assert _values("RuntimeDirectory") == ["shopwatch"]
    assert _values("RuntimeDirectoryMode") == ["0700"]
    assert _values("LimitNOFILE") == ["8192"]
    assert _values("WatchdogSec") == ["30"]
    assert _values("StateDirectory") == ["shopwatch"]
    assert _values("ConfigurationDirectory") == ["shopwatch"]
    assert _values("LoadCredential") == [
        "shop-token:/etc/shopwatch/credentials/shop-token",
        "api-token:/etc/shopwatch/credentials/api-token",
        "console-session-key:/etc/shopwatch/credentials/console-session-key",
    ]
    families = set(" ".join(_values("RestrictAddressFamilies")).split())
    assert families == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert _values("IPAddressDeny") == []
    assert _values("PrivateNetwork") == []
    # Hides /proc/stat, which ProcessCollector needs (next test).
    assert _values("ProcSubset") == []


def test_process_collector_needs_proc_stat(tmp_path: Path) -> None:
    """Why the unit has no ProcSubset=pid: without /proc/stat no process_* metrics at all."""
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc/stat here")
    pid_only = tmp_path / "proc-pid-only"
    pid_only.mkdir()
    (pid_only / "self").symlink_to("/proc/self")
    full = tmp_path / "proc-full"
    full.mkdir()
    (full / "self").symlink_to("/proc/self")
    (full / "stat").symlink_to("/proc/stat")

    def names(proc: Path) -> set[str]:
        registry = CollectorRegistry()
        ProcessCollector(proc=str(proc), registry=registry)
        return {metric.name for metric in registry.collect()}

    assert names(pid_only) == set()
    assert {"process_cpu_seconds", "process_open_fds", "process_max_fds"} <= names(full)
