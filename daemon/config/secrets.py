"""Secrets are never inline in the config: a ``*_file`` key names a file, or, without a
slash, a systemd credential handed over with ``LoadCredential=``. They are read at each
use, so a rotated file is picked up without a restart, and never logged (only paths are).

A secret is the file's first line, trimmed: a note written under it (``# rotated …``) or a
second token left in by mistake never reaches a request header, an error message or the
log. A file whose first line is empty is refused, naming the file and never its content."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class SecretError(OSError):
    """A secret file that cannot be used; the message names the file, never its content."""


def resolve_secret_path(name: str, config_dir: Path) -> Path:
    """A bare name is a systemd credential (``LoadCredential=``); anything else a path."""
    if "/" not in name and os.environ.get("CREDENTIALS_DIRECTORY"):
        return Path(os.environ["CREDENTIALS_DIRECTORY"]) / name
    path = Path(name)
    return path if path.is_absolute() else config_dir / path


def read_secret(path: Path) -> str:
    """The secret in ``path``: its first line, trimmed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read the secret file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"the secret file {path} is not UTF-8 text") from None
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise SecretError(f"the secret file {path} has nothing on its first line")
    if not secret.isprintable():
        raise SecretError(f"the secret file {path} has control characters on its first line")
    return secret


def secret_reader(path: Path) -> Callable[[], str]:
    """Read the secret at each use, so a rotated file is picked up without a restart."""

    def read() -> str:
        return read_secret(path)

    return read


def masked_url(url: str) -> str:
    """A database URL as it may be shown: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a malformed database URL)"
