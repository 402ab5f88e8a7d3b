"""The ``[console]`` table: the people's pages (SPEC §8), read strictly like the rest.

``session_key_file`` names the key that encrypts the sign-in cookie (a file or a systemd
credential, its first line; any random text of 32 characters or more). Without it, each start
makes a key of its own: sessions end at a restart and do not carry between processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from daemon.config.secrets import resolve_secret_path
from daemon.config.toml_table import TomlTable, boolean, positive_duration, text, whole_number

MAX_SESSION = timedelta(days=30)


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    session_key_file: Path | None = None
    session_max_age: timedelta = timedelta(hours=12)
    """A sign-in lasts at most this long, however active."""
    session_idle: timedelta = timedelta(hours=2)
    """A session unused this long ends."""
    secure_cookie: bool = False
    """Send the session cookie over HTTPS only (set it behind a TLS proxy)."""
    login_attempts: int = 5
    """Failed sign-ins (per name, and per address) before further tries are held off."""


def parse_console(table: TomlTable, config_dir: Path) -> ConsoleSettings:
    key = table.get("session_key_file", text, None)
    max_age = table.get("session_max_age", positive_duration, timedelta(hours=12))
    idle = table.get("session_idle", positive_duration, timedelta(hours=2))
    if max_age > MAX_SESSION:
        raise table.error("session_max_age", "at most 30d")
    if idle > max_age:
        raise table.error("session_idle", "at most session_max_age")
    secure = table.get("secure_cookie", boolean, False)
    attempts = table.get("login_attempts", whole_number, 5)
    if not 1 <= attempts <= 100:
        raise table.error("login_attempts", "expected a whole number from 1 to 100")
    table.finish()
    return ConsoleSettings(
        session_key_file=resolve_secret_path(key, config_dir) if key else None,
        session_max_age=max_age,
        session_idle=idle,
        secure_cookie=secure,
        login_attempts=attempts,
    )
