"""With SQLite, one ``shopwatch run`` per database file (SPEC §9: SQLite means one process).

Two processes on one SQLite file would both poll every shop and race on its watermarks;
several processes need PostgreSQL and its shop leases. The guard is an exclusive ``flock``
on ``<database>.lock`` held for the life of the process: the kernel drops it when the
process ends, however it ends, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from daemon.store.identity import DatabaseUnavailable


class DatabaseInUse(DatabaseUnavailable):
    """Another process already runs on this SQLite file."""


class SingleProcessLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"another shopwatch process already runs on the SQLite database "
                f"{self.path.with_suffix('')}: with SQLite only one may; to run several, "
                "use PostgreSQL ([database] url), where they share the shops"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
