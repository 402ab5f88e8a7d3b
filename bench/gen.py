"""Fast, seeded generators of shop data for the benchmark.

``history`` builds 24 h of a busy shop as model records (for ``World.bulk_load``): 50 agents
on a day shift (08:30–17:30, a000–a029) and a night shift (17:30–24:00, a030–a049), nobody
from 00:00 to 08:30 local, so every night is an offline episode. The stories are the
simulator's (``daemon/simulator/scenario.py``) with the same mix, but computed directly in
epoch seconds instead of through timed events and the business calendar, so a million
messages take seconds, not minutes:

- unpaid orders chased in time (then often paid), chased late, closed, auto-replied only,
  or never chased (CS101);
- buyer questions answered in time, late, or — at night — the next morning (CS102);
- paid orders with a buyer request: memo in time, starred then memo, or forgotten (CS103);
- quick payments; and extra back-and-forth to reach the requested message count;
- every paid order confirmed by the shop's automatic template, by an agent, or (1 in 20)
  not at all (CS105); replies in coverage mostly inside CS104's three minutes, about one in
  eight late.

The rates follow a shop that mostly keeps its procedure (the seed's): a world in which most
buyers are owed a violation measures the ledger's writes, not the watch.

The world keeps only each order's latest version (as a shop API would), so an order is
generated in its final state as of ``now``; events after ``now`` have not happened yet.

``Feed`` makes live traffic for the sustained test, stamped with the wall clock when added.
``growth_rows`` makes raw store rows (plain tuples) for the growth test's large databases.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.model import Direction, Message, Order, OrderStatus
from daemon.simulator.scenario import ANSWERS, QUESTIONS, REQUESTS

LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai, no DST
DAY_OPEN = 8 * 3600 + 30 * 60  # 08:30 local
NIGHT_START = 17 * 3600 + 30 * 60  # 17:30 local
DAY_AGENTS = tuple(f"a{i:03d}" for i in range(30))
NIGHT_AGENTS = tuple(f"a{i:03d}" for i in range(30, 50))
WORKING_AGENTS = DAY_AGENTS + NIGHT_AGENTS
ROSTER_SIZE = 200  # the roster also lists relief staff who are on no shift

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def roster(size: int = ROSTER_SIZE) -> list[str]:
    return [f"a{i:03d}" for i in range(max(size, len(WORKING_AGENTS)))]


def to_dt(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _sod(t: float) -> float:
    """Local second of the day."""
    return (t + LOCAL_OFFSET) % 86400


def covered(t: float) -> bool:
    return _sod(t) >= DAY_OPEN


def business(t: float, delay: float) -> float:
    """When something ``delay`` seconds of business time after ``t`` happens (coverage is
    08:30–24:00 local every day)."""
    sod = _sod(t)
    if sod < DAY_OPEN:
        t += DAY_OPEN - sod
        sod = DAY_OPEN
    left = 86400 - sod
    if delay <= left:
        return t + delay
    return t + left + DAY_OPEN + (delay - left)


def agent_at(rng: random.Random, t: float) -> str:
    sod = _sod(t)
    if sod < DAY_OPEN:
        return rng.choice(DAY_AGENTS)  # a reply "at night" happens at the next opening
    return rng.choice(DAY_AGENTS if sod < NIGHT_START else NIGHT_AGENTS)


@dataclass
class History:
    orders: list[Order]
    messages: list[Message]
    buyers: int
    now: datetime
    start: datetime


class _Builder:
    def __init__(self, seed: int, start: float, now: float, orders: int, messages: int) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.now = now
        self.want_orders = orders
        self.want_messages = messages
        self.orders: list[Order] = []
        self.messages: list[Message] = []
        self.buyer_seq = 0
        self.order_seq = 0
        self.message_seq = 0

    # ---- records ----

    def buyer(self) -> str:
        self.buyer_seq += 1
        return f"b{self.buyer_seq:08d}"

    def say(
        self,
        buyer: str,
        t: float,
        direction: Direction,
        agent: str | None = None,
        *,
        auto: bool = False,
    ) -> bool:
        if not self.start <= t <= self.now or len(self.messages) >= self.want_messages:
            return False
        self.message_seq += 1
        rng = self.rng
        self.messages.append(
            Message(
                id=f"m{self.message_seq:09d}",
                conversation_id=f"c-{buyer}",
                buyer_id=buyer,
                direction=direction,
                agent_id=agent,
                is_auto=auto,
                sent_at=to_dt(t),
                text=rng.choice(ANSWERS if direction is Direction.AGENT else QUESTIONS),
            )
        )
        return True

    def order(
        self,
        buyer: str,
        t0: float,
        *,
        paid: float | None = None,
        closed: float | None = None,
        request: str | None = None,
        memo: float | None = None,
        star: float | None = None,
    ) -> None:
        """One order in its state as of now (events after now have not happened)."""
        now = self.now
        self.order_seq += 1
        updated = t0
        status = OrderStatus.AWAITING_PAYMENT
        paid_at = closed_at = None
        if paid is not None and paid <= now:
            status, paid_at, updated = OrderStatus.PAID, to_dt(paid), max(updated, paid)
            self.confirm(buyer, paid)
        if closed is not None and closed <= now:
            status, closed_at, updated = OrderStatus.CLOSED, to_dt(closed), max(updated, closed)
        flag = 0
        if star is not None and star <= now:
            flag, updated = 1, max(updated, star)
        seller_memo = None
        if memo is not None and memo <= now and request is not None:
            seller_memo, updated = f"备注：{request}", max(updated, memo)
        self.orders.append(
            Order(
                id=f"o{self.order_seq:08d}",
                buyer_id=buyer,
                status=status,
                created_at=to_dt(t0),
                updated_at=to_dt(updated),
                paid_at=paid_at,
                closed_at=closed_at,
                buyer_message=request,
                seller_memo=seller_memo,
                seller_flag=flag,
                amount=Decimal(self.rng.randrange(1900, 59900)) / 100,
                currency="CNY",
            )
        )

    def confirm(self, buyer: str, paid: float) -> None:
        """The order-check message after a payment (CS105): the automatic template at once,
        an agent's within the half hour, or none."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.8:
            self.say(buyer, paid + self.minutes(0.05, 0.5), Direction.AGENT, None, auto=True)
        elif roll < 0.95:
            at = business(paid, self.minutes(1, 20))
            self.say(buyer, at, Direction.AGENT, agent_at(rng, at))

    def reply_delay(self) -> float:
        """An agent's answer to a buyer in coverage: mostly inside CS104's three minutes."""
        if self.rng.random() < 0.88:
            return self.minutes(0.3, 2.8)
        return self.minutes(4, 40)

    def minutes(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high) * 60

    def chatter(self, buyer: str, t: float, pairs: int) -> None:
        """``pairs`` more question/answer exchanges after ``t``, answered mostly in time."""
        rng = self.rng
        for _ in range(pairs):
            t += self.minutes(0.5, 20)
            self.say(buyer, t, Direction.BUYER)
            answer = business(t, self.reply_delay())
            self.say(buyer, answer, Direction.AGENT, agent_at(rng, answer))
            t = answer

    # ---- stories ----

    def question(self, buyer: str, t0: float) -> float:
        """A buyer asks; answered quickly, late, or (at night) the next morning."""
        rng = self.rng
        self.say(buyer, t0, Direction.BUYER)
        if rng.random() < 0.3:
            self.say(buyer, t0 + self.minutes(0.1, 0.5), Direction.AGENT, None, auto=True)
        if rng.random() < 0.3:
            self.say(buyer, t0 + self.minutes(1, 3), Direction.BUYER)
        if covered(t0):
            delay = self.reply_delay()
        else:  # an offline message: handled first thing in the morning, or not
            roll = rng.random()
            delay = (
                self.minutes(1, 9)
                if roll < 0.6
                else (self.minutes(11, 30) if roll < 0.85 else self.minutes(31, 90))
            )
        answer = business(t0, delay)
        self.say(buyer, answer, Direction.AGENT, agent_at(rng, answer))
        return answer

    def unpaid(self, buyer: str, t0: float) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.55:  # chased in time, often paid after
            chase = business(t0, self.minutes(5, 55))
            self.say(buyer, chase, Direction.AGENT, agent_at(rng, chase))
            paid = chase + self.minutes(2, 30) if rng.random() < 0.6 else None
            self.order(buyer, t0, paid=paid)
        elif roll < 0.7:  # chased late → CS101
            late = business(t0, self.minutes(65, 120))
            self.say(buyer, late, Direction.AGENT, agent_at(rng, late))
            self.order(buyer, t0)
        elif roll < 0.8:  # closed by the buyer
            self.order(buyer, t0, closed=t0 + self.minutes(20, 50))
        elif roll < 0.9:  # an auto-reply only → CS101
            self.say(buyer, t0 + self.minutes(1, 10), Direction.AGENT, None, auto=True)
            self.order(buyer, t0)
        else:  # never chased → CS101
            self.order(buyer, t0)

    def paid_with_request(self, buyer: str, t0: float) -> None:
        rng = self.rng
        request = rng.choice(REQUESTS)
        paid = t0 + self.minutes(1, 5)
        asked = t0 - self.minutes(1, 5)
        self.say(buyer, asked, Direction.BUYER)
        reply = business(asked, self.reply_delay())
        self.say(buyer, reply, Direction.AGENT, agent_at(rng, reply))
        roll = rng.random()
        if roll < 0.6:  # memo in time
            self.order(
                buyer, t0, paid=paid, request=request, memo=business(paid, self.minutes(3, 28))
            )
        elif roll < 0.8:  # starred first, memo later (or never)
            star = business(paid, self.minutes(3, 20))
            memo = business(star, self.minutes(30, 120)) if rng.random() < 0.7 else None
            self.order(buyer, t0, paid=paid, request=request, star=star, memo=memo)
        else:  # memo forgotten → CS103
            self.order(buyer, t0, paid=paid, request=request)

    def quick_pay(self, buyer: str, t0: float) -> None:
        self.order(buyer, t0, paid=t0 + self.minutes(1, 15))

    def build(self) -> None:
        rng = self.rng
        span = self.now - self.start - 120
        n_orders = self.want_orders
        # About 80 % of the messages belong to order stories (a few pairs of chatter each);
        # question-only buyers take the rest.
        extra_pairs = max(0.0, (0.8 * self.want_messages / max(1, n_orders) - 2.2) / 2)
        kinds = (self.unpaid, self.paid_with_request, self.quick_pay)
        for _ in range(n_orders):
            buyer = self.buyer()
            t0 = self.start + 60 + span * rng.random()
            if rng.random() < 0.3:  # asked before ordering
                self.question(buyer, t0 - self.minutes(5, 30))
            rng.choices(kinds, weights=(4, 3, 2))[0](buyer, t0)
            pairs = int(extra_pairs) + (rng.random() < extra_pairs - int(extra_pairs))
            if pairs:
                self.chatter(buyer, t0 + self.minutes(1, 30), pairs)
        guard = 0
        while len(self.messages) < self.want_messages and guard < 10 * self.want_messages + 10:
            guard += 1
            buyer = self.buyer()
            t0 = self.start + 60 + span * rng.random()
            answered = self.question(buyer, t0)
            if rng.random() < 0.5:
                self.chatter(buyer, answered, rng.randint(1, 3))


