"""Hostile or careless input to the HTTP API: a 400 naming the field, never a 500, and
nothing committed; and a bad value already in the database never breaks a read.

On both databases where it matters (PostgreSQL refuses NUL bytes and over-long text, where
SQLite would store them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from daemon.store.tables import bonuses, row_id, violations
from tests.conftest import FakeClock

from .support import Served, served

AT = "2026-11-02T09:00:00+08:00"
MANUAL = {"rule": "M201", "agent": "a2", "at": AT, "note": "late"}
OUTSIDE = {"rule": "X901", "agent": "a2", "at": AT, "points": 3}
"""A code outside the catalogue: recorded with the points and fine it is given."""


async def ledger_size(api: Served) -> int:
    async with api.daemon.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(violations))).scalar_one())


@pytest.mark.parametrize(
    "fine",
    ["Infinity", "-Infinity", "NaN", "sNaN", "1e400", "1e30", -5, "0.001", "12 CNY", True, [1]],
)
async def test_a_fine_that_is_no_sane_amount_is_refused_naming_fine_and_nothing_is_stored(
    tmp_path: Path, clock: FakeClock, fine: Any
) -> None:
    async with served(tmp_path, clock) as api:
        for body in ({**MANUAL, "fine": fine}, {**OUTSIDE, "fine": fine}):
            status, answer = await api.call("POST", "/api/violations", json=body)
            assert (status, answer["field"]) == (400, "fine"), answer
        assert await ledger_size(api) == 0
        # A sane one is stored, as a number.
        status, answer = await api.call("POST", "/api/violations", json={**OUTSIDE, "fine": "12.5"})
        assert status == 201 and answer["fine"] == 12.5


async def test_a_json_number_too_large_for_a_float_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        raw = json.dumps(OUTSIDE)[:-1] + ', "fine": 1e400}'  # json reads it as inf
        status, answer = await api.call(
            "POST", "/api/violations", data=raw, headers={"Content-Type": "application/json"}
        )
        assert (status, answer["field"]) == (400, "fine")
        raw = json.dumps(OUTSIDE)[:-1] + ', "fine": NaN}'  # not JSON at all
        status, answer = await api.call(
            "POST", "/api/violations", data=raw, headers={"Content-Type": "application/json"}
        )
        assert (status, answer["field"]) == (400, "body")
        assert await ledger_size(api) == 0


@pytest.mark.parametrize("points", [10**6, -1, 2**63, "abc", 1.5, True])
async def test_points_are_whole_and_bounded(tmp_path: Path, clock: FakeClock, points: Any) -> None:
    async with served(tmp_path, clock) as api:
        status, answer = await api.call(
            "POST", "/api/violations", json={**OUTSIDE, "points": points}
        )
        assert (status, answer["field"]) == (400, "points"), answer
        bonus = {"agent": "a1", "code": "B203", "day": "2026-11-02", "by": "Chen", "reason": "r"}
        status, answer = await api.call("POST", "/api/bonuses", json={**bonus, "points": points})
        assert (status, answer["field"]) == (400, "points"), answer
        assert await ledger_size(api) == 0
        async with api.daemon.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(bonuses))).scalar() == 0


@pytest.mark.parametrize("stored", ["Infinity", "-Infinity", "NaN", "1e400", "not a number"])
async def test_one_bad_stored_fine_breaks_no_read(
    tmp_path: Path, clock: FakeClock, stored: str
) -> None:
    """A row written before amounts were checked (or by hand) is served with fine null; the
    list, the detail and the scorecard keep answering valid JSON."""
    async with served(tmp_path, clock) as api:
        status, good = await api.call("POST", "/api/violations", json={**OUTSIDE, "fine": 5})
        assert status == 201
        status, bad = await api.call("POST", "/api/violations", json={**OUTSIDE, "fine": 1})
        async with api.daemon.engine.begin() as conn:
            await conn.execute(
                violations.update().where(violations.c.id == bad["id"]).values(fine=stored)
            )
        status, listed = await api.call("GET", "/api/violations")
        assert status == 200
        fines = {v["id"]: v["fine"] for v in listed["violations"]}
        assert fines == {good["id"]: 5, bad["id"]: None}
        status, detail = await api.call("GET", f"/api/violations/{bad['id']}")
        assert status == 200 and detail["fine"] is None
        status, card = await api.call("GET", "/api/scorecard", params={"month": "2026-11"})
        assert status == 200
        a2 = next(a for a in card["agents"] if a["agent"] == "a2")
        assert a2["fines"] == 5  # the bad row counts nothing


@pytest.mark.parametrize(
    ("method", "path", "params", "field", "status"),
    [
        ("GET", "/api/violations", {"limit": "0"}, "limit", 400),
        ("GET", "/api/violations", {"limit": "-1"}, "limit", 400),
        ("GET", "/api/violations", {"limit": "²"}, "limit", 400),
        ("GET", "/api/violations", {"limit": str(2**63)}, "limit", 400),
        ("GET", "/api/violations", {"limit": "1001"}, "limit", 400),
        ("GET", "/api/violations", {"after": "²"}, "after", 400),
        ("GET", "/api/violations", {"after": f"{10**17}-{2**63}"}, "after", 400),
        ("GET", "/api/violations", {"after": f"{10**18 - 1}-1"}, "after", 400),
        ("GET", "/api/violations", {"status": "gone"}, "status", 400),
        ("GET", "/api/violations", {"shop": "\x00"}, "shop", 400),
        ("GET", "/api/violations", {"agent": "a\x00"}, "agent", 400),
        ("GET", "/api/violations", {"rule": "R" * 17}, "rule", 400),
        ("GET", "/api/violations", {"since": "yesterday"}, "since", 400),
        ("GET", f"/api/violations/{2**63}", {}, "id", 404),
        ("GET", f"/api/violations/{2**40}", {}, "id", 404),  # past PostgreSQL's INTEGER
        ("GET", "/api/violations", {"after": f"{10**17}-{2**40}"}, "after", 400),
        ("GET", f"/api/violations/{10**40}", {}, "id", 404),
        ("GET", "/api/violations/²", {}, "id", 404),
        ("GET", "/api/scorecard", {"month": "9999-12"}, "month", 400),
        ("GET", "/api/scorecard", {"month": "0001-01"}, "month", 400),
        ("GET", "/api/scorecard", {"month": "²⁰²⁶-11"}, "month", 400),
    ],
)
async def test_bad_query_input_is_a_400_naming_the_parameter(
    tmp_path: Path,
    clock: FakeClock,
    database_url: str,
    method: str,
    path: str,
    params: dict[str, str],
    field: str,
    status: int,
) -> None:
    async with served(tmp_path, clock, database_url=database_url) as api:
        got, answer = await api.call(method, path, params=params)
        assert (got, answer["field"]) == (status, field), answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**OUTSIDE, "rule": "R" * 17}, "rule"),
        ({**OUTSIDE, "fine": "1" * 21}, "fine"),
        ({**OUTSIDE, "by": "b" * 129}, "by"),
        ({**OUTSIDE, "agent": "a" * 129}, "agent"),
        ({**OUTSIDE, "shop": "s" * 65}, "shop"),
        ({**OUTSIDE, "note": "\x00"}, "note"),
        ({**OUTSIDE, "shop": "s\x00"}, "shop"),
        ({**OUTSIDE, "note": "n" * 5000}, "note"),
    ],
)
async def test_text_longer_than_its_column_is_a_400_on_both_databases(
    tmp_path: Path, clock: FakeClock, database_url: str, body: dict[str, Any], field: str
) -> None:
    async with served(tmp_path, clock, database_url=database_url) as api:
        status, answer = await api.call("POST", "/api/violations", json=body)
        assert (status, answer["field"]) == (400, field), answer
        assert await ledger_size(api) == 0


async def test_a_decision_by_someone_with_a_name_too_long_is_a_400(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    async with served(tmp_path, clock, database_url=database_url) as api:
        status, added = await api.call("POST", "/api/violations", json=OUTSIDE)
        assert status == 201
        for action in ("waive", "confirm"):
            status, answer = await api.call(
                "POST",
                f"/api/violations/{added['id']}/{action}",
                json={"by": "b" * 129, "reason": "r"},
            )
            assert (status, answer["field"]) == (400, "by")
        status, again = await api.call("GET", f"/api/violations/{added['id']}")
        assert again["status"] == "open"


@pytest.mark.parametrize(
    ("data", "headers", "field"),
    [
        (b'{"rule": "M201"}', {"Content-Type": "application/json; charset=bogus"}, "Content-Type"),
        (
            b'{"rule": "M201"}',
            {"Content-Type": "application/json; charset=latin-1"},
            "Content-Type",
        ),
        (b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}, "body"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, {"Content-Type": "application/json"}, "body"),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}, "body"),
        (b"[]", {"Content-Type": "application/json"}, "body"),
    ],
)
async def test_a_body_that_is_no_json_object_is_a_400(
    tmp_path: Path, clock: FakeClock, data: bytes, headers: dict[str, str], field: str
) -> None:
    async with served(tmp_path, clock) as api:
        status, answer = await api.call("POST", "/api/violations", data=data, headers=headers)
        assert (status, answer["field"]) == (400, field), answer


@pytest.mark.parametrize("token", ["Bearer tökén", "Bearer 令牌", "Bearer \udcff", "Bearer  "])
async def test_a_non_ascii_or_empty_bearer_token_is_a_401(
    tmp_path: Path, clock: FakeClock, token: str
) -> None:
    async with served(tmp_path, clock) as api:
        raw = token.encode("utf-8", "surrogateescape")
        for method, path in (("GET", "/api/violations"), ("POST", "/api/violations")):
            async with api.http.request(
                method, api.base + path, headers={"Authorization": raw.decode("latin-1")}
            ) as r:
                assert r.status == 401
                assert (await r.json())["field"] == "Authorization"


async def test_a_refusal_never_shows_a_path_of_the_server(tmp_path: Path, clock: FakeClock) -> None:
    """The catalogue a code is missing from is named by its file name, not its full path."""
    (tmp_path / "policy.toml").write_text(
        (Path(__file__).parents[2] / "daemon" / "scoring" / "policy.toml").read_text()
    )
    async with served(tmp_path, clock, policy_file=tmp_path / "policy.toml") as api:
        status, answer = await api.call("POST", "/api/violations", json={**MANUAL, "rule": "Z99"})
        assert (status, answer["field"]) == (400, "rule")
        assert "policy.toml" in answer["error"] and str(tmp_path) not in answer["error"]
        bonus = {"agent": "a1", "code": "Z99", "day": "2026-11-02", "by": "Chen", "reason": "r"}
        status, answer = await api.call("POST", "/api/bonuses", json=bonus)
        assert (status, answer["field"]) == (400, "code")
        assert str(tmp_path) not in answer["error"]


@pytest.mark.parametrize(
    ("text", "found"),
    [("1", 1), (str(2**31 - 1), 2**31 - 1), (str(2**31), None), (str(2**40), None),
     ("0" * 30 + "7", None), ("²", None), ("-1", None), ("", None)],
)  # fmt: skip
def test_a_url_id_is_a_row_id_only_within_the_integer_column(text: str, found: int | None) -> None:
    """The API's and the console's ids (violations, users) go through one check: past
    PostgreSQL's INTEGER an id is no row (404), never a database error (500)."""
    assert row_id(text) == found
