"""The violations ledger: every violation once, with its evidence and its audit trail.

A rule's breach is inserted under the key (shop, rule, subject) — re-evaluating the same
evidence after a restart or an overlap finds the row already there. CS102 breaches
escalate in place: the same row's tier and points go up, and the trail says when.
Supervisors move a violation ``open → confirmed | waived``; waiving needs who and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from checks.registry import evidence_type, for_review
from checks.subject import Breach, Undecidable
from daemon.errors import BadInput, Conflict, NotFound
from daemon.store.months import closed_month_at, closed_refusal
from daemon.store.observations import dialect_insert
from daemon.store.tables import undecidable_subjects, violation_events, violations

STATUSES = ("open", "review", "appealed", "confirmed", "waived")
"""SPEC §4: ``review`` (rules that judge wording: counts nowhere until a supervisor confirms),
``appealed`` (the agent disputes it: still counts until a supervisor decides)."""
DECIDABLE = ("open", "review", "appealed")
"""What a supervisor may still confirm or waive."""
APPEAL_WINDOW = timedelta(days=7)


def initial_status(rule: str) -> str:
    """``review`` for a rule recorded for review, else ``open``."""
    return "review" if for_review(rule) else "open"


def summarize_evidence(violation: dict[str, Any], timezone: ZoneInfo, now: datetime) -> str:
    """A stored violation's evidence worded by its rule (two lines, Chinese then English)."""
    record = evidence_type(violation["rule"]).from_json(violation.get("evidence") or {})
    return record.summarize(timezone, now)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    violation_id: int
    new: bool
    escalated: bool
    points_delta: int
    ended: bool = False
    """A lasting breach recorded earlier (nobody reachable) has ended now: its alert
    resolves."""


MAX_POINTS = 1000
"""Points of one violation: a score starts at 80, so anything near this is already a typo."""
MAX_FINE = Decimal(1_000_000)
"""A fine in CNY, at most to the fen: stored as text of at most 20 characters."""


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def checked_fine(value: Decimal, field: str = "fine") -> Decimal:
    """A fine a person gave: finite, from 0 to :data:`MAX_FINE`, to the fen at most."""
    if not value.is_finite() or not 0 <= value <= MAX_FINE:
        raise BadInput(f"expected an amount from 0 to {MAX_FINE} (CNY)", field=field)
    if value != value.quantize(Decimal("0.01")):
        raise BadInput("expected an amount to the fen (two decimals) at most", field=field)
    return value


def checked_points(value: int, field: str = "points") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
        raise BadInput(f"expected a whole number from 0 to {MAX_POINTS}", field=field)
    return value


def checked_text(value: str | None, column: Any, field: str) -> str | None:
    """Text that fits its column (PostgreSQL refuses longer text; SQLite would keep it) and
    holds no NUL (which PostgreSQL cannot store)."""
    if value is None:
        return None
    limit = getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        raise BadInput(f"at most {limit} characters", field=field)
    if "\x00" in value:
        raise BadInput("must not contain NUL characters", field=field)
    return value


def stored_fine(text: str | None) -> Decimal | None:
    """A stored fine, or None for a value that is not a sane amount (written before amounts
    were checked): one bad row must not break every read of the ledger."""
    try:
        value = Decimal(text or "")
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not value.is_finite() or abs(value) > MAX_FINE * 1000:
        return None
    return value


