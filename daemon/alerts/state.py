"""What was sent to whom: the ``alert_notices`` table, mirrored in memory.

The listener decides on the in-memory rows (each tick, without reading the database) and
writes a row through whenever it changes, *before* the send is attempted (an outbox). So a
restart knows which alerts are firing and with which startsAt, which ones were resolved and
must not be announced again, and which webhook messages were written down but never
delivered (those are delivered after the restart instead of being lost).

Several processes may share the table (SPEC §9), and two may hold the same undelivered row:
a webhook message is sent only by the process that claims it (:meth:`NoticeLog.claim`), so it is
never sent twice (a process that dies between its claim and the send loses that message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.alerts.notice import Notice
from daemon.config.alert_settings import ALERTMANAGER
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

    @classmethod
    def of(
        cls, receiver: str, notice: Notice, *, active_until: datetime, created_at: datetime
    ) -> NoticeRow:
        """The row of ``notice`` to ``receiver``: what it is about comes from the notice."""
        return cls(
            receiver=receiver,
            kind=notice.kind,
            shop=notice.shop,
            rule=notice.rule,
            subject_id=notice.subject_id,
            tier=notice.tier,
            deadline=notice.deadline,
            starts_at=notice.starts_at,
            active_until=active_until,
            notice=notice,
            created_at=created_at,
        )

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
            new = insert.excluded
            # The same webhook notice written again, unsent, over one already claimed or
            # sent (two processes decided it at once, around a handover) stays sent.
            again = and_(
                alert_notices.c.receiver != ALERTMANAGER,
                alert_notices.c.deadline == new.deadline,
                alert_notices.c.tier.is_not_distinct_from(new.tier),
                new.sent_at.is_(None),
                new.closed_at.is_(None),
            )
            updated = {column: new[column] for column in _UPDATED}
            for column in ("sent_at", "closed_at"):
                updated[column] = case((again, alert_notices.c[column]), else_=new[column])
            upsert = insert.on_conflict_do_update(index_elements=list(_KEY), set_=updated)
            await conn.execute(upsert, params)

    async def claim(self, rows: Sequence[NoticeRow], *, now: datetime) -> set[RowKey]:
        """Mark ``rows`` as being sent now, each unless it was sent, given up or claimed
        already (or changed since: another tier, another deadline): the keys this process
        may send."""
        claimed: set[RowKey] = set()
        async with self.engine.begin() as conn:
            for row in rows:
                key = and_(
                    *(
                        alert_notices.c[name] == value
                        for name, value in zip(_KEY, row.key, strict=True)
                    )
                )
                done = await conn.execute(
                    update(alert_notices)
                    .where(
                        key,
                        alert_notices.c.deadline == row.deadline,
                        alert_notices.c.tier.is_(None)
                        if row.tier is None
                        else alert_notices.c.tier == row.tier,
                        alert_notices.c.sent_at.is_(None),
                        alert_notices.c.closed_at.is_(None),
                    )
                    .values(sent_at=now)
                )
                if done.rowcount:
                    claimed.add(row.key)
        return claimed
