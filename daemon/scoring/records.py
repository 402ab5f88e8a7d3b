"""Reading what the scorecard and conversion are computed from, out of the store: the
month's violations, bonuses and adjustments, agents' replies and paid orders, the streams'
watermarks; and the scorecard of a month built from them (the CLI's and the API's entry
point). The computation itself is pure: :mod:`daemon.scoring.scorecard` and
:mod:`daemon.scoring.conversion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import BY_CODE
from connectors.model import Direction
from daemon.config.settings import Settings
from daemon.errors import BadInput
from daemon.scoring import frozen
from daemon.scoring.conversion import (
    AgentReply,
    DayTally,
    MonthConversion,
    Payment,
    award_top,
    day_final,
    day_tallies,
    month_conversion,
)
from daemon.scoring.month import Month, NotAMonth, local_midnight
from daemon.scoring.policy import ConversionPolicy, Policy
from daemon.scoring.scorecard import (
    AdjustmentRecord,
    AgentRecord,
    BonusRecord,
    MonthRecords,
    Scorecard,
    ViolationRecord,
    compute_scorecard,
)
from daemon.store.ledger import stored_fine
from daemon.store.tables import (
    bonuses,
    messages,
    month_closes,
    order_versions,
    score_adjustments,
    stream_state,
    violations,
)

FIRST_MONTH = Month(1970, 1)
LAST_MONTH = Month(9998, 12)


def parse_month(text: str) -> Month:
    """A ``YYYY-MM`` a person gave (query parameter, option, body field ``month``)."""
    try:
        month = Month.parse(text)
    except NotAMonth:
        raise BadInput(f"expected YYYY-MM, not {text!r}", field="month") from None
    if not FIRST_MONTH <= month <= LAST_MONTH:
        # The scorecard reads months before and after it: 9999-12 has no next month.
        raise BadInput(f"expected a month from {FIRST_MONTH} to {LAST_MONTH}", field="month")
    return month


# ---- conversion: agents' replies, payments, how far the data is complete ----


async def complete_until(engine: AsyncEngine, now: datetime, shops: Sequence[str]) -> datetime:
    """Data is complete up to the oldest watermark of the watched shops' streams (and never
    past now). A shop no longer in the config does not hold conversion provisional forever."""
    query = select(stream_state.c.watermark).where(stream_state.c.shop.in_(list(shops)))
    async with engine.connect() as conn:
        marks: list[datetime] = list((await conn.execute(query)).scalars())
    return complete_until_of(now, marks)


def complete_until_of(now: datetime, watermarks: Iterable[datetime]) -> datetime:
    """The oldest of the watched streams' watermarks, never past now."""
    return min([now, *watermarks])


def award_months(month: Month, policy: ConversionPolicy) -> list[Month]:
    """``month`` and the months before it that its top-agent award streak looks back on,
    oldest first: what a month's conversion reads."""
    return [month.plus(-back) for back in reversed(range(len(policy.top_awards)))]


async def stored_shops(engine: AsyncEngine) -> list[str]:
    """Every shop with stored streams (also one no longer in the config: its agents'
    inquiries of the month still count). Reads name them so the (shop, time) indexes serve."""
    async with engine.connect() as conn:
        return list((await conn.execute(select(stream_state.c.shop).distinct())).scalars())


async def read_replies(
    engine: AsyncEngine, start: datetime, end: datetime, shops: Sequence[str]
) -> list[AgentReply]:
    query = select(
        messages.c.shop, messages.c.buyer_id, messages.c.agent_id, messages.c.sent_at
    ).where(
        messages.c.shop.in_(list(shops)),
        messages.c.direction == Direction.AGENT.value,
        messages.c.is_auto.is_(False),
        messages.c.agent_id.is_not(None),
        messages.c.sent_at >= start,
        messages.c.sent_at < end,
    )
    async with engine.connect() as conn:
        return [
            AgentReply(shop=r.shop, buyer_id=r.buyer_id, agent=r.agent_id, sent_at=r.sent_at)
            for r in await conn.execute(query)
        ]


PAID_BEFORE_UPDATED = timedelta(days=1)
"""How much earlier than a version's ``updated_at`` its ``paid_at`` is allowed to lie when
payments are looked up by update time (the (shop, updated_at) index): a payment updates
the order, so ``paid_at`` ≤ ``updated_at``; a day covers clocks that disagree."""


