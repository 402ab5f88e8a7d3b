"""The export directory: every file-system operation the ``files`` kind makes, each one attempt.

Layout under ``path``::

    <path>/chat-2026-11-28.jsonl    dropped by the shop, waiting (the inbox)
    <path>/imported/                 accepted files, read from here on every poll
    <path>/rejected/                 files that failed validation, for a person to fix

A file is moved with ``os.replace`` (atomic within one file system), so it is either waiting,
imported or rejected, never two of them. Any ``OSError`` is :class:`Unavailable`: the poller
retries it, and a directory that stays missing or unreadable fails each poll and says why.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.errors import Unavailable
from connectors.files.normalize import is_export

IMPORTED = "imported"
REJECTED = "rejected"
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class FileStat:
    """An imported file as last seen; a change of size or time means it must be read again."""

    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Accepted:
    stat: FileStat
    duplicate: bool
    """The same bytes were imported before (under this name): nothing new was added."""


class ExportDirectory:
    def __init__(
        self, path: Path, *, quiet_seconds: float, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self._quiet = quiet_seconds
        self._wall_clock = wall_clock

    def pending(self) -> list[Path]:
        """Export files waiting in the inbox, by name. A file changed within ``quiet_seconds``
        is left for a later poll: it may still be being copied in."""
        now = self._wall_clock()
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except OSError as exc:
            raise self._unavailable("cannot list", self.path, exc) from exc
        waiting = []
        for entry in entries:
            if not is_export(entry.name):
                continue
            try:
                if not entry.is_file() or now - entry.stat().st_mtime < self._quiet:
                    continue
            except OSError:
                continue  # moved away meanwhile
            waiting.append(Path(entry.path))
        return waiting

    def imported(self) -> list[FileStat]:
        folder = self.path / IMPORTED
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.exists() else []
            return [
                FileStat(entry.name, stat.st_size, stat.st_mtime_ns)
                for entry in entries
                if is_export(entry.name) and entry.is_file()
                for stat in [entry.stat()]
            ]
        except OSError as exc:
            raise self._unavailable("cannot list", folder, exc) from exc

    def read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise self._unavailable("cannot read", path, exc) from exc

    def read_imported(self, name: str) -> bytes:
        return self.read(self.path / IMPORTED / name)

    def head_of_imported(self, name: str) -> tuple[bytes, bool]:
        """The first bytes of an imported file, and whether they are all of it."""
        path = self.path / IMPORTED / name
        try:
            with path.open("rb") as handle:
                head = handle.read(HEAD_BYTES + 1)
        except OSError as exc:
            raise self._unavailable("cannot read", path, exc) from exc
        return head[:HEAD_BYTES], len(head) <= HEAD_BYTES

    def accept(self, path: Path, data: bytes) -> Accepted:
        """Move a validated file into ``imported/``. The same bytes imported before under
        this name make the new copy a duplicate, removed; other bytes under a name already
        taken are kept beside it (``name-<sha256 prefix>.jsonl``)."""
        folder = self._folder(IMPORTED)
        target, duplicate = _free_name(folder, path.name, data)
        try:
            if duplicate:
                path.unlink()
            else:
                os.replace(path, target)
            stat = target.stat()
        except OSError as exc:
            raise self._unavailable("cannot move", path, exc) from exc
        return Accepted(FileStat(target.name, stat.st_size, stat.st_mtime_ns), duplicate)

    def reject(self, path: Path, data: bytes) -> str:
        """Move a file that failed validation into ``rejected/``; returns its name there."""
        return self._set_aside(path, data)

    def reject_imported(self, name: str) -> str:
        path = self.path / IMPORTED / name
        return self._set_aside(path, self.read(path))

    def _set_aside(self, path: Path, data: bytes) -> str:
        target, duplicate = _free_name(self._folder(REJECTED), path.name, data)
        try:
            if duplicate:
                path.unlink()
            else:
                os.replace(path, target)
        except OSError as exc:
            raise self._unavailable("cannot move", path, exc) from exc
        return f"{REJECTED}/{target.name}"

    def _folder(self, name: str) -> Path:
        folder = self.path / name
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise self._unavailable("cannot create", folder, exc) from exc
        return folder

    @staticmethod
    def _unavailable(what: str, path: Path, exc: OSError) -> Unavailable:
        return Unavailable(f"export directory: {what} {path}: {exc.strerror or exc}")


def _free_name(folder: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """Where ``data`` goes in ``folder`` under ``name``, and whether it is there already."""
    target = folder / name
    if not target.exists():
        return target, False
    if _same(target, data):
        return target, True
    stem, dot, suffix = name.rpartition(".")
    digest = hashlib.sha256(data).hexdigest()[:12]
    target = folder / f"{stem}-{digest}{dot}{suffix}"
    return target, target.exists() and _same(target, data)


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
