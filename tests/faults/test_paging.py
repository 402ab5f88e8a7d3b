"""``GET /api/violations`` is paged: at most 100 by default and 1,000 on request, each page one
indexed range read; ``next`` continues exactly where the page ended, even across violations
sharing a deadline, so no request ever loads the whole ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.store.tables import violations
from tests.conftest import FakeClock

from .support import Served, served

ROWS = 2_500
START = datetime(2026, 11, 1, tzinfo=UTC)


async def fill(api: Served) -> None:
    """2,500 violations; every seven share a deadline, so pages end inside such groups."""
    rows = [
        {
            "shop": "s",
            "rule": "CS101",
            "subject_type": "order",
            "subject_id": f"o-{i}",
            "buyer_id": f"b-{i}",
            "agent": "a1" if i % 2 else "a2",
            "shift": "day",
            "deadline": START + timedelta(minutes=ROWS - i // 7),  # ids and deadlines disagree
            "detected_at": START,
            "updated_at": START,
            "tier": None,
            "points": 1,
            "fine": "0",
            "status": "open",
            "final": True,
            "source": "rule",
            "evidence": {},
        }
        for i in range(ROWS)
    ]
    async with api.daemon.engine.begin() as conn:
        await conn.execute(violations.insert(), rows)


async def walk(api: Served, params: dict[str, str]) -> list[list[dict[str, Any]]]:
    pages = []
    after: str | None = None
    while True:
        status, body = await api.call(
            "GET", "/api/violations", params={**params, **({"after": after} if after else {})}
        )
        assert status == 200, body
        assert set(body) == {"violations", "next"}
        pages.append(body["violations"])
        after = body["next"]
        if after is None:
            return pages


def order_key(v: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(v["deadline"]), v["id"]


async def test_a_large_ledger_is_served_in_bounded_pages_that_chain_exactly(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        await fill(api)
        status, first = await api.call("GET", "/api/violations")
        assert status == 200 and len(first["violations"]) == 100 and first["next"]

        pages = await walk(api, {})
        assert [len(p) for p in pages] == [100] * 25
        listed = [v for page in pages for v in page]
        assert len({v["id"] for v in listed}) == ROWS
        assert listed == sorted(listed, key=order_key)

        big = await walk(api, {"limit": "1000"})
        assert [len(p) for p in big] == [1000, 1000, 500]
        assert [v["id"] for p in big for v in p] == [v["id"] for v in listed]

        odd = await walk(api, {"limit": "7", "agent": "a1", "since": "2026-11-02T16:40:00Z"})
        expected = [
            v["id"]
            for v in listed
            if v["agent"] == "a1" and order_key(v)[0] >= datetime(2026, 11, 2, 16, 40, tzinfo=UTC)
        ]
        assert [v["id"] for p in odd for v in p] == expected
        assert all(len(p) <= 7 for p in odd)


async def test_the_last_page_says_so_and_an_empty_ledger_is_one_empty_page(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        status, body = await api.call("GET", "/api/violations")
        assert (status, body) == (200, {"violations": [], "next": None})
        await fill(api)
        status, body = await api.call("GET", "/api/violations", params={"limit": "1000"})
        last = body["violations"][-1]
        status, tail = await api.call(
            "GET", "/api/violations", params={"limit": "1000", "after": body["next"]}
        )
        assert tail["violations"][0]["id"] != last["id"]
