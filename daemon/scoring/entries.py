"""What supervisors enter by hand: bonuses, the monthly adjustment and catalogue violations,
each checked against the catalogue and kept in an audit trail (SPEC §4).

What is refused is a :mod:`daemon.errors` refusal naming the field of the request (the API's
body keys: ``agent``, ``code``, ``day``, ``points``, ``month``, ``value``, ``by``, ``reason``;
a manual violation's code is its ``rule``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from daemon.config.settings import Settings
from daemon.errors import BadInput, Conflict, NotFound
from daemon.scoring.month import Month
from daemon.scoring.policy import NotInCatalogue, PointsNotAllowed, Policy
from daemon.scoring.records import parse_month
from daemon.store.ledger import Ledger
from daemon.store.months import closed_refusal, is_closed
from daemon.store.tables import bonuses, score_adjustments, scorecard_events

# ---- writing: bonuses, adjustments, manual violations, each with its audit trail ----


def _required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise BadInput("required", field=field)
    return value.strip()


def _known_agent(settings: Settings, agent: str) -> str:
    agent = _required(agent, "agent")
    if settings.roster and agent not in settings.roster:
        raise BadInput(f"{agent!r} is not in the [[agents]] roster", field="agent")
    return agent


def _day(value: date | str | None) -> date:
    if isinstance(value, date):
        return value
    text = _required(value, "day")
    try:
        return date.fromisoformat(text)
    except ValueError:  # only fromisoformat's: the text is not a date
        raise BadInput(f"expected YYYY-MM-DD, not {value!r}", field="day") from None


async def _audit(
    conn: AsyncConnection,
    *,
    at: datetime,
    agent: str,
    month: str,
    entity: str,
    action: str,
    by: str,
    reason: str,
    bonus_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        scorecard_events.insert().values(
            at=at,
            agent=agent,
            month=month,
            entity=entity,
            bonus_id=bonus_id,
            action=action,
            by=by,
            reason=reason,
            details=details or {},
        )
    )


def _bonus_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent": row.agent,
        "month": row.month,
        "day": row.day,
        "code": row.code,
        "points": row.points,
        "by": row.by,
        "reason": row.reason,
        "at": row.at.isoformat(),
        "status": row.status,
    }


async def add_bonus(
    engine: AsyncEngine,
    settings: Settings,
    *,
    agent: str,
    code: str,
    day: date | str | None,
    by: str,
    reason: str,
    now: datetime,
    points: int | None = None,
    policy: Policy,
) -> dict[str, Any]:
    """Grant a catalogue bonus (policy 2 加分标准) earned on ``day`` (local date)."""
    agent = _known_agent(settings, agent)
    by, reason = _required(by, "by"), _required(reason, "reason")
    try:
        entry = policy.bonus(code)
    except NotInCatalogue as exc:
        raise BadInput(str(exc), field="code") from None
    try:
        granted = entry.points_for(points)
    except PointsNotAllowed as exc:
        raise BadInput(str(exc), field="points") from None
    earned = _day(day)
    month = str(Month.of(earned))
    async with engine.begin() as conn:
        if await is_closed(conn, month):
            raise closed_refusal(month, "its bonuses")
        if entry.per_month is not None:
            already = (
                await conn.execute(
                    select(func.count()).where(
                        bonuses.c.agent == agent,
                        bonuses.c.month == month,
                        bonuses.c.code == entry.code,
                        bonuses.c.status == "active",
                    )
                )
            ).scalar_one()
            if already >= entry.per_month:
                raise Conflict(
                    f"{entry.code} is granted at most {entry.per_month}× a month; "
                    f"{agent} already has it for {month}",
                    field="code",
                )
        new_id = (
            await conn.execute(
                bonuses.insert()
                .values(
                    agent=agent,
                    month=month,
                    day=earned.isoformat(),
                    code=entry.code,
                    points=granted,
                    by=by,
                    reason=reason,
                    at=now,
                    status="active",
                )
                .returning(bonuses.c.id)
            )
        ).scalar_one()
        await _audit(
            conn,
            at=now,
            agent=agent,
            month=month,
            entity="bonus",
            action="granted",
            by=by,
            reason=reason,
            bonus_id=new_id,
            details={"code": entry.code, "points": granted, "day": earned.isoformat()},
        )
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == new_id))).one()
    return _bonus_json(row)


async def revoke_bonus(
    engine: AsyncEngine, bonus_id: int, *, by: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Take back a bonus granted by mistake; the row and the trail stay."""
    by, reason = _required(by, "by"), _required(reason, "reason")
    async with engine.begin() as conn:
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == bonus_id))).first()
        if row is None:
            raise NotFound(f"no bonus with id {bonus_id}", field="id")
        if row.status != "active":
            raise Conflict(f"bonus {bonus_id} is already {row.status}", field="id")
        if await is_closed(conn, row.month):
            raise closed_refusal(row.month, "its bonuses")
        await conn.execute(update(bonuses).where(bonuses.c.id == bonus_id).values(status="revoked"))
        await _audit(
            conn,
            at=now,
            agent=row.agent,
            month=row.month,
            entity="bonus",
            action="revoked",
            by=by,
            reason=reason,
            bonus_id=bonus_id,
            details={"code": row.code, "points": row.points},
        )
        row = (await conn.execute(select(bonuses).where(bonuses.c.id == bonus_id))).one()
    return _bonus_json(row)


