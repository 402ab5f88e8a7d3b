"""The month's scorecard for the console's pages, computed once per change of what it reads.

A month's scorecard reads every violation of that month and the one before, the bonuses and
adjustments, and the conversion data; over a large ledger that is the slowest thing a page
asks. The pages keep the last few scorecards with a fingerprint of their inputs — one
query of counts and newest change times, read from indexes — and compute again only when it
differs (what the month's violations count, their points and appeals, the newest change):
a decision, a new violation, a bonus or adjustment, a poll that stored data, the
month closed or reopened, another config or policy. So the month page, an agent's page and
the exports show the same numbers the API computes, without computing them on every view.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.config.settings import Settings
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.records import load_scorecard
from daemon.scoring.scorecard import COUNTED, Scorecard
from daemon.store.tables import month_closes, scorecard_events, stream_state, violations

KEPT = 12


async def fingerprint(engine: AsyncEngine, settings: Settings, month: Month) -> tuple[Any, ...]:
    tz = settings.timezone
    start, end = month.previous().start(tz), month.end(tz)
    in_range = (violations.c.deadline >= start) & (violations.c.deadline < end)
    months = [str(month.previous()), str(month)]
    v = violations.c
    counted = v.status.in_(COUNTED)
    ledger = select(
        func.count(),
        func.max(v.updated_at),
        func.sum(case((counted, v.points), else_=0)),
        func.sum(case((counted, 1), else_=0)),
        func.sum(case((v.status == "appealed", 1), else_=0)),
    ).where(in_range)
    others = select(
        select(func.max(scorecard_events.c.id))
        .where(scorecard_events.c.month.in_(months))
        .scalar_subquery(),
        select(func.max(month_closes.c.updated_at))
        .where(month_closes.c.month == str(month))
        .scalar_subquery(),
        select(func.max(stream_state.c.updated_at)).scalar_subquery(),
    )
    async with engine.connect() as conn:
        row = (*(await conn.execute(ledger)).one(), *(await conn.execute(others)).one())
    return row


class Scorecards:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.kept: OrderedDict[tuple[Any, ...], tuple[Settings, Policy, Scorecard]] = OrderedDict()

    async def get(
        self, settings: Settings, month: Month, *, policy: Policy, now: datetime
    ) -> Scorecard:
        key = (
            str(month),
            id(settings),
            id(policy),
            *await fingerprint(self.engine, settings, month),
        )
        kept = self.kept.get(key)
        if kept is not None and kept[0] is settings and kept[1] is policy:
            self.kept.move_to_end(key)
            return kept[2]
        card = await load_scorecard(self.engine, settings, month, policy=policy, now=now)
        self.kept[key] = (settings, policy, card)
        while len(self.kept) > KEPT:
            self.kept.popitem(last=False)
        return card
