"""Secrets are never inline in the config: a ``*_file`` key names a file, or, without a
slash, a systemd credential handed over with ``LoadCredential=``. They are read at each
use, so a rotated file is picked up without a restart, and never logged (only paths are)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def resolve_secret_path(name: str, config_dir: Path) -> Path:
    """A bare name is a systemd credential (``LoadCredential=``); anything else a path."""
    if "/" not in name and os.environ.get("CREDENTIALS_DIRECTORY"):
        return Path(os.environ["CREDENTIALS_DIRECTORY"]) / name
    path = Path(name)
    return path if path.is_absolute() else config_dir / path


def secret_reader(path: Path) -> Callable[[], str]:
    """Read the secret at each use, so a rotated file is picked up without a restart."""

    def read() -> str:
        return path.read_text(encoding="utf-8").strip()

    return read
