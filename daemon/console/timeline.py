"""A violation's evidence drawn as a timeline (SPEC §7 "every deduction carries its evidence").

Built from the stored evidence JSON, read back through the rule's own evidence type, and the
observations store: the buyer's order versions and messages around the deadline (who sent
each, and whether it was an auto-reply), the presence of the agents involved, the deadline
itself and each stream's watermark when the rule decided. What the evidence names is marked
``cited``; the rest is context, so a supervisor sees what the rule saw and what it did not.
Nothing here names a rule: the evidence records are walked by their types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.agent_message import QuotedMessage
from checks.evidence_record import MessageRecord, OrderVersionRecord, WatermarkRecord
from checks.registry import evidence_type
from daemon.store.tables import messages, order_versions, presence

MARGIN = timedelta(minutes=30)
"""Context shown before the earliest and after the latest cited instant."""
SPAN_MAX = timedelta(days=3)
ROWS_MAX = 200
TEXT_MAX = 300


@dataclass(frozen=True, kw_only=True)
class Entry:
    at: datetime
    kind: str
    """``order``, ``message``, ``presence``, ``deadline``, ``watermark``, ``detected``."""
    title: str = ""
    who: str | None = None
    direction: str | None = None
    automatic: bool = False
    text: str | None = None
    status: str | None = None
    cited: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Timeline:
    entries: list[Entry]
    start: datetime
    end: datetime
    truncated: bool = False

    def position(self, moment: datetime) -> float:
        """Where ``moment`` lies on the drawn axis, 0–100 (%)."""
        span = (self.end - self.start).total_seconds() or 1.0
        return max(0.0, min(100.0, (moment - self.start).total_seconds() / span * 100))


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _walk(value: Any, parent_id: str | None = None) -> Iterator[tuple[Any, str | None]]:
    """Every record in the evidence, with the id of the record holding it (an order's)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value, parent_id
        own = getattr(value, "id", None)
        holder = own if isinstance(own, str) else parent_id
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), holder)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _walk(item, parent_id)


@dataclass
class _Cited:
    messages: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    versions: set[tuple[str | None, str]] = field(default_factory=set)
    instants: list[datetime] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    agents: set[str] = field(default_factory=set)


def _cite(record: Any) -> _Cited:
    cited = _Cited()
    seen: set[tuple[str, str | None]] = set()
    for item, holder in _walk(record):
        if isinstance(item, MessageRecord | QuotedMessage):
            if (item.id, item.sent_at) in seen:
                continue
            seen.add((item.id, item.sent_at))
            cited.messages.add(item.id)
            if item.agent_id:
                cited.agents.add(item.agent_id)
            moment = _instant(item.sent_at)
            if moment is not None:
                cited.instants.append(moment)
                cited.entries.append(
                    Entry(
                        at=moment,
                        kind="message",
                        title=item.id,
                        who=item.agent_id,
                        direction=item.direction,
                        automatic=item.is_auto,
                        text=getattr(item, "text", None),
                        cited=True,
                    )
                )
        elif isinstance(item, OrderVersionRecord):
            if holder:
                cited.orders.add(holder)
            moment = _instant(item.updated_at)
            if moment is None or (holder, item.updated_at or "") in cited.versions:
                continue
            cited.versions.add((holder, item.updated_at or ""))
            cited.instants.append(moment)
            cited.entries.append(
                Entry(
                    at=moment,
                    kind="order",
                    title=holder or "",
                    status=item.status,
                    cited=True,
                    details={
                        "paid_at": item.paid_at,
                        "closed_at": item.closed_at,
                        "seller_memo": item.seller_memo,
                        "seller_flag": item.seller_flag,
                    },
                )
            )
        elif isinstance(item, WatermarkRecord):
            for stream, text in (("orders", item.orders), ("chat", item.chat)):
                moment = _instant(text)
                if moment is not None:
                    cited.entries.append(
                        Entry(at=moment, kind="watermark", title=stream, cited=True)
                    )
    return cited


