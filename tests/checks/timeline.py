"""Terse builders for rule timelines, written in the shop's local time (Asia/Shanghai).

A test reads like the timeline it describes::

    cal = calendar(DAY)
    ev = evidence(
        orders=[order("o1", created="2026-11-02 10:00")],
        messages=[agent_says("m1", "2026-11-02 11:00")],
        watermark="2026-11-02 12:00",
        calendar=cal,
    )

Every instant is local wall time; ``at`` makes it timezone-aware. 2026-11-02 is a Monday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from checks.business_time import BusinessCalendar, Holiday, Shift
from checks.evidence import Evidence, PresenceHistory, StreamBounds, Watermarks
from checks.subject import Outcome
from connectors.model import (
    AgentPresence,
    Direction,
    Message,
    Order,
    OrderStatus,
    PresenceStatus,
)

TZ = ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

BUYER = "b1"
MONDAY = "2026-11-02"
TUESDAY = "2026-11-03"

Instant = datetime | str


def at(when: Instant) -> datetime:
    """``"2026-11-02 10:00"`` or ``"2026-11-02 10:00:30"`` in shop time, timezone-aware."""
    if isinstance(when, datetime):
        return when
    return datetime.fromisoformat(when).replace(tzinfo=TZ)


def shift(name: str, start: str, end: str, *agents: str) -> Shift:
    return Shift(
        name=name, start=time.fromisoformat(start), end=time.fromisoformat(end), agents=agents
    )


DAY = shift("day", "08:30", "17:30", "alice", "bob")
"""The usual day shift: two agents, so attribution needs the last writer or goes to the team."""
SOLO_DAY = shift("day", "08:30", "17:30", "alice")
LATE = shift("late", "16:00", "01:00", "dave")
"""A shift that crosses midnight and belongs to the day it starts."""


def calendar(
    *shifts: Shift,
    holidays: Sequence[Holiday] = (),
    days_off: Mapping[str, frozenset[int]] | None = None,
) -> BusinessCalendar:
    return BusinessCalendar(timezone=TZ, shifts=shifts, holidays=holidays, days_off=days_off or {})


DEFAULT_CALENDAR = calendar(DAY)


def order(
    oid: str = "o1",
    *,
    created: Instant = f"{MONDAY} 10:00",
    updated: Instant | None = None,
    status: OrderStatus = OrderStatus.AWAITING_PAYMENT,
    paid: Instant | None = None,
    closed: Instant | None = None,
    buyer_message: str | None = None,
    memo: str | None = None,
    flag: int = 0,
    buyer: str = BUYER,
) -> Order:
    """One observed version of an order; ``updated`` defaults to ``created``."""
    return Order(
        id=oid,
        buyer_id=buyer,
        status=status,
        created_at=at(created),
        updated_at=at(updated if updated is not None else created),
        paid_at=None if paid is None else at(paid),
        closed_at=None if closed is None else at(closed),
        buyer_message=buyer_message,
        seller_memo=memo,
        seller_flag=flag,
        amount=Decimal("99.00"),
        currency="CNY",
    )


def paid_order(
    oid: str = "o1",
    *,
    paid: Instant,
    updated: Instant | None = None,
    created: Instant | None = None,
    buyer_message: str | None = "please send the blue one",
    memo: str | None = None,
    flag: int = 0,
    buyer: str = BUYER,
) -> Order:
    """A version of a paid order; created and updated default to the payment time."""
    return order(
        oid,
        created=created if created is not None else paid,
        updated=updated if updated is not None else paid,
        status=OrderStatus.PAID,
        paid=paid,
        buyer_message=buyer_message,
        memo=memo,
        flag=flag,
        buyer=buyer,
    )


def buyer_says(mid: str, when: Instant, *, conversation: str = "c1", buyer: str = BUYER) -> Message:
    return Message(
        id=mid,
        conversation_id=conversation,
        buyer_id=buyer,
        direction=Direction.BUYER,
        agent_id=None,
        is_auto=False,
        sent_at=at(when),
        text="hello?",
    )


def agent_says(
    mid: str,
    when: Instant,
    *,
    agent: str | None = "alice",
    auto: bool = False,
    conversation: str = "c1",
    buyer: str = BUYER,
) -> Message:
    return Message(
        id=mid,
        conversation_id=conversation,
        buyer_id=buyer,
        direction=Direction.AGENT,
        agent_id=agent,
        is_auto=auto,
        sent_at=at(when),
        text="auto: we will answer soon" if auto else "hi, how can I help?",
    )


def presence(agent: str, status: PresenceStatus, since: Instant) -> AgentPresence:
    return AgentPresence(agent_id=agent, status=status, since=at(since))


def evidence(
    *,
    orders: Iterable[Order] = (),
    messages: Iterable[Message] = (),
    calendar: BusinessCalendar | None = None,
    watermark: Instant = "2026-11-09 00:00",
    orders_watermark: Instant | None = None,
    chat_watermark: Instant | None = None,
    history_start: Instant = "2026-10-01 00:00",
    orders_history_start: Instant | None = None,
    chat_history_start: Instant | None = None,
    now: Instant | None = None,
    presence_samples: Sequence[AgentPresence] = (),
    buyer: str = BUYER,
) -> Evidence:
    """One buyer's evidence. Both streams share ``watermark``/``history_start`` unless a
    per-stream value is given; ``now`` defaults to the later watermark."""
    orders_mark = at(orders_watermark if orders_watermark is not None else watermark)
    chat_mark = at(chat_watermark if chat_watermark is not None else watermark)
    marks = Watermarks(
        orders=StreamBounds(
            history_start=at(orders_history_start or history_start), watermark=orders_mark
        ),
        chat=StreamBounds(
            history_start=at(chat_history_start or history_start), watermark=chat_mark
        ),
    )
    return Evidence(
        buyer_id=buyer,
        orders=list(orders),
        messages=list(messages),
        calendar=calendar if calendar is not None else DEFAULT_CALENDAR,
        watermarks=marks,
        now=at(now) if now is not None else max(orders_mark, chat_mark),
        presence=PresenceHistory(presence_samples),
    )


def only(outcomes: Sequence[Outcome]) -> Outcome:
    """The single outcome of a one-subject timeline."""
    assert len(outcomes) == 1, outcomes
    return outcomes[0]
