"""``shopwatch user``: add, passwd, disable, list — the password from a file or a prompt,
never from the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from daemon import cli
from tests.scorecard.support import settings_text


def a_config(tmp_path: Path) -> tuple[Path, list[str]]:
    """A config on a fresh SQLite file, and the arguments naming it and a password file
    (whose second line is ignored)."""
    config = tmp_path / "shopwatch.toml"
    (tmp_path / "token").write_text("t", encoding="utf-8")
    config.write_text(settings_text(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}"))
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\nignored second line\n")
    return config, ["--config", str(config), "--password-file", str(secret)]


def test_users_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, base = a_config(tmp_path)
    assert cli.main(["user", "add", "chen", "--role", "supervisor", *base]) == 0
    assert "user chen added (supervisor)" in capsys.readouterr().out
    assert cli.main(["user", "add", "li", "--role", "agent", "--agent", "a1", *base]) == 0
    assert cli.main(["user", "add", "li", "--role", "lead", *base]) == 1
    assert "exists already" in capsys.readouterr().err
    assert cli.main(["user", "add", "x", "--role", "agent", "--agent", "zz", *base]) == 1
    assert "agent: 'zz' is not on the roster" in capsys.readouterr().err
    # No --password option exists: a password never goes on the command line.
    with pytest.raises(SystemExit):
        cli.main(["user", "add", "y", "--role", "lead", "--password", "p", "--config", "c"])
    capsys.readouterr()
    # From standard input, and typed twice at a prompt.
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    stdin = ["--config", str(config), "--password-file", "-"]
    assert cli.main(["user", "passwd", "chen", *stdin]) == 0
    assert "sessions have ended" in capsys.readouterr().out
    answers = iter(["typed long password", "typed differently"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["user", "passwd", "li", "--config", str(config)]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
    assert cli.main(["user", "disable", "li", "--config", str(config)]) == 0
    assert cli.main(["user", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    assert "chen" in listed and "li" in listed and "(disabled)" in listed
    assert "last sign-in never" in listed
    assert "(one-time password)" not in listed


def test_an_operator_can_set_a_one_time_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password set for somebody else (a new colleague, a forgotten one) is theirs to
    replace at the next sign-in, as when a lead resets it in the console."""
    config, base = a_config(tmp_path)
    assert cli.main(["user", "add", "wang", "--role", "supervisor", "--one-time", *base]) == 0
    assert "it is one-time" in capsys.readouterr().out
    assert cli.main(["user", "list", "--config", str(config)]) == 0
    assert "(one-time password)" in capsys.readouterr().out
    assert cli.main(["user", "passwd", "wang", *base]) == 0  # their own again: permanent
    assert "one-time" not in capsys.readouterr().out
    assert cli.main(["user", "list", "--config", str(config)]) == 0
    assert "(one-time password)" not in capsys.readouterr().out
    assert cli.main(["user", "passwd", "wang", "--one-time", *base]) == 0
    assert "it is one-time" in capsys.readouterr().out
    assert cli.main(["user", "list", "--config", str(config)]) == 0
    assert "(one-time password)" in capsys.readouterr().out