async def set_adjustment(
    engine: AsyncEngine,
    settings: Settings,
    *,
    agent: str,
    month: str,
    value: int,
    reason: str,
    by: str,
    now: datetime,
    policy: Policy,
) -> dict[str, Any]:
    """The supervisor's extra ± for an agent's month (额外的奖惩, −5…+5, reason required).
    Setting it again replaces it; 0 removes it. The trail keeps every value."""
    agent = _known_agent(settings, agent)
    by, reason = _required(by, "by"), _required(reason, "reason")
    period = str(parse_month(month))
    limit = policy.score.adjustment_limit
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > limit:
        raise BadInput(f"expected a whole number from −{limit} to +{limit}", field="value")
    key = (score_adjustments.c.agent == agent) & (score_adjustments.c.month == period)
    async with engine.begin() as conn:
        if await is_closed(conn, period):
            raise closed_refusal(period, "its adjustments")
        before = (await conn.execute(select(score_adjustments.c.value).where(key))).scalar()
        await conn.execute(delete(score_adjustments).where(key))
        if value:
            await conn.execute(
                score_adjustments.insert().values(
                    agent=agent, month=period, value=value, reason=reason, by=by, at=now
                )
            )
        await _audit(
            conn,
            at=now,
            agent=agent,
            month=period,
            entity="adjustment",
            action="set" if value else "cleared",
            by=by,
            reason=reason,
            details={"from": before or 0, "to": value},
        )
    return {"agent": agent, "month": period, "value": value, "reason": reason, "by": by}


async def record_manual_violation(
    ledger: Ledger,
    settings: Settings,
    *,
    code: str,
    agent: str | None,
    at: datetime,
    note: str | None,
    now: datetime,
    by: str | None = None,
    shop: str | None = None,
    points: int | None = None,
    fine: Decimal | None = None,
    policy: Policy,
) -> dict[str, Any]:
    """A catalogue violation entered by a supervisor (POST /api/violations), checked against
    the catalogue: a known, not derived code; points within its range (default: its fixed
    points); fine default: the catalogue's (a ladder decides it on the scorecard). ``by`` is
    optional because the SPEC's POST body has no such field; give it when known."""
    if agent is not None:
        agent = _known_agent(settings, agent)
    try:
        entry = policy.deduction(code)
    except NotInCatalogue as exc:
        if points is None or isinstance(points, bool) or points < 0:
            raise BadInput(
                f"{exc}; give points (and fine) to record a code outside it", field="rule"
            ) from None
        # The SPEC's manual entry carries its own points and fine: a code the catalogue
        # lacks (a rule of the shop's own) is recorded as given.
        return await ledger.add_manual(
            shop=shop,
            rule=code,
            agent=agent,
            at=at,
            points=points,
            fine=fine or Decimal(0),
            note=note,
            by=by.strip() if by and by.strip() else None,
            now=now,
        )
    try:
        recorded = entry.points_for(points)
    except PointsNotAllowed as exc:
        raise BadInput(str(exc), field="points") from None
    if entry.derived:
        raise BadInput(f"{code} is computed by the scorecard and cannot be entered", field="rule")
    if entry.compensation and fine is None:
        raise BadInput(f"{code} is paid at cost: give the fine (the damage in CNY)", field="fine")
    return await ledger.add_manual(
        shop=shop,
        rule=code,
        agent=agent,
        at=at,
        points=recorded,
        fine=entry.fine if fine is None else fine,
        note=note,
        by=by.strip() if by and by.strip() else None,
        now=now,
    )


async def scorecard_audit(
    engine: AsyncEngine, month: str, agent: str | None = None
) -> list[dict[str, Any]]:
    """Bonus and adjustment changes of a month, oldest first."""
    query = (
        select(scorecard_events)
        .where(scorecard_events.c.month == str(parse_month(month)))
        .order_by(scorecard_events.c.id)
    )
    if agent:
        query = query.where(scorecard_events.c.agent == agent)
    async with engine.connect() as conn:
        return [
            {
                "at": r.at.isoformat(),
                "agent": r.agent,
                "month": r.month,
                "entity": r.entity,
                "bonus_id": r.bonus_id,
                "action": r.action,
                "by": r.by,
                "reason": r.reason,
                "details": r.details,
            }
            for r in await conn.execute(query)
        ]
