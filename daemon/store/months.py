"""Closed months (SPEC §4): once pay is computed a supervisor closes the month; its scorecard
is frozen as it was then and its violations' statuses can no longer change. Only a lead
reopens it, with a reason. Every close and reopen lands in ``month_events``.

A month is kept with its bounds as instants (local midnights in the timezone it was closed
in), so the ledger refuses a change by the violation's deadline alone, without the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from daemon.errors import BadInput, Conflict
from daemon.store.tables import month_closes, month_events, violations


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthClose:
    month: str
    closed: bool
    closed_at: datetime
    closed_by: str
    scorecard: dict[str, Any] | None


def _close(row: Any) -> MonthClose:
    return MonthClose(
        month=row.month,
        closed=row.status == "closed",
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        scorecard=row.scorecard,
    )


def closed_refusal(month: str, what: str = "its violations") -> Conflict:
    return Conflict(
        f"month {month} is closed: {what} can no longer change (a lead may reopen it)",
        field="month",
    )


async def closed_month_at(conn: AsyncConnection, moment: datetime) -> str | None:
    """The closed month ``moment`` falls in, if any."""
    row = (
        await conn.execute(
            select(month_closes.c.month).where(
                month_closes.c.status == "closed",
                month_closes.c.starts_at <= moment,
                month_closes.c.ends_at > moment,
            )
        )
    ).first()
    return None if row is None else str(row.month)


async def is_closed(conn: AsyncConnection, month: str) -> bool:
    row = (
        await conn.execute(
            select(month_closes.c.status).where(
                month_closes.c.month == month, month_closes.c.status == "closed"
            )
        )
    ).first()
    return row is not None


def _checked(value: str, column: Any, field: str) -> None:
    limit = getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        raise BadInput(f"at most {limit} characters", field=field)
    if "\x00" in value:
        raise BadInput("must not contain NUL characters", field=field)


class MonthBook:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, month: str) -> MonthClose | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(month_closes).where(month_closes.c.month == month))
            ).first()
        return None if row is None else _close(row)

    async def close(
        self,
        month: str,
        *,
        starts_at: datetime,
        ends_at: datetime,
        by: str,
        reason: str,
        now: datetime,
    ) -> None:
        """Mark the month closed. From the commit on, the ledger refuses its violations'
        changes; a change already under way is waited for (its row is locked here), so the
        scorecard frozen after this returns sees every decision that was allowed."""
        if not by.strip():
            raise BadInput("required: who closes the month", field="by")
        _checked(by.strip(), month_events.c.by, "by")
        _checked(reason, month_events.c.reason, "reason")
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(month_closes).where(month_closes.c.month == month))
            ).first()
            if row is not None and row.status == "closed":
                raise Conflict(f"month {month} is closed already", field="month")
            values = {
                "status": "closed",
                "starts_at": starts_at,
                "ends_at": ends_at,
                "closed_at": now,
                "closed_by": by.strip(),
                "scorecard": None,
                "updated_at": now,
            }
            if row is None:
                await conn.execute(month_closes.insert().values(month=month, **values))
            else:
                await conn.execute(
                    update(month_closes).where(month_closes.c.month == month).values(**values)
                )
            # PostgreSQL: wait for decisions on this month's violations that are in flight
            # (each holds its row until it commits); later ones see the month closed.
            await conn.execute(
                select(violations.c.id)
                .where(and_(violations.c.deadline >= starts_at, violations.c.deadline < ends_at))
                .with_for_update()
            )
            await _audit(conn, month, now, "closed", by.strip(), reason, {})

    async def freeze(self, month: str, scorecard: dict[str, Any], now: datetime) -> None:
        """Keep the scorecard as it was at closing: served unchanged from now on."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(month_closes)
                .where(month_closes.c.month == month, month_closes.c.status == "closed")
                .values(scorecard=scorecard, updated_at=now)
            )

    async def reopen(
        self, month: str, *, by: str, reason: str, now: datetime, failed: bool = False
    ) -> None:
        """Reopen a closed month (the caller has checked that ``by`` is a lead)."""
        if not by.strip():
            raise BadInput("required: who reopens the month", field="by")
        if not reason.strip():
            raise BadInput("required to reopen a month", field="reason")
        _checked(by.strip(), month_events.c.by, "by")
        _checked(reason, month_events.c.reason, "reason")
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(month_closes)
                .where(month_closes.c.month == month, month_closes.c.status == "closed")
                .values(status="reopened", scorecard=None, updated_at=now)
            )
            if changed.rowcount != 1:
                raise Conflict(f"month {month} is not closed", field="month")
            details = {"after_failed_close": True} if failed else {}
            await _audit(conn, month, now, "reopened", by.strip(), reason, details)

    async def audit(self, month: str) -> list[dict[str, Any]]:
        query = (
            select(month_events).where(month_events.c.month == month).order_by(month_events.c.id)
        )
        async with self.engine.connect() as conn:
            return [
                {"at": r.at, "action": r.action, "by": r.by, "reason": r.reason}
                for r in await conn.execute(query)
            ]

    async def closed_months(self) -> list[str]:
        query = select(month_closes.c.month).where(month_closes.c.status == "closed")
        async with self.engine.connect() as conn:
            return sorted(str(r.month) for r in await conn.execute(query))


async def _audit(
    conn: AsyncConnection,
    month: str,
    at: datetime,
    action: str,
    by: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    await conn.execute(
        month_events.insert().values(
            month=month, at=at, action=action, by=by, reason=reason, details=details
        )
    )
