"""One error policy for people (``daemon.errors``), the same at the HTTP API and the CLI.

Bad input is a 400 / exit 1 naming the field, not found a 404 / exit 1, a conflict a 409 /
exit 1; anything else is a bug and stays one: a 500 with a log line (its trace), a traceback
from the CLI. Before, a handler turned any ``ValueError`` into a 404 and the CLI caught bare
``ValueError`` — a bug read as the person's mistake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from daemon import cli
from daemon.errors import BadInput, Conflict, NotFound
from daemon.http import Api, make_app
from tests.conftest import FakeClock
from tests.scorecard.support import make_settings

AUTH = {"Authorization": "Bearer test-token"}


class _RaisingLedger:
    """A ledger whose reads raise what the test sets."""

    def __init__(self) -> None:
        self.error: Exception = RuntimeError("unset")

    async def find(self, **_: Any) -> list[dict[str, Any]]:
        raise self.error

    async def get(self, violation_id: int) -> dict[str, Any]:
        raise self.error


@pytest.fixture
def ledger() -> _RaisingLedger:
    return _RaisingLedger()


@pytest.fixture
async def client(
    tmp_path: Path, clock: FakeClock, ledger: _RaisingLedger
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite'}")
    api = Api(
        ledger=ledger,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]  # not used by these endpoints
        clock=clock,
        readiness=lambda: (True, {}),
        api_token=lambda: "test-token",
        settings=lambda: settings,
    )
    async with TestClient(TestServer(make_app(api, CollectorRegistry()))) as http:
        yield http


@pytest.mark.parametrize(
    ("error", "status", "field"),
    [
        (BadInput("must be one of open, waived", field="status"), 400, "status"),
        (NotFound("no violation with id 7", field="id"), 404, "id"),
        (Conflict("already waived", field="status"), 409, "status"),
    ],
)
async def test_a_refusal_is_its_status_naming_the_field(
    client: TestClient[web.Request, web.Application],
    ledger: _RaisingLedger,
    error: Exception,
    status: int,
    field: str,
) -> None:
    ledger.error = error
    for path in ("/api/violations", "/api/violations/7"):
        response = await client.get(path, headers=AUTH)
        assert response.status == status, path
        assert await response.json() == {"error": str(error), "field": field}


@pytest.mark.parametrize("error", [ValueError("invalid literal"), KeyError("score")])
async def test_a_bug_stays_a_500_with_a_log_line(
    client: TestClient[web.Request, web.Application], ledger: _RaisingLedger, error: Exception
) -> None:
    ledger.error = error
    with structlog.testing.capture_logs() as logged:
        response = await client.get("/api/violations/7", headers=AUTH)
    assert response.status == 500, "a bug's ValueError is never the person's 400 or 404"
    assert await response.json() == {"error": "internal error; see the daemon's log"}
    (line,) = [e for e in logged if e["event"] == "request failed"]
    assert (line["log_level"], line["path"]) == ("error", "/api/violations/7")


@pytest.mark.parametrize(
    "error",
    [BadInput("expected YYYY-MM", field="--month"), NotFound("no agent a9"), Conflict("closed")],
)
def test_the_cli_answers_a_refusal_with_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    def refuse(_: object) -> int:
        raise error

    monkeypatch.setattr(cli, "cmd_rules", refuse)
    assert cli.main(["rules"]) == 1
    assert capsys.readouterr().err == f"shopwatch: {error}\n"


def test_a_bug_in_a_cli_command_is_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: object) -> int:
        raise ValueError("invalid literal")

    monkeypatch.setattr(cli, "cmd_rules", broken)
    with pytest.raises(ValueError, match="invalid literal"):
        cli.main(["rules"])
