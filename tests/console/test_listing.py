"""The ledger page's listing: keyset paging that visits every row once in each sort, both
ways, and a query plan that reads an index in order (no sort of the whole ledger, no
OFFSET), so a page costs the same at 100k violations as at 100 (bench/console.py times it)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.console import listing
from daemon.store.tables import violations

START = datetime(2026, 11, 1, tzinfo=UTC)


async def _seed(engine: AsyncEngine, count: int = 240) -> None:
    rng = random.Random(15)
    rows = []
    for i in range(count):
        deadline = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 40, 30))  # ties
        rows.append(
            {
                "shop": rng.choice(["s", "t"]),
                "rule": rng.choice(["CS101", "CS102", "M204"]),
                "subject_type": "order",
                "subject_id": f"o-{i}",
                "buyer_id": None,
                "agent": rng.choice(["a1", "a2", None]),
                "shift": None,
                "deadline": deadline,
                "detected_at": deadline,
                "updated_at": deadline,
                "tier": None,
                "points": rng.choice([1, 2, 5]),
                "fine": "0",
                "status": rng.choice(["open", "review", "appealed", "confirmed", "waived"]),
                "final": True,
                "source": "rule",
                "evidence": {},
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(violations), rows)


def _key(sort: str) -> Any:
    def key(v: dict[str, Any]) -> tuple[Any, ...]:
        deadline = datetime.fromisoformat(v["deadline"])
        if sort == "deadline_asc":
            return (deadline, v["id"])
        if sort == "deadline_desc":
            return (-deadline.timestamp(), -v["id"])
        return (-v["points"], -deadline.timestamp(), -v["id"])

    return key


FILTERS = [
    listing.Filters(),
    listing.Filters(status="open"),
    listing.Filters(agent=listing.TEAM),
    listing.Filters(agent="a1", rule="CS101"),
    listing.Filters(shop="t", since=START + timedelta(days=5), until=START + timedelta(days=30)),
]


@pytest.mark.parametrize("sort", listing.SORTS)
async def test_pages_visit_every_row_once_forward_and_back(engine: AsyncEngine, sort: str) -> None:
    await _seed(engine)
    async with engine.connect() as conn:
        everything = [dict(r._mapping) for r in await conn.execute(violations.select())]
    for base in FILTERS:
        filters = listing.Filters(**{**base.__dict__, "sort": sort})
        wanted = [
            v["id"]
            for v in sorted(
                (
                    {**v, "deadline": v["deadline"].isoformat()}
                    for v in everything
                    if (filters.shop is None or v["shop"] == filters.shop)
                    and (filters.rule is None or v["rule"] == filters.rule)
                    and (filters.status is None or v["status"] == filters.status)
                    and (
                        filters.agent is None
                        or (
                            v["agent"] is None
                            if filters.agent == listing.TEAM
                            else v["agent"] == filters.agent
                        )
                    )
                    and (filters.since is None or v["deadline"] >= filters.since)
                    and (filters.until is None or v["deadline"] < filters.until)
                ),
                key=_key(sort),
            )
        ]
        seen: list[int] = []
        pages = []
        page = await listing.find_page(engine, filters, limit=7)
        while True:
            pages.append(page)
            seen += [v["id"] for v in page.rows]
            if page.next is None:
                break
            page = await listing.find_page(engine, filters, after=page.next, limit=7)
        assert seen == wanted, filters
        assert sum(pages[0].counts.values()) >= len(wanted)
        # and back from the last page to the first
        back: list[int] = [v["id"] for v in pages[-1].rows]
        page = pages[-1]
        while page.previous is not None:
            page = await listing.find_page(engine, filters, before=page.previous, limit=7)
            back = [v["id"] for v in page.rows] + back
        assert back == wanted, filters


@pytest.mark.parametrize("sort", listing.SORTS)
@pytest.mark.parametrize(
    "filters",
    [
        listing.Filters(),
        listing.Filters(status="appealed"),
        listing.Filters(agent="a1"),
        listing.Filters(shop="s"),
        listing.Filters(shop="s", rule="CS101", agent="a1", status="open"),
        listing.Filters(since=START, until=START + timedelta(days=30)),
    ],
    ids=["all", "status", "agent", "shop", "all-four", "month"],
)
async def test_a_page_is_an_ordered_index_read(
    tmp_path: Any, sort: str, filters: listing.Filters
) -> None:
    from daemon.store import migrate
    from daemon.store.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    try:
        await migrate.upgrade(engine)
        await _seed(engine, 50)
        query = listing.page_query(
            listing.Filters(**{**filters.__dict__, "sort": sort}),
            after="2.1793814400000000.40" if sort == "points_desc" else "1793814400000000.40",
        )
        sql = str(query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        assert not re.search(r"OFFSET (?!0\b)", sql.upper())  # (SQLite writes OFFSET 0)
        async with engine.connect() as conn:
            plan = " | ".join(
                str(row[3]) for row in await conn.execute(text("EXPLAIN QUERY PLAN " + sql))
            )
        assert "USING INDEX ix_violations_ledger_" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # rows come in order: nothing is sorted
        # Every filter is tested in the index: the table is read for the rows shown only,
        # not (as by the unique index on shop and rule) for every row that matches.
        counts = str(
            listing.counts_query(filters).compile(
                engine.sync_engine, compile_kwargs={"literal_binds": True}
            )
        )
        async with engine.connect() as conn:
            plan = " | ".join(
                str(row[3]) for row in await conn.execute(text("EXPLAIN QUERY PLAN " + counts))
            )
        assert "COVERING INDEX ix_violations_ledger_" in plan, plan
    finally:
        await engine.dispose()


def test_a_cursor_of_another_sort_is_refused() -> None:
    from daemon.errors import BadInput

    with pytest.raises(BadInput):
        listing.parse_cursor("1793814400000000.40", "points_desc")
    with pytest.raises(BadInput):
        listing.parse_cursor("2.1793814400000000.40", "deadline_desc")
    with pytest.raises(BadInput):
        listing.parse_cursor("x", "deadline_desc")
