"""The ledger page's query: filters, a sort, counts, and server-side keyset paging.

A page is one indexed range read whatever the ledger's size: rows come in the sort's order
with ``id`` as the tie-break, and the next (or previous) page starts after (before) the last
(first) row's sort key — never ``OFFSET``, which would read every row before the page. The
counts per status are one grouped count under the same filters.

Both read one of the ledger's wide indexes (``daemon.store.tables``), which hold every
column a filter tests: a filter is checked in the index and only the rows shown are read
from the table. PostgreSQL chooses them by its statistics; SQLite keeps none, and without
them prefers any index with an equality on it (the unique one on shop and rule), then reads
and sorts every row that matches, so these queries name their index to SQLite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.errors import BadInput
from daemon.store.ledger import STATUSES, violation_json
from daemon.store.tables import violations

PAGE = 50
SORTS = ("deadline_desc", "deadline_asc", "points_desc")
TEAM = "-"
"""The agent filter's value for violations recorded against the shift (no agent)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?[0-9]{1,12}\.)?([0-9]{1,18})\.([0-9]{1,19})")


@dataclass(frozen=True, kw_only=True)
class Filters:
    shop: str | None = None
    rule: str | None = None
    agent: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "deadline_desc"


@dataclass(frozen=True, kw_only=True)
class Page:
    rows: list[dict[str, Any]]
    next: str | None
    previous: str | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def cursor_of(row: dict[str, Any], sort: str) -> str:
    deadline = _micros(datetime.fromisoformat(row["deadline"]))
    head = f"{row['points']}." if sort == "points_desc" else ""
    return f"{head}{deadline}.{row['id']}"


def parse_cursor(text: str, sort: str) -> tuple[int | None, datetime, int]:
    match = _CURSOR.fullmatch(text)
    if match is None or (match.group(1) is None) == (sort == "points_desc"):
        raise BadInput("not a page of this listing; start again from the first", field="page")
    points = int(match.group(1)[:-1]) if match.group(1) else None
    try:
        deadline = EPOCH + timedelta(microseconds=int(match.group(2)))
    except OverflowError:
        raise BadInput("not a page of this listing", field="page") from None
    return points, deadline, int(match.group(3))


def _where(filters: Filters, *, status: bool = True) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.shop:
        found.append(violations.c.shop == filters.shop)
    if filters.rule:
        found.append(violations.c.rule == filters.rule)
    if filters.agent == TEAM:
        found.append(violations.c.agent.is_(None))
    elif filters.agent:
        found.append(violations.c.agent == filters.agent)
    if status and filters.status:
        found.append(violations.c.status == filters.status)
    if filters.since is not None:
        found.append(violations.c.deadline >= filters.since)
    if filters.until is not None:
        found.append(violations.c.deadline < filters.until)
    return found


def _beyond(sort: str, key: tuple[int | None, datetime, int], forward: bool) -> ColumnElement[bool]:
    """Rows after ``key`` in the listing's order (``forward``) or before it."""
    points, deadline, last = key
    c = violations.c
    descending = sort != "deadline_asc"
    later = forward != descending  # the comparison's direction in the column's own order
    if sort == "points_desc":
        assert points is not None
        if later:
            return or_(
                c.points > points,
                and_(c.points == points, c.deadline > deadline),
                and_(c.points == points, c.deadline == deadline, c.id > last),
            )
        return or_(
            c.points < points,
            and_(c.points == points, c.deadline < deadline),
            and_(c.points == points, c.deadline == deadline, c.id < last),
        )
    if later:
        return or_(c.deadline > deadline, and_(c.deadline == deadline, c.id > last))
    return or_(c.deadline < deadline, and_(c.deadline == deadline, c.id < last))


def _ordered(query: Select[Any], sort: str, forward: bool) -> Select[Any]:
    c = violations.c
    keys = [c.points, c.deadline, c.id] if sort == "points_desc" else [c.deadline, c.id]
    descending = sort != "deadline_asc"
    if descending == forward:
        return query.order_by(*(k.desc() for k in keys))
    return query.order_by(*(k.asc() for k in keys))


BY_DEADLINE = "ix_violations_ledger_deadline"
BY_POINTS = "ix_violations_ledger_points"
BY_STATUS = "ix_violations_ledger_status"


def _read_by(query: Select[Any], index: str) -> Select[Any]:
    """``query`` reading ``index`` on SQLite (PostgreSQL ignores the hint)."""
    return query.with_hint(violations, f"INDEXED BY {index}", "sqlite")


def page_query(
    filters: Filters, *, after: str | None = None, before: str | None = None, limit: int = PAGE
) -> Select[Any]:
    """The SELECT of one page (``limit`` + 1 rows, to know whether there is more)."""
    if filters.sort not in SORTS:
        raise BadInput(f"must be one of {', '.join(SORTS)}", field="sort")
    forward = before is None
    query = select(violations).where(*_where(filters))
    mark = after or before
    if mark:
        query = query.where(_beyond(filters.sort, parse_cursor(mark, filters.sort), forward))
    index = BY_POINTS if filters.sort == "points_desc" else BY_DEADLINE
    return _read_by(_ordered(query, filters.sort, forward).limit(limit + 1), index)


async def find_page(
    engine: AsyncEngine,
    filters: Filters,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE,
) -> Page:
    forward = before is None
    async with engine.connect() as conn:
        found = [
            violation_json(r)
            for r in await conn.execute(
                page_query(filters, after=after, before=before, limit=limit)
            )
        ]
        counts = await _counts(conn, filters)
    more = len(found) > limit
    rows = found[:limit]
    if not forward:
        rows.reverse()
    sort = filters.sort
    if forward:
        next_page = cursor_of(rows[-1], sort) if more and rows else None
        previous = cursor_of(rows[0], sort) if after and rows else None
    else:
        previous = cursor_of(rows[0], sort) if more and rows else None
        next_page = cursor_of(rows[-1], sort) if rows else None
    return Page(rows=rows, next=next_page, previous=previous, counts=counts)


def counts_query(filters: Filters) -> Select[Any]:
    """How many rows of each status the filters (but the status) find: a month's range in
    the deadline index, else the whole status index, grouped as it is ordered."""
    query = (
        select(violations.c.status, func.count())
        .where(*_where(replace(filters, status=None), status=False))
        .group_by(violations.c.status)
    )
    ranged = filters.since is not None or filters.until is not None
    return _read_by(query, BY_DEADLINE if ranged else BY_STATUS)


async def _counts(conn: Any, filters: Filters) -> dict[str, int]:
    query = counts_query(filters)
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in await conn.execute(query):
        counts[status] = int(count)
    return counts


async def choices(engine: AsyncEngine) -> dict[str, list[str]]:
    """The shops and rules the ledger holds, for the filters' lists (a small DISTINCT each,
    from the unique index's leading columns)."""
    async with engine.connect() as conn:
        shops = [r[0] for r in await conn.execute(select(violations.c.shop).distinct())]
        rules = [r[0] for r in await conn.execute(select(violations.c.rule).distinct())]
    return {"shops": sorted(shops), "rules": sorted(rules)}
