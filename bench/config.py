"""Daemon settings for the bench, a settable clock, and the machine's description."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import gen
from bench.server import TOKEN
from daemon.config.settings import Settings, parse

SHOP = "s"
# 16:00 on Double-11 in Asia/Shanghai: the last 24 h cover a night (offline episodes).
DOUBLE_11 = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the bench moves by hand (the daemon takes any object with ``now()``)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


def settings(
    workdir: Path,
    *,
    base_url: str,
    database: Path,
    poll_interval: str = "1s",
    settle: str = "100ms",
    backfill: str = "24h",
    evaluation_interval: str = "10s",
    roster_size: int = gen.ROSTER_SIZE,
) -> Settings:
    """One shop on the generic connector; 50 agents on two shifts, the rest of the roster
    (relief staff) on none; the demo's rule deadlines."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "shop-token").write_text(TOKEN)
    (workdir / "api-token").write_text("bench-api-token")
    stream = f"""kind = "generic"
base_url = "{base_url}"
token_file = "shop-token"
poll_interval = "{poll_interval}"
backfill = "{backfill}"
settle = "{settle}"
page_size = 500
"""
    agents = "".join(f'[[agents]]\nid = "{a}"\n' for a in gen.roster(roster_size))
    day = ", ".join(f'"{a}"' for a in gen.DAY_AGENTS)
    night = ", ".join(f'"{a}"' for a in gen.NIGHT_AGENTS)
    text = f"""
timezone = "Asia/Shanghai"
[database]
url = "sqlite+aiosqlite:///{database}"
[http]
listen = "127.0.0.1:0"
api_token_file = "api-token"
[evaluation]
interval = "{evaluation_interval}"
[[shops]]
id = "{SHOP}"
[shops.orders]
{stream}
[shops.chat]
{stream}
{agents}
[[shifts]]
name = "day"
start = "08:30"
end = "17:30"
agents = [{day}]
[[shifts]]
name = "night"
start = "17:30"
end = "24:00"
agents = [{night}]
[rules.CS101]
within = "60m"
[rules.CS102]
within = "10m"
[rules.CS103]
within = "30m"
"""
    return parse(tomllib.loads(text), str(workdir / "bench.toml"), workdir)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import sqlalchemy

        sqlalchemy_version = sqlalchemy.__version__
    except ImportError:  # pragma: no cover
        sqlalchemy_version = None
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy_version,
        "platform": platform.platform(),
        "memory_gib": _memory_gib(),
    }


def code_version(root: Path) -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it (read-only git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git(
        "status", "--porcelain", "--untracked-files=no", "--", "daemon", "connectors", "checks"
    )
    return {
        "commit": git("rev-parse", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "daemon_tree_modified": None if status is None else bool(status),
    }


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None
