"""Leaves and the handover book through the HTTP API and the CLI (SPEC §6).

``POST /api/leaves`` and ``POST /api/handovers`` need the bearer token and answer 201 with
the record; a refusal is 400 with ``{"error", "field"}``; the lists filter as SPEC says.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from daemon import cli
from daemon.http import Api, make_app
from daemon.store import migrate
from daemon.store.engine import create_engine
from tests.conftest import FakeClock
from tests.scorecard.support import make_settings

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
async def client(
    tmp_path: Path, clock: FakeClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    settings = make_settings(tmp_path, url)
    engine = create_engine(url)
    await migrate.upgrade(engine)
    api = Api(
        ledger=None,  # type: ignore[arg-type]  # not used by these endpoints
        engine=engine,
        clock=clock,
        readiness=lambda: (True, {}),
        api_token=lambda: "test-token",
        settings=lambda: settings,
    )
    async with TestClient(TestServer(make_app(api, CollectorRegistry()))) as http:
        yield http
    await engine.dispose()


LEAVE = {
    "agent": "a1",
    "from": "2026-11-02T13:00:00+08:00",
    "until": "2026-11-02T15:00:00+08:00",
    "by": "Chen",
    "reason": "dentist",
}
NOTE = {"shift": "night", "day": "2026-11-02", "by": "a3", "text": "b-7 waits for a refund"}


async def test_a_leave_through_the_api(
    client: TestClient[web.Request, web.Application], clock: FakeClock
) -> None:
    response = await client.post("/api/leaves", json=LEAVE)
    assert response.status == 401
    response = await client.post("/api/leaves", json=LEAVE, headers=AUTH)
    assert response.status == 201
    created = await response.json()
    assert created == {
        "id": created["id"],
        "agent": "a1",
        "from": "2026-11-02T05:00:00+00:00",
        "until": "2026-11-02T07:00:00+00:00",
        "by": "Chen",
        "reason": "dentist",
        "created_at": clock.now().isoformat(),
    }
    listed = await (await client.get("/api/leaves?agent=a1", headers=AUTH)).json()
    assert listed == {"leaves": [created]}
    assert await (await client.get("/api/leaves?agent=a2", headers=AUTH)).json() == {"leaves": []}
    over = await client.get("/api/leaves?since=2026-11-02T15:00:00%2B08:00", headers=AUTH)
    assert await over.json() == {"leaves": []}
    by_day = await client.get("/api/leaves?since=2026-11-02", headers=AUTH)
    assert [x["id"] for x in (await by_day.json())["leaves"]] == [created["id"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent": "nobody"}, "agent"),
        ({"until": "2026-11-02T13:00:00+08:00"}, "until"),
        ({"from": "2026-11-02 13:00"}, "from"),
        ({"by": ""}, "by"),
    ],
)
async def test_a_bad_leave_is_a_400_naming_the_field(
    client: TestClient[web.Request, web.Application], changes: dict[str, str], field: str
) -> None:
    response = await client.post("/api/leaves", json={**LEAVE, **changes}, headers=AUTH)
    assert response.status == 400
    body = await response.json()
    assert body["field"] == field and body["error"].startswith(f"{field}: ")


async def test_a_handover_note_through_the_api(
    client: TestClient[web.Request, web.Application], clock: FakeClock
) -> None:
    response = await client.post("/api/handovers", json=NOTE)
    assert response.status == 401
    response = await client.post("/api/handovers", json=NOTE, headers=AUTH)
    assert response.status == 201
    created = await response.json()
    assert created == {**NOTE, "id": created["id"], "written_at": clock.now().isoformat()}
    day_note = {**NOTE, "shift": "day", "day": "2026-11-03"}
    second = await (await client.post("/api/handovers", json=day_note, headers=AUTH)).json()
    everything = await (await client.get("/api/handovers", headers=AUTH)).json()
    assert everything == {"handovers": [created, second]}
    night = await (await client.get("/api/handovers?shift=night", headers=AUTH)).json()
    assert night == {"handovers": [created]}
    from_tuesday = await (await client.get("/api/handovers?since=2026-11-03", headers=AUTH)).json()
    assert from_tuesday == {"handovers": [second]}
    written_later = await client.get(
        "/api/handovers?since=2026-11-02T10:00:01%2B08:00", headers=AUTH
    )
    assert await written_later.json() == {"handovers": []}
    bad = await client.get("/api/handovers?since=tomorrow", headers=AUTH)
    assert bad.status == 400 and (await bad.json())["field"] == "since"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"shift": "evening"}, "shift"),
        ({"day": "02/11/2026"}, "day"),
        ({"text": ""}, "text"),
        ({"by": None}, "by"),
    ],
)
async def test_a_bad_handover_note_is_a_400_naming_the_field(
    client: TestClient[web.Request, web.Application], changes: dict[str, object], field: str
) -> None:
    response = await client.post("/api/handovers", json={**NOTE, **changes}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["field"] == field


def test_the_cli_adds_and_lists_leaves_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.scorecard.support import settings_text

    config = tmp_path / "shopwatch.toml"
    (tmp_path / "token").write_text("t", encoding="utf-8")
    config.write_text(settings_text(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}"))
    args = ["leave", "add", "--config", str(config), "--agent", "a2", "--by", "Chen"]
    args += ["--from", "2026-11-02T09:00+08:00"]
    assert cli.main([*args, "--until", "2026-11-02T12:00+08:00"]) == 0
    assert "leave 1: a2" in capsys.readouterr().out
    assert cli.main([*args, "--until", "2026-11-02T09:00+08:00"]) == 1
    assert "until: must be later than from" in capsys.readouterr().err
    assert cli.main(["leave", "list", "--config", str(config), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["leaves"]
    assert [(x["agent"], x["from"]) for x in listed] == [("a2", "2026-11-02T01:00:00+00:00")]

    note = ["handover", "add", "--config", str(config), "--shift", "night", "--by", "a3"]
    today = datetime.now(UTC).astimezone(make_settings(tmp_path, "sqlite://").timezone).date()
    assert cli.main([*note, "--day", today.isoformat(), "--text", "all quiet"]) == 0
    assert "handover note 1: night" in capsys.readouterr().out
    assert cli.main([*note, "--day", "yesterday", "--text", "x"]) == 1
    assert "day: expected a day" in capsys.readouterr().err
    assert cli.main(["handover", "list", "--config", str(config), "--shift", "night"]) == 0
    out = capsys.readouterr().out
    assert "all quiet" in out and "1 note(s)" in out


def test_shifts_say_who_writes_the_handover(tmp_path: Path) -> None:
    from daemon.config.settings import ConfigError

    settings = make_settings(tmp_path, "sqlite+aiosqlite:///x.db")
    assert all(s.handover and s.handover_by is None for s in settings.shifts)

    def late(keys: str) -> str:
        return f'[[shifts]]\nname = "late"\nstart = "20:00"\nend = "02:00"\nagents = ["a3"]\n{keys}'

    shift = make_settings(
        tmp_path, "sqlite+aiosqlite:///x.db", extra=late('handover = false\nhandover_by = "a3"')
    ).shifts[-1]
    assert (shift.name, shift.handover, shift.handover_by) == ("late", False, "a3")
    with pytest.raises(ConfigError, match="handover_by"):
        make_settings(tmp_path, "sqlite+aiosqlite:///x.db", extra=late('handover_by = "zz"'))
    with pytest.raises(ConfigError, match="handover"):
        make_settings(tmp_path, "sqlite+aiosqlite:///x.db", extra=late('handover = "no"'))
