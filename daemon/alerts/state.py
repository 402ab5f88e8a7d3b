"""What was sent to whom: the ``alert_notices`` table, mirrored in memory.

The listener decides on the in-memory rows (each tick, without reading the database) and
writes a row through whenever it changes, *before* the send is attempted (an outbox). So a
restart knows which alerts are firing and with which startsAt, which ones were resolved and
must not be announced again, and which webhook messages were written down but never
delivered (those are delivered after the restart instead of being lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.alerts.notice import Notice
from daemon.store.observations import dialect_insert
from daemon.store.tables import alert_notices

RowKey = tuple[str, str, str, str, str]
"""(receiver, kind, shop, rule, subject id): the table's primary key."""


_KEY = ("receiver", "kind", "shop", "rule", "subject_id")
_UPDATED = (
    "tier",
    "deadline",
    "starts_at",
    "active_until",
    "notice",
    "created_at",
    "sent_at",
    "closed_at",
)


@dataclass(kw_only=True)
class NoticeRow:
    receiver: str
    kind: str
    shop: str
    rule: str
    subject_id: str
    tier: int | None
    deadline: datetime
    starts_at: datetime
    active_until: datetime
    notice: Notice
    created_at: datetime
    sent_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def key(self) -> RowKey:
        return (self.receiver, self.kind, self.shop, self.rule, self.subject_id)

    @property
    def open(self) -> bool:
        return self.closed_at is None


class NoticeLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(
        self, *, now: datetime, keep: timedelta, shop: str | None = None
    ) -> list[NoticeRow]:
        """Every row (of ``shop``, if given), after deleting those closed longer than
        ``keep`` ago: older subjects lie beyond the evaluator's horizon and can never be
        reported again."""
        await self.prune(before=now - keep)
        query = select(alert_notices)
        if shop is not None:
            query = query.where(alert_notices.c.shop == shop)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            NoticeRow(
                receiver=row.receiver,
                kind=row.kind,
                shop=row.shop,
                rule=row.rule,
                subject_id=row.subject_id,
                tier=row.tier,
                deadline=row.deadline,
                starts_at=row.starts_at,
                active_until=row.active_until,
                notice=Notice.from_json(row.notice),
                created_at=row.created_at,
                sent_at=row.sent_at,
                closed_at=row.closed_at,
            )
            for row in rows
        ]

    async def prune(self, *, before: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(alert_notices).where(alert_notices.c.closed_at < before))

    async def save(self, *rows: NoticeRow) -> None:
        """Insert or update rows by their key: one statement, executed with every row."""
        if not rows:
            return
        params = [
            {
                **dict(zip(_KEY, row.key, strict=True)),
                "tier": row.tier,
                "deadline": row.deadline,
                "starts_at": row.starts_at,
                "active_until": row.active_until,
                "notice": row.notice.to_json(),
                "created_at": row.created_at,
                "sent_at": row.sent_at,
                "closed_at": row.closed_at,
            }
            for row in rows
        ]
        async with self.engine.begin() as conn:
            insert = dialect_insert(conn, alert_notices)
            upsert = insert.on_conflict_do_update(
                index_elements=list(_KEY),
                set_={column: insert.excluded[column] for column in _UPDATED},
            )
            await conn.execute(upsert, params)
