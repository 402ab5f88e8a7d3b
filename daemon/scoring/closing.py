"""Closing a month once pay is computed, and reopening it (SPEC §4).

Closing marks the month closed first — from then on the ledger refuses status changes to its
violations, and bonuses and adjustments of the month are refused — then computes the
scorecard and keeps it: every later read of the month serves that one unchanged. If the
scorecard cannot be computed, the month is reopened at once and the error raised.
Who may close (a supervisor or a lead) and reopen (a lead) is the caller's to check.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.config.settings import Settings
from daemon.scoring import frozen
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.records import load_scorecard
from daemon.scoring.scorecard import Scorecard
from daemon.store.months import MonthBook


async def close_month(
    engine: AsyncEngine,
    settings: Settings,
    month: Month,
    *,
    by: str,
    reason: str,
    now: datetime,
    policy: Policy,
) -> Scorecard:
    book = MonthBook(engine)
    tz = settings.timezone
    await book.close(
        str(month),
        starts_at=month.start(tz),
        ends_at=month.end(tz),
        by=by,
        reason=reason,
        now=now,
    )
    try:
        card = await load_scorecard(engine, settings, month, policy=policy, now=now, live=True)
        await book.freeze(str(month), frozen.freeze(card), now)
    except BaseException:
        await book.reopen(
            str(month),
            by=by,
            reason="the scorecard could not be computed at closing",
            now=now,
            failed=True,
        )
        raise
    return card


async def reopen_month(
    engine: AsyncEngine, month: Month, *, by: str, reason: str, now: datetime
) -> None:
    await MonthBook(engine).reopen(str(month), by=by, reason=reason, now=now)