async def read_payments(
    engine: AsyncEngine, start: datetime, end: datetime, shops: Sequence[str]
) -> list[Payment]:
    """Orders paid in ``[start, end)``: the earliest payment time any version reports, and
    the newest version's amount."""
    query = (
        select(
            order_versions.c.shop,
            order_versions.c.order_id,
            order_versions.c.buyer_id,
            order_versions.c.paid_at,
            order_versions.c.amount,
            order_versions.c.updated_at,
        )
        .where(
            and_(
                order_versions.c.shop.in_(list(shops)),
                order_versions.c.updated_at >= start - PAID_BEFORE_UPDATED,
                order_versions.c.paid_at.is_not(None),
                order_versions.c.paid_at >= start,
                order_versions.c.paid_at < end,
            )
        )
        .order_by(order_versions.c.updated_at)
    )
    found: dict[tuple[str, str], Payment] = {}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            key = (row.shop, row.order_id)
            earlier = found.get(key)
            paid_at = row.paid_at if earlier is None else min(earlier.paid_at, row.paid_at)
            found[key] = Payment(
                shop=row.shop,
                buyer_id=row.buyer_id,
                order_id=row.order_id,
                paid_at=paid_at,
                amount=Decimal(row.amount),
            )
    return list(found.values())


class ConversionDays:
    """Final days' tallies, kept between computations of conversion. A final day never
    changes (its last window closed on data complete by every watermark), so the score job
    every few minutes, and the console after every poll, read only the days still open —
    today and yesterday — instead of every reply and payment of the award streak's months
    (three months of a busy shop's messages each time)."""

    def __init__(self) -> None:
        self._basis: tuple[str, timedelta, frozenset[str]] | None = None
        self._days: dict[date, dict[str, DayTally]] = {}

    def kept(
        self, timezone: ZoneInfo, window: timedelta, shops: Sequence[str]
    ) -> dict[date, dict[str, DayTally]]:
        """The days kept for this timezone, window and set of stored shops. A change of any
        starts afresh: every tally depends on the first two, and a shop new to the store
        brings its back-filled history of days that were final without it."""
        basis = (timezone.key, window, frozenset(shops))
        if basis != self._basis:
            self._basis, self._days = basis, {}
        return self._days


DAYS_AT_ONCE = 7
"""Days of conversion computed from one read: a week of replies at most in memory (plus a
window after it), in a handful of queries for a whole award streak."""


async def load_conversion(
    engine: AsyncEngine,
    settings: Settings,
    month: Month,
    policy: ConversionPolicy,
    *,
    now: datetime,
    days: ConversionDays | None = None,
) -> MonthConversion:
    """Each agent's conversion in ``month`` with the top-agent award, from the stored
    messages and order versions, as many months back as the award streak needs. Read a
    week at a time, so a computation holds a week of replies at most whatever the history;
    final days are taken from ``days`` and kept there."""
    tz = settings.timezone
    window = policy.window
    months = award_months(month, policy)
    until = await complete_until(engine, now, [shop.id for shop in settings.shops])
    shops = await stored_shops(engine)
    kept = (days or ConversionDays()).kept(tz, window, shops)
    tallies = {day: kept[day] for each in months for day in each.days() if day in kept}
    missing = [day for each in months for day in each.days() if day not in kept]
    for first in range(0, len(missing), DAYS_AT_ONCE):
        some = missing[first : first + DAYS_AT_ONCE]
        found = await _day_tallies(engine, some, tz, window, shops)
        for day in some:
            tallies[day] = found.get(day, {})
            if day_final(day, tz, window, until):
                kept[day] = tallies[day]
    results = [
        month_conversion(
            month=each,
            tallies=tallies,
            policy=policy,
            final=day_final(each.days()[-1], tz, window, until),
        )
        for each in months
    ]
    return award_top(results, policy)


async def _day_tallies(
    engine: AsyncEngine, days: Sequence[date], tz: ZoneInfo, window: timedelta, shops: Sequence[str]
) -> dict[date, dict[str, DayTally]]:
    """The tallies of ``days`` (in order), from the replies and payments that can change
    them (see :func:`~daemon.scoring.conversion.day_tallies`)."""
    start = local_midnight(days[0], tz)
    end = local_midnight(days[-1] + timedelta(days=1), tz) + window
    replies = await read_replies(engine, start, end, shops)
    payments = await read_payments(engine, start, end, shops)
    return day_tallies(days=days, timezone=tz, replies=replies, payments=payments, window=window)


# ---- the scorecard: violations, bonuses, adjustments ----


def _violation_record(row: Any) -> ViolationRecord:
    return ViolationRecord(
        id=row.id,
        agent=row.agent,
        rule=row.rule,
        deadline=row.deadline,
        points=row.points,
        fine=stored_fine(row.fine) or Decimal(0),  # a bad stored value must not break the card
        status=row.status,
        shop=row.shop,
        subject_id=row.subject_id,
        source=row.source,
        flags=rule_flags(row.rule),
    )


def rule_flags(code: str) -> tuple[str, ...]:
    """The scorecard flags a counted violation of rule ``code`` carries (none for a manual
    entry or a retired rule)."""
    rule = BY_CODE.get(code)
    return rule.scorecard_flags if rule is not None else ()