def history(
    *,
    orders: int,
    messages: int,
    now: datetime,
    hours: float = 24.0,
    seed: int = 11,
) -> History:
    end = now.timestamp()
    start = end - hours * 3600
    builder = _Builder(seed, start, end, orders, messages)
    builder.build()
    return History(
        orders=builder.orders,
        messages=builder.messages,
        buyers=builder.buyer_seq,
        now=now,
        start=to_dt(start),
    )


PAY_AFTER = timedelta(seconds=3)


class Feed:
    """Live traffic for the sustained test: new orders (70 %) and payments of orders placed
    at least ``PAY_AFTER`` ago (30 %), and five messages per order, all stamped with the time
    they are added. The world keeps only an order's latest version, so paying an order
    before any poll saw it placed would hide a version; waiting 3 s (three poll intervals)
    keeps every version observable, and the stored count comparable with what was added."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.order_seq = 0
        self.message_seq = 0
        self.buyer_seq = 0
        self.unpaid: deque[Order] = deque(maxlen=50_000)
        self.recent_buyers: deque[str] = deque(maxlen=5_000)

    def batch(
        self, now: datetime, n_orders: int, n_messages: int
    ) -> tuple[list[Order], list[Message]]:
        rng = self.rng
        orders: list[Order] = []
        for _ in range(n_orders):
            if self.unpaid and rng.random() < 0.3 and self.unpaid[0].created_at <= now - PAY_AFTER:
                old = self.unpaid.popleft()
                orders.append(
                    Order(
                        id=old.id,
                        buyer_id=old.buyer_id,
                        status=OrderStatus.PAID,
                        created_at=old.created_at,
                        updated_at=now,
                        paid_at=now,
                        closed_at=None,
                        buyer_message=old.buyer_message,
                        seller_memo=None,
                        seller_flag=0,
                        amount=old.amount,
                        currency=old.currency,
                    )
                )
                continue
            self.order_seq += 1
            self.buyer_seq += 1
            buyer = f"lb{self.buyer_seq:08d}"
            order = Order(
                id=f"lo{self.order_seq:08d}",
                buyer_id=buyer,
                status=OrderStatus.AWAITING_PAYMENT,
                created_at=now,
                updated_at=now,
                paid_at=None,
                closed_at=None,
                buyer_message=rng.choice(REQUESTS) if rng.random() < 0.3 else None,
                seller_memo=None,
                seller_flag=0,
                amount=Decimal(rng.randrange(1900, 59900)) / 100,
                currency="CNY",
            )
            orders.append(order)
            self.unpaid.append(order)
            self.recent_buyers.append(buyer)
        messages: list[Message] = []
        for _ in range(n_messages):
            if self.recent_buyers and rng.random() < 0.8:
                buyer = rng.choice(self.recent_buyers)
            else:
                self.buyer_seq += 1
                buyer = f"lb{self.buyer_seq:08d}"
                self.recent_buyers.append(buyer)
            self.message_seq += 1
            agent = rng.random() < 0.5
            messages.append(
                Message(
                    id=f"lm{self.message_seq:09d}",
                    conversation_id=f"c-{buyer}",
                    buyer_id=buyer,
                    direction=Direction.AGENT if agent else Direction.BUYER,
                    agent_id=rng.choice(WORKING_AGENTS) if agent else None,
                    is_auto=False,
                    sent_at=now,
                    text=rng.choice(ANSWERS if agent else QUESTIONS),
                )
            )
        return orders, messages


def growth_rows(
    *,
    orders: int,
    messages: int,
    now: datetime,
    hours: float = 24.0,
    seed: int = 5,
    shop: str = "s",
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Plain store rows (the daemon's SQLite encoding) for a large stored history that is
    already settled — orders paid or closed (a buyer request always has its memo), questions
    answered within minutes in business hours — so re-evaluating a buyer finds nothing new
    to record and a tick's cost is the new work plus reading the buyer's history.
    One order per buyer ``b%08d``; messages in pairs spread over the same buyers.
    Returns (order rows, message rows, buyers)."""
    rng = random.Random(seed)
    end = now.timestamp()
    start = end - hours * 3600
    observed = _sql_time(end)
    order_rows: list[tuple[Any, ...]] = []
    for i in range(orders):
        t0 = start + (end - start - 7200) * rng.random()
        roll = rng.random()
        created = _sql_time(t0)
        buyer = f"b{i:08d}"
        row: tuple[Any, ...]
        if roll < 0.85:
            paid = _sql_time(t0 + 300)
            request = rng.choice(REQUESTS) if roll < 0.2 else None
            memo = f"备注：{request}" if request else None
            updated = _sql_time(t0 + 600) if request else paid
            row = (shop, f"o{i:08d}", updated, buyer, "paid", created, paid, None, request, memo, 0)
        else:
            closed = _sql_time(t0 + 1800)
            row = (shop, f"o{i:08d}", closed, buyer, "closed", created, None, closed, None, None, 0)
        order_rows.append((*row, f"{rng.randrange(1900, 59900) / 100:.2f}", "CNY", observed))
    message_rows = []
    buyers = max(1, orders)
    for j in range(0, messages - 1, 2):
        b = rng.randrange(buyers)
        t = start + (end - start - 7200) * rng.random()
        while not covered(t) or not covered(t + 600):
            t = start + (end - start - 7200) * rng.random()
        answer = t + rng.uniform(30, 300)
        for k, (direction, at) in enumerate((("buyer", t), ("agent", answer))):
            message_rows.append(
                (
                    shop,
                    f"m{j + k:09d}",
                    f"c-b{b:08d}",
                    f"b{b:08d}",
                    direction,
                    agent_at(rng, at) if direction == "agent" else None,
                    0,
                    _sql_time(at),
                    rng.choice(ANSWERS if direction == "agent" else QUESTIONS),
                    observed,
                )
            )
    return order_rows, message_rows, buyers


def _sql_time(seconds: float) -> str:
    """The daemon's SQLite encoding of an instant: naive UTC, microseconds always."""
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")
