"""The normalized domain records: the connectors' output and the checks' input.

Every instant is a timezone-aware UTC ``datetime``; money is ``Decimal``. Records are frozen
and keyword-only so a missing field is a construction error, never a silent ``None``: a
missing ``paid_at`` must never be read as "unpaid" by accident.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar


class OrderStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CLOSED = "closed"


class Direction(enum.StrEnum):
    BUYER = "buyer"
    AGENT = "agent"


class PresenceStatus(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Stream(enum.StrEnum):
    """The two streams a shop is read through; each has its own cursor and watermark."""

    ORDERS = "orders"
    CHAT = "chat"


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One observed version of an order: the order as it stood at ``updated_at``."""

    id: str
    buyer_id: str
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    buyer_message: str | None
    seller_memo: str | None
    seller_flag: int
    amount: Decimal
    currency: str
    buyer_identified: bool = True
    """False when the order lacks the value its connector was configured to identify the
    buyer by (e.g. an e-mail address the platform withholds), so ``buyer_id`` is a
    platform-local stand-in that can never pair with the chat side: a rule that needs the
    buyer's chat counts such an order undecidable instead of unanswered."""

    @property
    def has_buyer_message(self) -> bool:
        return bool(self.buyer_message and self.buyer_message.strip())

    @property
    def has_seller_memo(self) -> bool:
        return bool(self.seller_memo and self.seller_memo.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One chat message between a buyer and the shop."""

    id: str
    conversation_id: str
    buyer_id: str
    direction: Direction
    agent_id: str | None
    is_auto: bool
    """Not a person's reply that reached the buyer: an auto-reply, a bot's or automation's
    message, a campaign, or a message whose sending failed. Never counts as a human reply."""
    sent_at: datetime
    text: str

    @property
    def is_agent_message(self) -> bool:
        """A human reply: auto-replies never count as one (SPEC §1)."""
        return self.direction is Direction.AGENT and not self.is_auto

    @property
    def is_buyer_message(self) -> bool:
        return self.direction is Direction.BUYER


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPresence:
    """An agent's presence status as reported by the chat platform, valid from ``since``."""

    agent_id: str
    status: PresenceStatus
    since: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceEvent:
    """One event of a presence stream (SPEC §5 ``/presence``): the agent's status from ``at``
    on, until the agent's next event."""

    id: str
    agent_id: str
    status: PresenceStatus
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """One record of a page refused on its own (an unknown status, a missing id), while the
    page's other records are kept: what was wrong, never the record's content.

    ``reason`` is a short, bounded word for a metric label (the field's path inside the record
    without indices, e.g. ``displayFinancialStatus`` or ``transactions.kind``): never an order
    or buyer id. ``key`` says which evidence the missing record belongs to, so that no rule
    decides against a buyer on what is left of it: the order's id on an orders stream, the
    conversation's id on a chat stream; ``None`` when the record did not even say that."""

    field: str
    """Where in the page: ``orders.nodes[3].displayFinancialStatus``."""
    error: str
    """What was wrong and what to do, without the field (e.g. "'PENDING_REVIEW' is not one of
    …")."""
    reason: str
    key: str | None
    buyer: str | None = None
    """The buyer the record belongs to, read leniently as the connector reads buyers: the
    evidence of that buyer lacks the record even when nothing of it was stored before (an
    order whose first version is refused might be the payment of a sibling order)."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list endpoint. ``next_page_token`` is ``None`` on the last page."""

    items: tuple[T, ...]
    next_page_token: str | None
    complete_until: datetime | None = None
    """The source's own bound on completeness, for sources that know where their data ends
    (the ``files`` chat source: the end of the exported periods contiguous from ``since``).
    The stream's watermark must not pass it; ``None`` sets no bound beyond the poll's own
    (its start minus ``settle``)."""
    rejected: tuple[Rejected, ...] = ()
    """Records of this page refused one by one (see :class:`Rejected`); the page itself was
    sound. A problem of the page (not JSON, no paging keys) raises instead."""
