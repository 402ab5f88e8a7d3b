"""Presence as evidence (SPEC §3 "Presence"): what agents' statuses were, and where known.

The poller writes here after each successful chat poll:

- an **event stream**: the events (de-duplicated by id, like messages), then the known span
  ``[since, new watermark)`` — contiguous with the previous one, since every poll reads from
  the old watermark, so a restart leaves no gap;
- **samples**: the statuses that changed since the previous sample of this process (each
  valid from the sample's instant), then the known span ``[previous sample, this sample]``
  when the two are no more than ``2 × poll_interval`` apart. A new process has no previous
  sample: its first sample starts a new span, so a restart leaves an unknown gap;
- how the shop reports presence (``events``, ``samples`` or ``none``).

:meth:`PresenceStore.load` reads it back for the judge, which turns it into the rules'
:class:`~checks.presence.PresenceTimeline`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.model import AgentPresence, PresenceEvent, PresenceStatus
from daemon.store.observations import dialect_insert, joined
from daemon.store.tables import presence, presence_events, presence_known, presence_sources

EVENTS = "events"
SAMPLES = "samples"
NONE = "none"

_STATUS = {status.value: status for status in PresenceStatus}


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownRow:
    start: datetime
    end: datetime
    end_included: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPresence:
    """One shop's presence as stored: how it is reported, the statuses (events, or sampled
    changes) from a given instant on plus each agent's last one before it, and where known."""

    kind: str | None
    """events, samples, none; None before the chat stream was first read."""
    statuses: list[AgentPresence]
    known: list[KnownRow]
    last_sample_at: datetime | None


class PresenceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ---- writes (the poller) ----

    async def save_events(
        self, shop: str, events: Sequence[PresenceEvent], observed_at: datetime
    ) -> int:
        """Store presence events; returns how many were new (de-duplicated by id)."""
        if not events:
            return 0
        unique = {e.id: e for e in events}
        rows = [
            {
                "shop": shop,
                "event_id": e.id,
                "agent_id": e.agent_id,
                "status": e.status.value,
                "at": e.at,
                "observed_at": observed_at,
            }
            for e in unique.values()
        ]
        async with self.engine.begin() as conn:
            stmt = (
                dialect_insert(conn, presence_events)
                .on_conflict_do_nothing()
                .returning(presence_events.c.event_id)
            )
            return len((await conn.execute(stmt, rows)).all())

    async def save_sample(
        self,
        shop: str,
        at: datetime,
        statuses: Mapping[str, PresenceStatus],
        *,
        changed_only_from: Mapping[str, PresenceStatus] | None,
    ) -> None:
        """One sample taken at ``at``. ``changed_only_from`` is the previous sample of this
        process (only changes are written, and an agent it listed that this one does not is
        written offline); None for a process's first sample, which writes every status and
        marks offline every agent whose stored status says otherwise and is not listed."""
        rows: dict[str, PresenceStatus] = {}
        async with self.engine.begin() as conn:
            if changed_only_from is None:
                latest = await _latest_statuses(conn, shop, at)
                rows = dict(statuses)
                for agent, status in latest.items():
                    if agent not in statuses and status is not PresenceStatus.OFFLINE:
                        rows[agent] = PresenceStatus.OFFLINE
            else:
                rows = {a: s for a, s in statuses.items() if changed_only_from.get(a) is not s}
                for agent, status in changed_only_from.items():
                    if agent not in statuses and status is not PresenceStatus.OFFLINE:
                        rows[agent] = PresenceStatus.OFFLINE
            if rows:
                await conn.execute(
                    dialect_insert(conn, presence).on_conflict_do_nothing(),
                    [
                        {
                            "shop": shop,
                            "agent_id": agent,
                            "since": at,
                            "status": status.value,
                            "observed_at": at,
                        }
                        for agent, status in rows.items()
                    ],
                )

    async def extend_known(
        self,
        shop: str,
        kind: str,
        start: datetime,
        end: datetime,
        *,
        end_included: bool,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Presence is known on ``[start, end]`` (``end`` only if included): grow the span
        this touches, or begin a new one (in ``conn``'s transaction when given)."""
        if end < start:
            return
        async with joined(self.engine, conn) as conn:
            row = (
                await conn.execute(
                    select(presence_known)
                    .where(
                        presence_known.c.shop == shop,
                        presence_known.c.kind == kind,
                        presence_known.c.start <= start,
                    )
                    .order_by(presence_known.c.start.desc())
                    .limit(1)
                )
            ).first()
            if row is not None and row.end >= start:
                if end > row.end or (end == row.end and end_included and not row.end_included):
                    await conn.execute(
                        update(presence_known)
                        .where(
                            presence_known.c.shop == shop,
                            presence_known.c.kind == kind,
                            presence_known.c.start == row.start,
                        )
                        .values(end=end, end_included=end_included)
                    )
                return
            await conn.execute(
                dialect_insert(conn, presence_known)
                .values(shop=shop, kind=kind, start=start, end=end, end_included=end_included)
                .on_conflict_do_nothing()
            )

    async def set_source(
        self,
        shop: str,
        kind: str,
        now: datetime,
        *,
        last_sample_at: datetime | None = None,
        conn: AsyncConnection | None = None,
    ) -> None:
        async with joined(self.engine, conn) as conn:
            values = {"kind": kind, "last_sample_at": last_sample_at, "updated_at": now}
            stmt = dialect_insert(conn, presence_sources).values(shop=shop, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["shop"], set_=values))

    # ---- reads (the judge) ----

    async def load(self, shop: str, since: datetime) -> StoredPresence:
        """Everything the rules need from ``since`` on."""
        async with self.engine.connect() as conn:
            source = (
                await conn.execute(select(presence_sources).where(presence_sources.c.shop == shop))
            ).first()
            kind = source.kind if source is not None else None
            statuses: list[AgentPresence] = []
            if kind == EVENTS:
                statuses = await _events_since(conn, shop, since)
            elif kind == SAMPLES:
                statuses = await _samples_since(conn, shop, since)
            known: list[KnownRow] = []
            if kind in (EVENTS, SAMPLES):
                rows = await conn.execute(
                    select(presence_known)
                    .where(
                        presence_known.c.shop == shop,
                        presence_known.c.kind == kind,
                        presence_known.c.end >= since,
                    )
                    .order_by(presence_known.c.start)
                )
                known = [
                    KnownRow(start=r.start, end=r.end, end_included=bool(r.end_included))
                    for r in rows
                ]
        return StoredPresence(
            kind=kind,
            statuses=statuses,
            known=known,
            last_sample_at=source.last_sample_at if source is not None else None,
        )


async def _latest_statuses(
    conn: AsyncConnection, shop: str, before: datetime
) -> dict[str, PresenceStatus]:
    last = (
        select(presence.c.agent_id, func.max(presence.c.since).label("since"))
        .where(presence.c.shop == shop, presence.c.since <= before)
        .group_by(presence.c.agent_id)
        .subquery()
    )
    rows = await conn.execute(
        select(presence.c.agent_id, presence.c.status).where(
            presence.c.shop == shop,
            tuple_(presence.c.agent_id, presence.c.since).in_(
                select(last.c.agent_id, last.c.since)
            ),
        )
    )
    return {r.agent_id: _STATUS[r.status] for r in rows}


async def _samples_since(conn: AsyncConnection, shop: str, since: datetime) -> list[AgentPresence]:
    before = (
        select(presence.c.agent_id, func.max(presence.c.since).label("since"))
        .where(presence.c.shop == shop, presence.c.since < since)
        .group_by(presence.c.agent_id)
        .subquery()
    )
    rows = await conn.execute(
        select(presence)
        .where(
            presence.c.shop == shop,
            (presence.c.since >= since)
            | tuple_(presence.c.agent_id, presence.c.since).in_(
                select(before.c.agent_id, before.c.since)
            ),
        )
        .order_by(presence.c.since, presence.c.agent_id)
    )
    return [
        AgentPresence(agent_id=r.agent_id, status=_STATUS[r.status], since=r.since) for r in rows
    ]


async def _events_since(conn: AsyncConnection, shop: str, since: datetime) -> list[AgentPresence]:
    """Events from ``since`` on, with each agent's last event before it (ties at one
    instant in id order: the later id says the status from then on)."""
    before = (
        select(presence_events.c.agent_id, func.max(presence_events.c.at).label("at"))
        .where(presence_events.c.shop == shop, presence_events.c.at < since)
        .group_by(presence_events.c.agent_id)
        .subquery()
    )
    rows = await conn.execute(
        select(presence_events)
        .where(
            presence_events.c.shop == shop,
            (presence_events.c.at >= since)
            | tuple_(presence_events.c.agent_id, presence_events.c.at).in_(
                select(before.c.agent_id, before.c.at)
            ),
        )
        .order_by(presence_events.c.at, presence_events.c.event_id)
    )
    return [AgentPresence(agent_id=r.agent_id, status=_STATUS[r.status], since=r.at) for r in rows]