async def build_timeline(engine: AsyncEngine, violation: dict[str, Any]) -> Timeline:
    record = evidence_type(violation["rule"]).from_json(violation.get("evidence") or {})
    cited = _cite(record)
    deadline = datetime.fromisoformat(violation["deadline"])
    detected = datetime.fromisoformat(violation["detected_at"])
    moments = [deadline, *cited.instants]
    start = max(min(moments) - MARGIN, deadline - SPAN_MAX)
    end = min(max(moments) + MARGIN, start + SPAN_MAX)
    entries = [e for e in cited.entries if e.kind == "watermark"]
    entries.append(Entry(at=deadline, kind="deadline", title="deadline"))
    if start <= detected <= end:
        entries.append(Entry(at=detected, kind="detected", title="detected"))
    shop, buyer = violation["shop"], violation.get("buyer_id")
    truncated = False
    stored: set[tuple[str, str, float | None]] = set()
    if buyer:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(messages)
                    .where(
                        messages.c.shop == shop,
                        messages.c.buyer_id == buyer,
                        messages.c.sent_at >= start,
                        messages.c.sent_at <= end,
                    )
                    .order_by(messages.c.sent_at)
                    .limit(ROWS_MAX + 1)
                )
            ).all()
            truncated = len(rows) > ROWS_MAX
            for row in rows[:ROWS_MAX]:
                stored.add(("message", row.message_id, None))
                if row.agent_id:
                    cited.agents.add(row.agent_id)
                entries.append(
                    Entry(
                        at=row.sent_at,
                        kind="message",
                        title=row.message_id,
                        who=row.agent_id,
                        direction=row.direction,
                        automatic=bool(row.is_auto),
                        text=_short(row.text),
                        cited=row.message_id in cited.messages,
                    )
                )
            version_rows = (
                await conn.execute(
                    select(order_versions)
                    .where(
                        order_versions.c.shop == shop,
                        order_versions.c.buyer_id == buyer,
                        order_versions.c.updated_at >= start,
                        order_versions.c.updated_at <= end,
                    )
                    .order_by(order_versions.c.updated_at)
                    .limit(ROWS_MAX)
                )
            ).all()
            for row in version_rows:
                stored.add(("order", row.order_id, row.updated_at.timestamp()))
                entries.append(
                    Entry(
                        at=row.updated_at,
                        kind="order",
                        title=row.order_id,
                        status=row.status,
                        cited=row.order_id in cited.orders,
                        details={
                            "paid_at": row.paid_at.isoformat() if row.paid_at else None,
                            "closed_at": row.closed_at.isoformat() if row.closed_at else None,
                            "seller_memo": row.seller_memo,
                            "seller_flag": row.seller_flag,
                            "amount": row.amount,
                            "currency": row.currency,
                        },
                    )
                )
    # What the evidence cites but the store no longer holds (or never did) stays shown.
    entries += [e for e in cited.entries if e.kind != "watermark" and _key(e) not in stored]
    if violation.get("agent"):
        cited.agents.add(violation["agent"])
    entries += await _presence(engine, shop, sorted(cited.agents), start, end)
    entries.sort(key=lambda e: (e.at, _ORDER.get(e.kind, 9)))
    return Timeline(entries=entries, start=start, end=end, truncated=truncated)


def _key(entry: Entry) -> tuple[str, str, float | None]:
    """What identifies a cited record among the stored ones (a version by its instant)."""
    return (entry.kind, entry.title, entry.at.timestamp() if entry.kind == "order" else None)


_ORDER = {"presence": 0, "order": 1, "message": 2, "watermark": 3, "deadline": 4, "detected": 5}


def _short(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


async def _presence(
    engine: AsyncEngine, shop: str, agents: list[str], start: datetime, end: datetime
) -> list[Entry]:
    """Each involved agent's status at the start and every change until the end."""
    if not agents:
        return []
    found: list[Entry] = []
    async with engine.connect() as conn:
        before = (
            select(presence.c.agent_id, func.max(presence.c.since).label("since"))
            .where(
                presence.c.shop == shop,
                presence.c.agent_id.in_(agents),
                presence.c.since < start,
            )
            .group_by(presence.c.agent_id)
            .subquery()
        )
        earlier = await conn.execute(
            select(presence)
            .join(
                before,
                and_(
                    presence.c.agent_id == before.c.agent_id,
                    presence.c.since == before.c.since,
                ),
            )
            .where(presence.c.shop == shop)
        )
        for row in earlier:
            found.append(
                Entry(
                    at=start,
                    kind="presence",
                    who=row.agent_id,
                    status=row.status,
                    details={"since": row.since.isoformat()},
                )
            )
        changes = await conn.execute(
            select(presence)
            .where(
                presence.c.shop == shop,
                presence.c.agent_id.in_(agents),
                presence.c.since >= start,
                presence.c.since <= end,
            )
            .order_by(presence.c.since)
            .limit(ROWS_MAX)
        )
        for row in changes:
            found.append(Entry(at=row.since, kind="presence", who=row.agent_id, status=row.status))
    return found
