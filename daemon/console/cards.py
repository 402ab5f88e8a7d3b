"""The month's scorecard for the console's pages: the ledger's side read on every view, the
conversion kept until what it reads changes.

The ledger's side — each agent's violations, points, fines and appeals, bonuses and
adjustments, of the month and the months before it that the score looks back on — is summed
in SQL from the ledger's deadline index (:func:`daemon.scoring.records.read_violation_totals`),
10 to 20 ms for two months of a 100k ledger, so every view shows every decision at once and
there is nothing to keep in step with the ledger, the month's entries or another process.

The conversion reads every agent reply and payment of up to three months, which grows with
the shops' traffic, not with the ledger. It is kept per month, config and policy until a
stream's state changes (a poll that read to the end moves its watermark, so new messages
and orders have been stored) or one of its months becomes final: the two things it is
computed from besides the stored messages and orders. Messages stored by a poll that failed
half-way count at the next poll that succeeds.

A closed month's scorecard is the one frozen at closing (SPEC §4), read as it is.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.config.settings import Settings
from daemon.scoring.conversion import MonthConversion, day_final
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.records import (
    ConversionDays,
    award_months,
    complete_until_of,
    frozen_scorecard,
    load_conversion,
    load_scorecard,
)
from daemon.scoring.scorecard import Scorecard
from daemon.store.tables import stream_state

KEPT = 12


async def conversion_inputs(
    engine: AsyncEngine, settings: Settings, month: Month, policy: Policy, now: datetime
) -> tuple[Any, ...]:
    """What a month's conversion depends on besides the stored replies and payments: the
    newest change of any stream's state, and which of its months are final by now."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(stream_state.c.shop, stream_state.c.watermark, stream_state.c.updated_at)
            )
        ).all()
    shops = {s.id for s in settings.shops}
    until = complete_until_of(now, (r.watermark for r in rows if r.shop in shops))
    changed = max((r.updated_at for r in rows), default=None)
    rule = policy.conversion
    months = award_months(month, rule)
    finals = tuple(day_final(m.days()[-1], settings.timezone, rule.window, until) for m in months)
    return changed, finals


class Scorecards:
    def __init__(self, engine: AsyncEngine, days: ConversionDays | None = None) -> None:
        self.engine = engine
        self.days = days or ConversionDays()
        """Final days' conversion: the daemon's, shared with its score job and API."""
        self.kept: OrderedDict[tuple[Any, ...], tuple[Settings, Policy, MonthConversion]] = (
            OrderedDict()
        )

    async def get(
        self, settings: Settings, month: Month, *, policy: Policy, now: datetime
    ) -> Scorecard:
        frozen = await frozen_scorecard(self.engine, month)
        if frozen is not None:
            return frozen
        conversion = await self.conversion(settings, month, policy=policy, now=now)
        return await load_scorecard(
            self.engine,
            settings,
            month,
            policy=policy,
            now=now,
            conversion=conversion,
            live=True,
        )

    async def conversion(
        self, settings: Settings, month: Month, *, policy: Policy, now: datetime
    ) -> MonthConversion:
        key = (
            str(month),
            id(settings),
            id(policy),
            *await conversion_inputs(self.engine, settings, month, policy, now),
        )
        kept = self.kept.get(key)
        if kept is not None and kept[0] is settings and kept[1] is policy:
            self.kept.move_to_end(key)
            return kept[2]
        found = await load_conversion(
            self.engine, settings, month, policy.conversion, now=now, days=self.days
        )
        self.kept[key] = (settings, policy, found)
        while len(self.kept) > KEPT:
            self.kept.popitem(last=False)
        return found