def _json_number(text: str) -> int | float | None:
    value = stored_fine(text)
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def violation_json(row: Any) -> dict[str, Any]:
    """The SPEC §6 shape ``V`` of one violation."""
    return {
        "id": row.id,
        "shop": row.shop or None,  # the team's (CS108) and shop-less manual entries: null
        "rule": row.rule,
        "subject": {"type": row.subject_type, "id": row.subject_id},
        "buyer_id": row.buyer_id,
        "agent": row.agent,
        "shift": row.shift,
        "deadline": row.deadline.isoformat(),
        "detected_at": row.detected_at.isoformat(),
        "tier": row.tier,
        "points": row.points,
        "fine": _json_number(row.fine),
        "status": row.status,
        "final": bool(row.final),
        "source": row.source,
        "note": row.note,
        "evidence": row.evidence,
    }


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, shop: str, breach: Breach, now: datetime) -> Recorded:
        return (await self.record_many(shop, [breach], now))[0]

    async def record_many(
        self, shop: str, breaches: Sequence[Breach], now: datetime
    ) -> list[Recorded]:
        """Record a tick's breaches in one transaction: one INSERT for all of them (new ones
        come back through RETURNING), one for their audit events; a breach already in the
        ledger is looked at again only if it may escalate (CS102)."""
        if not breaches:
            return []
        async with self.engine.begin() as conn:
            rows = [
                {
                    "shop": shop,
                    "rule": b.subject.rule,
                    "subject_type": b.subject.type,
                    "subject_id": b.subject.id,
                    "buyer_id": b.subject.buyer_id or None,
                    "agent": b.agent,
                    "shift": b.shift,
                    "deadline": b.deadline,
                    "detected_at": now,
                    "updated_at": now,
                    "tier": b.tier,
                    "points": b.points,
                    "fine": _money(b.fine),
                    "status": initial_status(b.subject.rule),
                    "final": b.final,
                    "source": "rule",
                    "evidence": b.evidence.to_json(),
                }
                for b in breaches
            ]
            stmt = (
                dialect_insert(conn, violations)
                .on_conflict_do_nothing()
                .returning(violations.c.id, violations.c.rule, violations.c.subject_id)
            )
            inserted = {(r.rule, r.subject_id): r.id for r in await conn.execute(stmt, rows)}
            if inserted:
                await conn.execute(
                    violation_events.insert(),
                    [
                        {
                            "violation_id": inserted[(b.subject.rule, b.subject.id)],
                            "at": now,
                            "action": "recorded",
                            "by": None,
                            "reason": None,
                            "details": {"tier": b.tier, "points": b.points},
                        }
                        for b in breaches
                        if (b.subject.rule, b.subject.id) in inserted
                    ],
                )
            known = await self._existing(
                conn, shop, [b for b in breaches if (b.subject.rule, b.subject.id) not in inserted]
            )
            results = []
            for breach in breaches:
                key = (breach.subject.rule, breach.subject.id)
                if key in inserted:
                    results.append(
                        Recorded(
                            violation_id=inserted[key],
                            new=True,
                            escalated=False,
                            points_delta=breach.points,
                        )
                    )
                else:
                    results.append(await self._escalate(conn, known[key], breach, now))
            return results

    @staticmethod
    async def _existing(
        conn: AsyncConnection, shop: str, breaches: Sequence[Breach]
    ) -> dict[tuple[str, str], Any]:
        """The ledger rows of breaches already recorded, in one query per 500 subjects
        (after a restart every re-judged subject is one of these)."""
        found: dict[tuple[str, str], Any] = {}
        ids = sorted({b.subject.id for b in breaches})
        for start in range(0, len(ids), 500):
            rows = await conn.execute(
                select(
                    violations.c.id,
                    violations.c.rule,
                    violations.c.subject_id,
                    violations.c.tier,
                    violations.c.points,
                    violations.c.final,
                ).where(
                    violations.c.shop == shop,
                    violations.c.subject_id.in_(ids[start : start + 500]),
                )
            )
            found.update({(row.rule, row.subject_id): row for row in rows})
        return found

    async def _escalate(
        self, conn: AsyncConnection, row: Any, breach: Breach, now: datetime
    ) -> Recorded:
        """Raise an open CS102 record's tier in place (or mark it final); else nothing."""
        raises_tier = breach.tier is not None and (row.tier or 0) < breach.tier
        if row.final or not (raises_tier or breach.final):
            return Recorded(violation_id=row.id, new=False, escalated=False, points_delta=0)
        values: dict[str, Any] = {
            "final": breach.final,
            "evidence": breach.evidence.to_json(),
            "updated_at": now,
        }
        delta = 0
        if raises_tier:
            values.update(tier=breach.tier, points=breach.points)
            delta = breach.points - row.points
        await conn.execute(update(violations).where(violations.c.id == row.id).values(**values))
        ended = breach.final and breach.ended_at is not None
        if ended:
            assert breach.ended_at is not None
            await self._event(
                conn, row.id, now, "ended", details={"ended_at": breach.ended_at.isoformat()}
            )
        if raises_tier:
            await self._event(
                conn,
                row.id,
                now,
                "escalated",
                details={
                    "from_tier": row.tier,
                    "to_tier": breach.tier,
                    "from_points": row.points,
                    "to_points": breach.points,
                },
            )
        return Recorded(
            violation_id=row.id,
            new=False,
            escalated=raises_tier,
            points_delta=delta,
            ended=ended,
        )

    async def record_undecidable(self, shop: str, outcome: Undecidable, now: datetime) -> bool:
        return bool(await self.record_undecidable_many(shop, [outcome], now))

    async def record_undecidable_many(
        self, shop: str, outcomes: Sequence[Undecidable], now: datetime
    ) -> list[Undecidable]:
        """Remember undecidable subjects; returns those seen for the first time, so each
        is counted once however often it is re-evaluated."""
        if not outcomes:
            return []
        async with self.engine.begin() as conn:
            stmt = (
                dialect_insert(conn, undecidable_subjects)
                .on_conflict_do_nothing()
                .returning(undecidable_subjects.c.rule, undecidable_subjects.c.subject_id)
            )
            rows = [
                {
                    "shop": shop,
                    "rule": o.subject.rule,
                    "subject_id": o.subject.id,
                    "reason": o.reason,
                    "deadline": o.deadline,
                    "decided_at": now,
                }
                for o in outcomes
            ]
            new = {(r.rule, r.subject_id) for r in await conn.execute(stmt, rows)}
        return [o for o in outcomes if (o.subject.rule, o.subject.id) in new]

    @staticmethod
    async def _event(
        conn: AsyncConnection,
        violation_id: int,
        at: datetime,
        action: str,
        *,
        by: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            violation_events.insert().values(
                violation_id=violation_id,
                at=at,
                action=action,
                by=by,
                reason=reason,
                details=details or {},
            )
        )

    async def add_manual(
        self,
        *,
        shop: str | None,
        rule: str,
        agent: str | None,
        at: datetime,
        points: int,
        fine: Decimal,
        note: str | None,
        by: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """A violation a supervisor records by hand (rules no API can see)."""
        checked_text(shop, violations.c.shop, "shop")
        checked_text(rule, violations.c.rule, "rule")
        checked_text(agent, violations.c.agent, "agent")
        checked_text(by, violation_events.c.by, "by")
        checked_text(note, violation_events.c.reason, "note")
        points = checked_points(points)
        fine = checked_fine(fine)
        async with self.engine.begin() as conn:
            closed = await closed_month_at(conn, at)
            if closed is not None:
                raise closed_refusal(closed, "its violations")
            new_id = (
                await conn.execute(
                    violations.insert()
                    .values(
                        shop=shop or "",
                        rule=rule,
                        subject_type="manual",
                        subject_id=f"manual-{uuid.uuid4().hex}",
                        buyer_id=None,
                        agent=agent,
                        shift=None,
                        deadline=at,
                        detected_at=now,
                        updated_at=now,
                        tier=None,
                        points=points,
                        fine=_money(fine),
                        status="open",
                        final=True,
                        source="manual",
                        note=note,
                        evidence={"entered_by": by, "note": note},
                    )
                    .returning(violations.c.id)
                )
            ).scalar_one()
            await self._event(conn, new_id, now, "recorded", by=by, reason=note)
        return await self.get(new_id)

    async def set_status(
        self, violation_id: int, status: str, *, by: str, reason: str, now: datetime
    ) -> dict[str, Any]:
        """A supervisor's decision: ``confirmed`` or ``waived`` (a reason is required to waive,
        and to decide an appeal either way)."""
        if status not in ("confirmed", "waived"):
            raise BadInput(f"must be confirmed or waived, not {status!r}", field="status")
        if not by.strip():
            raise BadInput("required: the supervisor's name", field="by")
        if status == "waived" and not reason.strip():
            raise BadInput("required to waive a violation", field="reason")

        def check(row: Any, appealed_before: bool) -> None:
            if row.status not in DECIDABLE:
                raise Conflict(f"violation {violation_id} is already {row.status}", field="status")
            if row.status == "appealed" and not reason.strip():
                raise BadInput("required to decide an appeal", field="reason")

        return await self._change(violation_id, status, by, reason, now, check)

    async def appeal(
        self,
        violation_id: int,
        *,
        by: str,
        reason: str,
        now: datetime,
        window: timedelta = APPEAL_WINDOW,
        agent: str | None = None,
    ) -> dict[str, Any]:
        """The attributed agent disputes an open violation (申诉), once, within ``window`` of its
        detection; it keeps counting until a supervisor confirms or waives it. ``agent`` is
        the appellant's roster id when ``by`` is another name for them (the console's
        signed-in user); by default ``by`` is the roster id."""
        if not by.strip():
            raise BadInput("required: the appealing agent's id", field="by")
        appellant = (agent or by).strip()
        if not reason.strip():
            raise BadInput("required: why the agent disputes it", field="reason")

        def check(row: Any, appealed_before: bool) -> None:
            if appealed_before:
                raise Conflict(f"violation {violation_id} was appealed already", field="status")
            if row.status != "open":
                raise Conflict(
                    f"violation {violation_id} is {row.status}: only an open one can be appealed",
                    field="status",
                )
            if row.agent is None:
                raise Conflict(
                    f"violation {violation_id} is the team's: there is no agent to appeal it",
                    field="agent",
                )
            if appellant != row.agent:
                raise BadInput(
                    f"only {row.agent}, to whom violation {violation_id} is attributed, may "
                    "appeal it",
                    field="by",
                )
            if now - row.detected_at > window:
                days = window.total_seconds() / 86400
                raise Conflict(
                    f"the appeal window ({days:g} days after detection) has closed",
                    field="detected_at",
                )

        return await self._change(violation_id, "appealed", by, reason, now, check)

    async def _change(
        self,
        violation_id: int,
        status: str,
        by: str,
        reason: str,
        now: datetime,
        check: Callable[[Any, bool], None],
    ) -> dict[str, Any]:
        """Check the row, then change its status only if nobody changed it meanwhile: of two
        decisions at the same moment exactly one wins and the other is told (409)."""
        checked_text(by.strip(), violation_events.c.by, "by")
        checked_text(reason, violation_events.c.reason, "reason")
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(
                        violations.c.status,
                        violations.c.agent,
                        violations.c.detected_at,
                        violations.c.deadline,
                    ).where(violations.c.id == violation_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no violation with id {violation_id}", field="id")
            appealed_before = (
                await conn.execute(
                    select(func.count())
                    .select_from(violation_events)
                    .where(
                        violation_events.c.violation_id == violation_id,
                        violation_events.c.action == "appealed",
                    )
                )
            ).scalar_one() > 0
            check(row, appealed_before)
            changed = await conn.execute(
                update(violations)
                .where(violations.c.id == violation_id, violations.c.status == row.status)
                .values(status=status, updated_at=now)
            )
            if changed.rowcount != 1:
                raise Conflict(
                    f"violation {violation_id} was changed by someone else meanwhile; "
                    "look at it again",
                    field="status",
                )
            # Checked after the update, which holds the row: a month being closed meanwhile
            # waits for this change, or this change sees the month closed (SPEC §4).
            closed = await closed_month_at(conn, row.deadline)
            if closed is not None:
                raise closed_refusal(closed, f"violation {violation_id}'s status")
            await self._event(
                conn,
                violation_id,
                now,
                status,
                by=by.strip(),
                reason=reason,
                details={"from": row.status},
            )
        return await self.get(violation_id)

    async def status_counts(self) -> list[tuple[str | None, str, str, int]]:
        """``(shop, rule, status, count)`` of violations awaiting a decision (review,
        appealed): the in-review and appeals-pending gauges."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(violations.c.shop, violations.c.rule, violations.c.status, func.count())
                .where(violations.c.status.in_(("review", "appealed")))
                .group_by(violations.c.shop, violations.c.rule, violations.c.status)
            )
            return [(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def get(self, violation_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(violations).where(violations.c.id == violation_id))
            ).first()
            if row is None:
                raise NotFound(f"no violation with id {violation_id}", field="id")
            events = (
                await conn.execute(
                    select(violation_events)
                    .where(violation_events.c.violation_id == violation_id)
                    .order_by(violation_events.c.id)
                )
            ).all()
        result = violation_json(row)
        result["audit"] = [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "by": e.by,
                "reason": e.reason,
                "details": e.details,
            }
            for e in events
        ]
        return result

    async def find(
        self,
        *,
        shop: str | None = None,
        rule: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Violations in (deadline, id) order; ``after`` a (deadline, id) pair continues a
        listing past that violation (keyset paging: each page is one indexed range read);
        ``limit`` None reads all (the CLI), the API always gives one."""
        query = select(violations).order_by(violations.c.deadline, violations.c.id)
        if after is not None:
            deadline, last_id = after
            query = query.where(
                or_(
                    violations.c.deadline > deadline,
                    and_(violations.c.deadline == deadline, violations.c.id > last_id),
                )
            )
        if shop:
            query = query.where(violations.c.shop == shop)
        if rule:
            query = query.where(violations.c.rule == rule)
        if agent:
            query = query.where(violations.c.agent == agent)
        if status:
            query = query.where(violations.c.status == status)
        if since:
            query = query.where(violations.c.deadline >= since)
        if until:
            query = query.where(violations.c.deadline < until)
        if limit is not None:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            return [violation_json(row) for row in await conn.execute(query)]

    async def totals(self) -> list[tuple[str, str, str | None, int, int]]:
        """(shop, rule, agent, count, points) of every recorded violation: the metric cache's
        starting point, read once at start."""
        query = select(
            violations.c.shop,
            violations.c.rule,
            violations.c.agent,
            func.count(),
            func.coalesce(func.sum(violations.c.points), 0),
        ).group_by(violations.c.shop, violations.c.rule, violations.c.agent)
        async with self.engine.connect() as conn:
            return [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in await conn.execute(query)]
