"""Reading and writing observed data: order versions, messages, presence, stream state.

Writes are one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` executed with the page's rows
as parameters (SQLAlchemy batches them into multi-row statements, "insertmanyvalues", from
one cached compiled statement): a re-read overlap or a duplicated page costs one round trip
and reports only what is new, so the evaluator looks again only at buyers whose evidence
changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, func, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.model import (
    AgentPresence,
    Direction,
    Message,
    Order,
    OrderStatus,
    PresenceStatus,
    Stream,
)
from daemon.store.tables import (
    messages,
    order_versions,
    presence,
    rejected_records,
    stream_state,
)

_CHUNK = 1000


def dialect_insert(engine_or_conn: AsyncEngine | AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    name = engine_or_conn.dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamState:
    shop: str
    stream: Stream
    history_start: datetime
    watermark: datetime
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuyerHistory:
    orders: list[Order]
    messages: list[Message]


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedKeys:
    """The orders and conversations of a shop that lack a version a connector refused."""

    orders: frozenset[str] = frozenset()
    conversations: frozenset[str] = frozenset()
    buyers: frozenset[str] = frozenset()
    """The buyers the refused records belong to, where the connector could read them."""

    def touch(self, buyer: str, history: BuyerHistory) -> bool:
        """Whether a buyer's evidence lacks a refused record: one of theirs (a refused
        order's first version is in no stored history), an order of theirs, or a message in
        one of their conversations."""
        if not (self.orders or self.conversations):
            return False
        return (
            buyer in self.buyers
            or any(o.id in self.orders for o in history.orders)
            or any(m.conversation_id in self.conversations for m in history.messages)
        )


def _order_row(shop: str, order: Order, observed_at: datetime) -> dict[str, Any]:
    return {
        "shop": shop,
        "order_id": order.id,
        "updated_at": order.updated_at,
        "buyer_id": order.buyer_id,
        "status": order.status.value,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
        "closed_at": order.closed_at,
        "buyer_message": order.buyer_message,
        "seller_memo": order.seller_memo,
        "seller_flag": order.seller_flag,
        "amount": str(order.amount),
        "currency": order.currency,
        "observed_at": observed_at,
        "buyer_identified": order.buyer_identified,
    }


def _message_row(shop: str, msg: Message, observed_at: datetime) -> dict[str, Any]:
    return {
        "shop": shop,
        "message_id": msg.id,
        "conversation_id": msg.conversation_id,
        "buyer_id": msg.buyer_id,
        "direction": msg.direction.value,
        "agent_id": msg.agent_id,
        "is_auto": msg.is_auto,
        "sent_at": msg.sent_at,
        "text": msg.text,
        "observed_at": observed_at,
    }


_STATUS = {status.value: status for status in OrderStatus}
_DIRECTION = {direction.value: direction for direction in Direction}
# Dictionary look-ups, not Enum(value) calls: rows are converted by the hundred thousand.


_o, _m = order_versions.c, messages.c
ORDER_COLUMNS = (
    _o.order_id, _o.buyer_id, _o.status, _o.created_at, _o.updated_at, _o.paid_at,
    _o.closed_at, _o.buyer_message, _o.seller_memo, _o.seller_flag, _o.amount, _o.currency,
    _o.buyer_identified,
)  # fmt: skip
MESSAGE_COLUMNS = (
    _m.message_id, _m.conversation_id, _m.buyer_id, _m.direction, _m.agent_id, _m.is_auto,
    _m.sent_at, _m.text,
)  # fmt: skip
"""What :func:`order_from_row` and :func:`message_from_row` read, in the order they unpack
it. A judge reads every buyer's history: selecting only these (not the observation time,
which was parsed and never used) and unpacking rows by position instead of by name made
reading a history a third faster."""


def order_from_row(row: Any) -> Order:
    """A row of :data:`ORDER_COLUMNS`."""
    (
        order_id, buyer_id, status, created_at, updated_at, paid_at, closed_at, buyer_message,
        seller_memo, seller_flag, amount, currency, buyer_identified,
    ) = row  # fmt: skip
    return Order(
        id=order_id,
        buyer_id=buyer_id,
        status=_STATUS[status],
        created_at=created_at,
        updated_at=updated_at,
        paid_at=paid_at,
        closed_at=closed_at,
        buyer_message=buyer_message,
        seller_memo=seller_memo,
        seller_flag=seller_flag,
        amount=Decimal(amount),
        currency=currency,
        buyer_identified=bool(buyer_identified),
    )


def message_from_row(row: Any) -> Message:
    """A row of :data:`MESSAGE_COLUMNS`."""
    message_id, conversation_id, buyer_id, direction, agent_id, is_auto, sent_at, text = row
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        buyer_id=buyer_id,
        direction=_DIRECTION[direction],
        agent_id=agent_id,
        is_auto=bool(is_auto),
        sent_at=sent_at,
        text=text,
    )


@contextlib.asynccontextmanager
async def joined(
    engine: AsyncEngine, conn: AsyncConnection | None
) -> AsyncIterator[AsyncConnection]:
    """``conn`` when the caller's transaction is to hold the write, else a new transaction:
    the end of a poll writes its watermark and presence bookkeeping in one commit."""
    if conn is not None:
        yield conn
        return
    async with engine.begin() as own:
        yield own


class ObservationStore:
    """What the connectors observed, per shop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save_orders(
        self, shop: str, orders: Sequence[Order], observed_at: datetime
    ) -> list[Order]:
        """Store order versions; return those not seen before (de-duplicated by
        order id and updated_at)."""
        if not orders:
            return []
        unique = {(o.id, o.updated_at): o for o in orders}
        async with self.engine.begin() as conn:
            stmt = (
                dialect_insert(conn, order_versions)
                .on_conflict_do_nothing()
                .returning(order_versions.c.order_id, order_versions.c.updated_at)
            )
            rows = [_order_row(shop, o, observed_at) for o in unique.values()]
            new_keys = {(r.order_id, r.updated_at) for r in await conn.execute(stmt, rows)}
        return [o for key, o in unique.items() if key in new_keys]

    async def save_messages(
        self, shop: str, msgs: Sequence[Message], observed_at: datetime
    ) -> list[Message]:
        """Store messages; return those not seen before (de-duplicated by id)."""
        if not msgs:
            return []
        unique = {m.id: m for m in msgs}
        async with self.engine.begin() as conn:
            stmt = (
                dialect_insert(conn, messages)
                .on_conflict_do_nothing()
                .returning(messages.c.message_id)
            )
            rows = [_message_row(shop, m, observed_at) for m in unique.values()]
            new_ids = {r.message_id for r in await conn.execute(stmt, rows)}
        return [m for key, m in unique.items() if key in new_ids]

    async def save_presence(
        self, shop: str, samples: Sequence[AgentPresence], observed_at: datetime
    ) -> int:
        if not samples:
            return 0
        rows = [
            {
                "shop": shop,
                "agent_id": s.agent_id,
                "since": s.since,
                "status": s.status.value,
                "observed_at": observed_at,
            }
            for s in samples
        ]
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, presence).values(rows).on_conflict_do_nothing()
            result = await conn.execute(stmt)
        return result.rowcount or 0

    async def save_rejected(
        self,
        shop: str,
        stream: Stream,
        keys: Sequence[tuple[str, str]],
        observed_at: datetime,
        buyers: Mapping[str, str] | None = None,
    ) -> None:
        """Remember refused records by ``(key, reason)``: the order (or conversation) that
        lacks a version, and by ``buyers`` (key → buyer) whose evidence it is missing from.
        Seen again, only ``last_seen_at`` moves."""
        if not keys:
            return
        rows = [
            {
                "shop": shop,
                "stream": stream.value,
                "record_key": key,
                "reason": reason,
                "buyer_id": (buyers or {}).get(key),
                "first_seen_at": observed_at,
                "last_seen_at": observed_at,
            }
            for key, reason in dict(keys).items()
        ]
        async with self.engine.begin() as conn:
            insert = dialect_insert(conn, rejected_records)
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["shop", "stream", "record_key"],
                    set_={"last_seen_at": insert.excluded.last_seen_at},
                ),
                rows,
            )

    async def forget_rejected(self, shop: str, before: datetime) -> int:
        """Drop refused records last seen before ``before`` (the evaluation horizon's start):
        no evaluation reads them any more. Returns how many went."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(rejected_records).where(
                    rejected_records.c.shop == shop, rejected_records.c.last_seen_at < before
                )
            )
        return result.rowcount or 0

    async def rejected_keys(self, shop: str, since: datetime) -> RejectedKeys:
        """The records refused at or after ``since``, by stream."""
        c = rejected_records.c
        query = select(c.stream, c.record_key, c.buyer_id).where(
            c.shop == shop, c.last_seen_at >= since
        )
        found: dict[str, set[str]] = {Stream.ORDERS.value: set(), Stream.CHAT.value: set()}
        buyers: set[str] = set()
        async with self.engine.connect() as conn:
            for stream, key, buyer in await conn.execute(query):
                found.setdefault(stream, set()).add(key)
                if buyer is not None:
                    buyers.add(buyer)
        return RejectedKeys(
            orders=frozenset(found[Stream.ORDERS.value]),
            conversations=frozenset(found[Stream.CHAT.value]),
            buyers=frozenset(buyers),
        )

    async def presence_since(self, shop: str, since: datetime) -> list[AgentPresence]:
        """Samples from ``since`` on, plus each agent's last sample before it (its state then)."""
        async with self.engine.connect() as conn:
            before = (
                select(presence.c.agent_id, func.max(presence.c.since).label("since"))
                .where(presence.c.shop == shop, presence.c.since < since)
                .group_by(presence.c.agent_id)
                .subquery()
            )
            query = select(presence).where(
                presence.c.shop == shop,
                (presence.c.since >= since)
                | tuple_(presence.c.agent_id, presence.c.since).in_(
                    select(before.c.agent_id, before.c.since)
                ),
            )
            rows = (await conn.execute(query)).all()
        return [
            AgentPresence(agent_id=r.agent_id, status=PresenceStatus(r.status), since=r.since)
            for r in rows
        ]

    async def stream_state(self, shop: str, stream: Stream) -> StreamState | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(stream_state).where(
                        stream_state.c.shop == shop, stream_state.c.stream == stream.value
                    )
                )
            ).first()
        if row is None:
            return None
        return StreamState(
            shop=shop,
            stream=stream,
            history_start=row.history_start,
            watermark=row.watermark,
            last_success_at=row.last_success_at,
        )

    async def start_stream(
        self, shop: str, stream: Stream, history_start: datetime, now: datetime
    ) -> StreamState:
        """The state of a stream, created on first start with history beginning at
        ``history_start`` (now − backfill). An existing state is kept as it is."""
        async with self.engine.begin() as conn:
            await conn.execute(
                dialect_insert(conn, stream_state)
                .values(
                    shop=shop,
                    stream=stream.value,
                    history_start=history_start,
                    watermark=history_start,
                    last_success_at=None,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
        state = await self.stream_state(shop, stream)
        assert state is not None
        return state

    def begin(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A transaction the caller hands to several writes, committed once at its end."""
        return self.engine.begin()

    async def advance_watermark(
        self,
        shop: str,
        stream: Stream,
        watermark: datetime,
        now: datetime,
        *,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Move the watermark forward (never back) after a poll that read every page (in
        ``conn``'s transaction when given)."""
        async with joined(self.engine, conn) as conn:
            await conn.execute(
                update(stream_state)
                .where(
                    stream_state.c.shop == shop,
                    stream_state.c.stream == stream.value,
                    stream_state.c.watermark < watermark,
                )
                .values(watermark=watermark, last_success_at=now, updated_at=now)
            )

    async def active_buyers(self, shop: str, since: datetime) -> set[str]:
        """Buyers with any order update or message since ``since``: whom to re-evaluate
        after a start, when nothing is known in memory."""
        query = union(
            select(order_versions.c.buyer_id).where(
                order_versions.c.shop == shop, order_versions.c.updated_at >= since
            ),
            select(messages.c.buyer_id).where(messages.c.shop == shop, messages.c.sent_at >= since),
        )
        async with self.engine.connect() as conn:
            return {row[0] for row in await conn.execute(query)}

    async def buyer_histories(
        self, shop: str, buyers: Sequence[str], since: datetime
    ) -> dict[str, BuyerHistory]:
        """Each buyer's order versions (every version of each order touched since ``since``)
        and messages since ``since``, in two indexed queries per chunk of buyers."""
        result = {b: BuyerHistory(orders=[], messages=[]) for b in buyers}
        async with self.engine.connect() as conn:
            for part in chunks(list(buyers), 500):
                # All of these buyers' versions by the (shop, buyer_id, updated_at) index; an
                # order none of whose versions is recent is dropped here, in Python: a
                # correlated "order touched since" subquery made SQLite scan.
                order_rows = await conn.execute(
                    select(*ORDER_COLUMNS).where(
                        order_versions.c.shop == shop, order_versions.c.buyer_id.in_(part)
                    )
                )
                versions: dict[tuple[str, str], list[Order]] = {}
                touched: set[tuple[str, str]] = set()
                for order_row in order_rows:
                    order = order_from_row(order_row)
                    key = (order.buyer_id, order.id)
                    versions.setdefault(key, []).append(order)
                    if order.updated_at >= since:
                        touched.add(key)
                for key in touched:
                    result[key[0]].orders.extend(versions[key])
                message_rows = await conn.execute(
                    select(*MESSAGE_COLUMNS).where(
                        messages.c.shop == shop,
                        messages.c.buyer_id.in_(part),
                        messages.c.sent_at >= since,
                    )
                )
                for message_row in message_rows:
                    message = message_from_row(message_row)
                    result[message.buyer_id].messages.append(message)
        return result
