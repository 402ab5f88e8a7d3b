"""An in-memory shop: orders (latest version each), messages and agent presence (the current
status, and every change as a ``/presence`` event), served the way SPEC §5 says — ascending
by (time, id), inclusive ``since``, cursor page tokens."""

from __future__ import annotations

import base64
import bisect
import itertools
import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.model import (
    AgentPresence,
    Direction,
    Message,
    Order,
    OrderStatus,
    PresenceEvent,
    PresenceStatus,
)
from connectors.wire import parse_instant, rfc3339

MAX_LIMIT = 500


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "buyer_id": order.buyer_id,
        "status": order.status.value,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "paid_at": rfc3339(order.paid_at) if order.paid_at else None,
        "closed_at": rfc3339(order.closed_at) if order.closed_at else None,
        "buyer_message": order.buyer_message,
        "seller_memo": order.seller_memo,
        "seller_flag": order.seller_flag,
        "amount": str(order.amount),
        "currency": order.currency,
    }


def message_json(msg: Message) -> dict[str, Any]:
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "buyer_id": msg.buyer_id,
        "direction": msg.direction.value,
        "agent_id": msg.agent_id,
        "is_auto": msg.is_auto,
        "sent_at": rfc3339(msg.sent_at),
        "text": msg.text,
    }


def encode_token(at: datetime, item_id: str) -> str:
    raw = json.dumps([rfc3339(at), item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[datetime, str]:
    padded = token + "=" * (-len(token) % 4)
    at, item_id = json.loads(base64.urlsafe_b64decode(padded))
    return parse_instant(at, "page_token"), item_id


@dataclass
class _Index:
    """(time, id) keys in ascending order, for inclusive-since, cursor-paged reads."""

    keys: list[tuple[datetime, str]]

    def page(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[str], tuple[datetime, str] | None]:
        if after is None:
            start = bisect.bisect_left(self.keys, (since, ""))
        else:
            start = bisect.bisect_right(self.keys, after)
        chosen = self.keys[start : start + limit]
        more = start + limit < len(self.keys)
        return [key[1] for key in chosen], (chosen[-1] if chosen and more else None)


class World:
    """The shop's state. Mutators keep the indexes sorted so reads stay logarithmic."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.messages: dict[str, Message] = {}
        self.presence: dict[str, AgentPresence] = {}
        self.report_presence = True
        """``/agents`` answers (else 404: presence not reported)."""
        self.presence_events: dict[str, PresenceEvent] = {}
        self.report_presence_events = True
        """``/presence`` answers (else 404: the daemon samples ``/agents`` instead)."""
        self._presence_index = _Index([])
        self._presence_ids = itertools.count(1)
        self._order_index = _Index([])
        self._message_index = _Index([])

    # ---- writes ----

    def put_order(self, order: Order) -> Order:
        old = self.orders.get(order.id)
        if old is not None:
            i = bisect.bisect_left(self._order_index.keys, (old.updated_at, old.id))
            if i < len(self._order_index.keys) and self._order_index.keys[i] == (
                old.updated_at,
                old.id,
            ):
                del self._order_index.keys[i]
        self.orders[order.id] = order
        bisect.insort(self._order_index.keys, (order.updated_at, order.id))
        return order

    def update_order(self, order_id: str, at: datetime, **changes: Any) -> Order:
        return self.put_order(replace(self.orders[order_id], updated_at=at, **changes))

    def add_message(self, msg: Message) -> Message:
        if msg.id in self.messages:
            raise ValueError(f"message {msg.id} exists")
        self.messages[msg.id] = msg
        bisect.insort(self._message_index.keys, (msg.sent_at, msg.id))
        return msg

    def set_presence(self, agent_id: str, status: PresenceStatus, since: datetime) -> None:
        """The agent's status from ``since`` on; a change is also a ``/presence`` event."""
        current = self.presence.get(agent_id)
        if current is not None and current.status is status:
            return
        self.presence[agent_id] = AgentPresence(agent_id=agent_id, status=status, since=since)
        event = PresenceEvent(
            id=f"p-{next(self._presence_ids):08d}", agent_id=agent_id, status=status, at=since
        )
        self.presence_events[event.id] = event
        bisect.insort(self._presence_index.keys, (since, event.id))

    def bulk_load(self, orders: list[Order], messages: list[Message]) -> None:
        """Load a large history at once (sorting once instead of inserting one by one)."""
        for order in orders:
            self.orders[order.id] = order
        for msg in messages:
            self.messages[msg.id] = msg
        self._order_index.keys = sorted((o.updated_at, o.id) for o in self.orders.values())
        self._message_index.keys = sorted((m.sent_at, m.id) for m in self.messages.values())

    # ---- reads (SPEC §5) ----

    def orders_page(
        self, since: datetime, token: str | None, limit: int
    ) -> tuple[list[Order], str | None]:
        after = decode_token(token) if token else None
        ids, last = self._order_index.page(since, after, min(limit, MAX_LIMIT))
        return [self.orders[i] for i in ids], encode_token(*last) if last else None

    def messages_page(
        self, since: datetime, token: str | None, limit: int
    ) -> tuple[list[Message], str | None]:
        after = decode_token(token) if token else None
        ids, last = self._message_index.page(since, after, min(limit, MAX_LIMIT))
        return [self.messages[i] for i in ids], encode_token(*last) if last else None

    def presence_page(
        self, since: datetime, token: str | None, limit: int
    ) -> tuple[list[PresenceEvent], str | None]:
        after = decode_token(token) if token else None
        ids, last = self._presence_index.page(since, after, min(limit, MAX_LIMIT))
        return [self.presence_events[i] for i in ids], encode_token(*last) if last else None


def presence_event_json(event: PresenceEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "agent_id": event.agent_id,
        "status": event.status.value,
        "at": rfc3339(event.at),
    }


def new_order(
    *,
    order_id: str,
    buyer_id: str,
    at: datetime,
    amount: Decimal = Decimal("99.00"),
    buyer_message: str | None = None,
) -> Order:
    return Order(
        id=order_id,
        buyer_id=buyer_id,
        status=OrderStatus.AWAITING_PAYMENT,
        created_at=at,
        updated_at=at,
        paid_at=None,
        closed_at=None,
        buyer_message=buyer_message,
        seller_memo=None,
        seller_flag=0,
        amount=amount,
        currency="CNY",
    )


def new_message(
    *,
    message_id: str,
    buyer_id: str,
    at: datetime,
    direction: Direction,
    text: str,
    agent_id: str | None = None,
    is_auto: bool = False,
    conversation_id: str | None = None,
) -> Message:
    return Message(
        id=message_id,
        conversation_id=conversation_id or f"c-{buyer_id}",
        buyer_id=buyer_id,
        direction=direction,
        agent_id=agent_id,
        is_auto=is_auto,
        sent_at=at,
        text=text,
    )