async def read_violations(
    engine: AsyncEngine, timezone: ZoneInfo, month: Month
) -> list[ViolationRecord]:
    """Every violation whose deadline falls in the month, waived ones included (the columns
    a score reads: never the evidence, whose JSON would be decoded row by row)."""
    c = violations.c
    columns = (c.id, c.agent, c.rule, c.deadline, c.points, c.fine, c.status, c.shop)
    query = select(*columns, c.subject_id, c.source).where(
        violations.c.deadline >= month.start(timezone), violations.c.deadline < month.end(timezone)
    )
    async with engine.connect() as conn:
        return [_violation_record(row) for row in await conn.execute(query)]


async def read_violation_totals(
    engine: AsyncEngine, timezone: ZoneInfo, month: Month
) -> list[ViolationRecord]:
    """The month's violations summed per agent, rule, status and fine (each a record with
    its ``count``): what a score reads, from the ledger's deadline index, in as many rows
    as there are such groups instead of one per violation (0.6 s at 100k violations)."""
    c = violations.c
    query = (
        select(
            c.agent,
            c.rule,
            c.status,
            c.fine,
            func.count().label("n"),
            func.sum(c.points).label("points"),
            func.min(c.deadline).label("deadline"),
        )
        .where(c.deadline >= month.start(timezone), c.deadline < month.end(timezone))
        .group_by(c.agent, c.rule, c.status, c.fine)
    )
    async with engine.connect() as conn:
        return [
            ViolationRecord(
                agent=row.agent,
                rule=row.rule,
                deadline=row.deadline,
                points=int(row.points),
                fine=(stored_fine(row.fine) or Decimal(0)) * row.n,
                status=row.status,
                flags=rule_flags(row.rule),
                count=int(row.n),
            )
            for row in await conn.execute(query)
        ]


async def read_month(
    engine: AsyncEngine,
    timezone: ZoneInfo,
    month: Month,
    *,
    override_violations: Sequence[ViolationRecord] | None = None,
) -> MonthRecords:
    if override_violations is None:
        found = await read_violation_totals(engine, timezone, month)
    else:
        found = list(override_violations)
    async with engine.connect() as conn:
        bonus_rows = await conn.execute(
            select(bonuses).where(bonuses.c.month == str(month), bonuses.c.status == "active")
        )
        granted = tuple(
            BonusRecord(agent=r.agent, code=r.code, points=r.points) for r in bonus_rows
        )
        adjustment_rows = await conn.execute(
            select(score_adjustments).where(score_adjustments.c.month == str(month))
        )
        adjusted = tuple(
            AdjustmentRecord(agent=r.agent, value=r.value, reason=r.reason, by=r.by)
            for r in adjustment_rows
        )
    return MonthRecords(violations=tuple(found), bonuses=granted, adjustments=adjusted)


def roster(settings: Settings) -> list[AgentRecord]:
    return [AgentRecord(id=a.id, name=a.name or None, hired=a.hired) for a in settings.agents]


async def load_scorecard(
    engine: AsyncEngine,
    settings: Settings,
    month: Month,
    *,
    policy: Policy,
    now: datetime,
    override_violations: Sequence[ViolationRecord] | None = None,
    live: bool = False,
    conversion: MonthConversion | None = None,
    conversion_days: ConversionDays | None = None,
) -> Scorecard:
    """The scorecard of ``month`` from the store (GET /api/scorecard, ``shopwatch
    scorecard``, the score metric, the console). ``override_violations`` replaces the
    ledger's violations of ``month`` (what-if replay); earlier months always come from the
    ledger. A closed month's is the one frozen at closing (SPEC §4), unless ``live``.
    ``conversion``: the month's, if the caller keeps it (the console), else read here,
    with the final days the caller keeps in ``conversion_days``."""
    if override_violations is None and not live:
        kept = await frozen_scorecard(engine, month)
        if kept is not None:
            return kept
    tz = settings.timezone
    agents = roster(settings)
    # Earlier months' scores depend on their own records only (not on their flags).
    previous: list[dict[str, int]] = []
    for back in range(1, policy.score.last_place_months):
        earlier = month.plus(-back)
        card = compute_scorecard(
            month=earlier,
            timezone=tz,
            policy=policy,
            agents=agents,
            records=await read_month(engine, tz, earlier),
        )
        previous.append(card.scores())
    records = await read_month(engine, tz, month, override_violations=override_violations)
    if conversion is None:
        conversion = await load_conversion(
            engine, settings, month, policy.conversion, now=now, days=conversion_days
        )
    return compute_scorecard(
        month=month,
        timezone=tz,
        policy=policy,
        agents=agents,
        records=records,
        previous=previous,
        conversion=conversion,
    )


async def frozen_scorecard(engine: AsyncEngine, month: Month) -> Scorecard | None:
    """The scorecard frozen when ``month`` was closed, if it is closed."""
    query = select(month_closes.c.scorecard).where(
        month_closes.c.month == str(month), month_closes.c.status == "closed"
    )
    async with engine.connect() as conn:
        kept = (await conn.execute(query)).scalar()
    return None if kept is None else frozen.thaw(kept)
