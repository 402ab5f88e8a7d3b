"""The database under the daemon and at start: a SQLite file deleted while the daemon runs
is noticed (not ready, loud, writes through the API refused); a state directory that held a
database but has none is refused at start until ``shopwatch db upgrade`` starts an empty one
on purpose; files are the daemon's own (0600); an unreachable database at start is one line
naming its host with the password masked, and ``check-config`` refuses a malformed URL;
SQL errors never carry the bound parameters (buyers' messages)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from daemon import cli
from daemon.app import Daemon
from daemon.config.settings import load
from daemon.store.engine import create_engine
from daemon.store.identity import DatabaseMissing, marker_path
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for

from .support import served

OUTSIDE = {"rule": "X901", "agent": "a2", "at": "2026-11-02T09:00:00+08:00", "points": 3}


def remove(database: Path) -> None:
    """Delete a SQLite database as an operator's slip would: the file and its journal."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def write_config(directory: Path, database: str, extra_database: str = "") -> Path:
    (directory / "token").write_text("test-token")
    stream = 'kind = "generic"\nbase_url = "http://127.0.0.1:1"\ntoken_file = "token"\n'
    config = directory / "shopwatch.toml"
    config.write_text(
        f'[database]\nurl = "{database}"\n{extra_database}\n'
        '[http]\nlisten = "127.0.0.1:0"\napi_token_file = "token"\n'
        f'[[shops]]\nid = "s"\n[shops.orders]\n{stream}[shops.chat]\n{stream}'
        '[[agents]]\nid = "a1"\n'
    )
    return config


async def test_a_database_deleted_under_the_daemon_is_noticed_and_writes_are_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        daemon = api.daemon
        daemon.ready = True  # as after start: only the fault may take readiness away
        status, added = await api.call("POST", "/api/violations", json=OUTSIDE)
        assert status == 201 and daemon.check_database() is None
        database = tmp_path / "db.sqlite"
        with structlog.testing.capture_logs() as logged:
            remove(database)
            assert daemon.check_database() is not None  # the scheduler's periodic check
            daemon.check_database()  # said once, not at every check
        lost = [e for e in logged if e["log_level"] == "error"]
        assert len(lost) == 1 and "deleted" in lost[0]["error"]
        ready, details = daemon.readiness()
        assert not ready and "deleted" in details["database"]
        assert daemon.status_line().startswith("NOT READY")
        async with api.http.get(api.base + "/readyz") as r:
            assert r.status == 503
        # A decision would be written into the deleted file and lost: refused instead.
        status, answer = await api.call(
            "POST", f"/api/violations/{added['id']}/waive", json={"by": "Chen", "reason": "r"}
        )
        assert status == 503 and "deleted" in answer["error"]


async def test_a_database_replaced_under_the_daemon_is_noticed(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        database = tmp_path / "db.sqlite"
        copy = tmp_path / "copy.sqlite"
        copy.write_bytes(database.read_bytes())
        os.replace(copy, database)
        failure = api.daemon.check_database()
        assert failure is not None and "replaced" in failure


async def test_a_state_directory_that_held_a_database_is_refused_when_it_is_gone(
    tmp_path: Path, clock: FakeClock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shopwatch.db'}"
    settings = settings_for(tmp_path, database_url=url)
    first = Daemon(settings, clock=clock)
    await first.prepare()
    await first.stop()
    assert marker_path(tmp_path / "shopwatch.db").exists()
    remove(tmp_path / "shopwatch.db")

    again = Daemon(settings, clock=clock)
    with pytest.raises(DatabaseMissing, match="shopwatch db upgrade"):
        await again.prepare()
    await again.stop()
    assert not (tmp_path / "shopwatch.db").exists()  # nothing created silently

    config = write_config(tmp_path, url)
    code = await asyncio.to_thread(cli.main, ["violations", "list", "--config", str(config)])
    assert code == 1 and not (tmp_path / "shopwatch.db").exists()
    code = await asyncio.to_thread(cli.main, ["db", "upgrade", "--config", str(config)])
    assert code == 0 and (tmp_path / "shopwatch.db").exists()
    started = Daemon(load(config), clock=clock)
    await started.prepare()
    await started.stop()


async def test_the_database_its_journal_and_its_marker_are_the_owners_only(
    tmp_path: Path, clock: FakeClock
) -> None:
    previous = os.umask(0o022)  # as outside systemd
    try:
        async with served(tmp_path, clock) as api:
            status, _ = await api.call("POST", "/api/violations", json=OUTSIDE)
            assert status == 201
            database = tmp_path / "db.sqlite"
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            files.append(marker_path(database))
            for path in files:
                assert path.exists(), path
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        os.umask(previous)


async def test_sql_errors_never_carry_the_bound_parameters(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (m TEXT NOT NULL UNIQUE)"))
            await conn.execute(text("INSERT INTO t VALUES (:m)"), {"m": "买家的私信 138-0000-1111"})
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(
                    text("INSERT INTO t VALUES (:m)"), {"m": "买家的私信 138-0000-1111"}
                )
        assert "138-0000-1111" not in str(failed.value)
        assert "parameters hidden" in str(failed.value)
    finally:
        await engine.dispose()


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_an_unreachable_database_at_start_is_one_line_naming_its_host(
    tmp_path: Path,
) -> None:
    url = "postgresql+asyncpg://shopwatch:hunter2@127.0.0.1:1/shopwatch"
    config = write_config(tmp_path, url)
    code, _, err = await run_cli("run", "--config", str(config))
    assert code == 1
    assert "Traceback" not in err and "hunter2" not in err
    (line,) = [line for line in err.splitlines() if "127.0.0.1:1" in line]
    assert "shopwatch:***@127.0.0.1:1/shopwatch" in line and "cannot use the database" in line
    assert len(err.splitlines()) <= 3, err


async def test_the_database_password_comes_from_a_file_and_is_never_shown(
    tmp_path: Path,
) -> None:
    (tmp_path / "db-password").write_text("s3cret-pass\n# set 2026-11-01\n")
    url = "postgresql+asyncpg://shopwatch@127.0.0.1:1/shopwatch"
    config = write_config(tmp_path, url, 'password_file = "db-password"')
    settings = load(config)
    assert settings.database().password == "s3cret-pass"
    assert "s3cret" not in settings.database_shown() + repr(settings)
    code, out, err = await run_cli("run", "--config", str(config))
    assert code == 1 and "s3cret" not in out + err
    assert "shopwatch@127.0.0.1:1" in err  # the URL as configured: no password in it


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("not a url", ""),
        ("postgresql+asyncpg://", ""),
        ("mysql://shopwatch@db/shopwatch", ""),
        ("postgresql+asyncpg://u:inline@db/x", 'password_file = "db-password"'),
    ],
)
def test_check_config_refuses_a_malformed_database_url(
    tmp_path: Path, url: str, extra: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, url, extra)
    code = cli.main(["check-config", str(config)])
    err = capsys.readouterr().err
    assert code == 1 and "database." in err, err
    assert "Traceback" not in err and "inline" not in err
