"""The SQLite database file's identity (device and inode), so that a database deleted or
replaced under the daemon is noticed, and a state directory that held a database but has
none at start is refused instead of silently starting an empty one.

Next to the database (``shopwatch.db``) a marker (``shopwatch.db.id``) records the identity
of the file the daemon last opened and when it first saw it. Only ``shopwatch db upgrade``
creates a database where the marker says one existed: that is the operator's decision
(after restoring a backup failed, say), never the daemon's.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store import migrate

MARKER_SUFFIX = ".id"


class DatabaseUnavailable(Exception):
    """The database cannot be used at start; the message is one line for the operator
    (names the file or the URL with its password masked, never a traceback)."""


class DatabaseMissing(DatabaseUnavailable):
    """The marker says a database was here, but the file is gone."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        status = os.stat(path)
        return cls(device=status.st_dev, inode=status.st_ino)


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def marker_path(database: Path) -> Path:
    return database.with_name(database.name + MARKER_SUFFIX)


def check_before_open(database: Path, *, create: bool) -> None:
    """Before the engine first connects: refuse a database that the marker says existed
    (unless ``create``); create a new file readable by its owner only (SQLite gives its
    ``-wal`` and ``-shm`` files the database file's mode)."""
    if database.exists():
        return
    marker = marker_path(database)
    if marker.exists() and not create:
        raise DatabaseMissing(
            f"the database {database} is missing, but {marker} says one was there "
            f"(first seen {_first_seen(marker)}); restore it from a backup, or run "
            "`shopwatch db upgrade` to start an empty database on purpose"
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def remember(database: Path, now: datetime | None = None) -> FileIdentity:
    """Record the identity of the database just opened in its marker; returns it."""
    identity = FileIdentity.of(database)
    marker = marker_path(database)
    first_seen = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    previous = _read(marker)
    if previous.get("device") == identity.device and previous.get("inode") == identity.inode:
        first_seen = str(previous.get("first_seen", first_seen))
    record = {
        "database": database.name,
        "device": identity.device,
        "inode": identity.inode,
        "first_seen": first_seen,
    }
    temporary = marker.with_name(marker.name + ".tmp")
    descriptor = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(record, file)
        file.write("\n")
    os.replace(temporary, marker)
    return identity


def _read(marker: Path) -> dict[str, object]:
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _first_seen(marker: Path) -> str:
    return str(_read(marker).get("first_seen", "at an unknown time"))


class DatabaseFileWatch:
    """Whether the database file is still the one the daemon opened: a deleted file keeps
    taking writes through the open descriptors, and every one of them is lost."""

    def __init__(self, database: Path, identity: FileIdentity) -> None:
        self.database = database
        self.identity = identity

    def failure(self) -> str | None:
        """Why the file is not the one opened at start, or None while it is."""
        try:
            now = FileIdentity.of(self.database)
        except FileNotFoundError:
            return f"the database file {self.database} was deleted under the daemon"
        except OSError as exc:
            return f"the database file {self.database} cannot be checked: {exc.strerror}"
        if now != self.identity:
            return f"the database file {self.database} was replaced under the daemon"
        return None


async def open_database(
    engine: AsyncEngine,
    *,
    shown_url: str,
    create: bool = False,
    now: datetime | None = None,
) -> DatabaseFileWatch | None:
    """Check, migrate and remember the database: what ``shopwatch run`` and every command
    that reads the store do first. Raises :class:`DatabaseUnavailable` with one line (the
    URL as ``shown_url``, its password masked) instead of a driver's traceback."""
    database = sqlite_file(engine.url)
    if database is not None:
        check_before_open(database, create=create)
    try:
        await migrate.upgrade(engine)
    except (OSError, DBAPIError, TimeoutError) as error:
        reason = getattr(error, "orig", None) or error
        detail = " ".join(str(reason).split())[:200] or type(reason).__name__
        raise DatabaseUnavailable(f"cannot use the database at {shown_url}: {detail}") from None
    if database is None:
        return None
    return DatabaseFileWatch(database, remember(database, now))
