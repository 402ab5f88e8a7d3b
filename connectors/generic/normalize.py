"""Pure translation of the generic shop API's pages (SPEC §5) into model records."""

from __future__ import annotations

from typing import Any

from connectors import wire
from connectors.errors import BadResponse
from connectors.model import (
    AgentPresence,
    Direction,
    Message,
    Order,
    OrderStatus,
    Page,
    PresenceEvent,
    PresenceStatus,
)


def _next_token(body: Any) -> str | None:
    token = wire.field(body, "next_page_token", "body")
    if token is not None and not isinstance(token, str):
        raise BadResponse("expected a string or null", field="next_page_token")
    # SPEC §5 says null on the last page; an empty string can only mean the same.
    return token or None


def order(raw: Any, where: str) -> Order:
    return Order(
        id=wire.identifier(raw, "id", where),
        buyer_id=wire.identifier(raw, "buyer_id", where),
        status=wire.choice(raw, "status", where, OrderStatus),
        created_at=wire.instant(raw, "created_at", where),
        updated_at=wire.instant(raw, "updated_at", where),
        paid_at=wire.optional_instant(raw, "paid_at", where),
        closed_at=wire.optional_instant(raw, "closed_at", where),
        buyer_message=wire.string(raw, "buyer_message", where, nullable=True),
        seller_memo=wire.string(raw, "seller_memo", where, nullable=True),
        seller_flag=wire.integer(raw, "seller_flag", where, low=0, high=5),
        amount=wire.decimal(raw, "amount", where),
        currency=wire.identifier(raw, "currency", where, longest=8),
    )


def message(raw: Any, where: str) -> Message:
    direction = wire.choice(raw, "direction", where, Direction)
    agent_id = wire.identifier(raw, "agent_id", where, nullable=True)
    return Message(
        id=wire.identifier(raw, "id", where),
        conversation_id=wire.identifier(raw, "conversation_id", where),
        buyer_id=wire.identifier(raw, "buyer_id", where),
        direction=direction,
        agent_id=agent_id or None,
        is_auto=wire.boolean(raw, "is_auto", where),
        sent_at=wire.instant(raw, "sent_at", where),
        text=wire.string(raw, "text", where) or "",
    )


def presence(raw: Any, where: str) -> AgentPresence:
    return AgentPresence(
        agent_id=wire.identifier(raw, "id", where),
        status=wire.choice(raw, "status", where, PresenceStatus),
        since=wire.instant(raw, "status_since", where),
    )


def orders_page(body: Any) -> Page[Order]:
    raws = wire.items(body, "orders")
    return Page(
        items=tuple(order(raw, f"orders[{i}]") for i, raw in enumerate(raws)),
        next_page_token=_next_token(body),
    )


def messages_page(body: Any) -> Page[Message]:
    raws = wire.items(body, "messages")
    return Page(
        items=tuple(message(raw, f"messages[{i}]") for i, raw in enumerate(raws)),
        next_page_token=_next_token(body),
    )


def agents(body: Any) -> list[AgentPresence]:
    raws = wire.items(body, "agents")
    return [presence(raw, f"agents[{i}]") for i, raw in enumerate(raws)]


def presence_event(raw: Any, where: str) -> PresenceEvent:
    return PresenceEvent(
        id=wire.identifier(raw, "id", where),
        agent_id=wire.identifier(raw, "agent_id", where),
        status=wire.choice(raw, "status", where, PresenceStatus),
        at=wire.instant(raw, "at", where),
    )


def presence_page(body: Any) -> Page[PresenceEvent]:
    raws = wire.items(body, "events")
    return Page(
        items=tuple(presence_event(raw, f"events[{i}]") for i, raw in enumerate(raws)),
        next_page_token=_next_token(body),
    )
