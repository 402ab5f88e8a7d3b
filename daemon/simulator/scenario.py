"""A living shop for the demo: buyers place orders, ask questions, pay; agents chase, answer
and write memos — mostly on time, sometimes not, so every rule has something to find.

Stories are scheduled as timed events. ``backfill`` plays a back-dated history at once
(so violations appear in the first minute); ``step`` starts new stories as time passes and
applies the events that have come due.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from checks.business_time import BusinessCalendar
from connectors.model import Direction, OrderStatus, PresenceStatus
from daemon.simulator.world import World, new_message, new_order

QUESTIONS = (
    "还有货吗？",
    "今天能发货吗？",
    "可以便宜一点吗？",
    "Is this in stock?",
    "尺码偏大吗？",
)
REQUESTS = (
    "请发顺丰",
    "麻烦送个小礼品",
    "please gift-wrap it",
    "颜色要蓝色的",
    "发票抬头：某某公司",
)
ANSWERS = ("亲，有货的哦", "今天下午发出", "已为您备注", "We ship today", "亲，按标准码选就好")


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    action: Callable[[], object] = field(compare=False)


class Scenario:
    def __init__(
        self,
        world: World,
        calendar: BusinessCalendar,
        agents: list[str],
        *,
        seed: int = 11,
        stories_per_hour: float = 900.0,
    ) -> None:
        self.world = world
        self.calendar = calendar
        self.agents = agents
        self.random = random.Random(seed)
        self.stories_per_hour = stories_per_hour
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._last_story: datetime | None = None

    # ---- driving ----

    def backfill(self, now: datetime, hours: float = 30.0, stories: int = 400) -> None:
        """Play ``stories`` stories started over the last ``hours``, up to ``now``."""
        start = now - timedelta(hours=hours)
        for _ in range(stories):
            self._story(start + (now - start) * self.random.random() * 0.98)
        self._run_until(now)
        self._last_story = now

    def step(self, now: datetime) -> None:
        """Start the stories due since the last step, then apply events up to ``now``."""
        last = self._last_story or now
        elapsed_hours = (now - last).total_seconds() / 3600
        expected = elapsed_hours * self.stories_per_hour
        count = int(expected) + (self.random.random() < expected - int(expected))
        for _ in range(count):
            self._story(last + (now - last) * self.random.random())
        self._last_story = now
        self._run_until(now)
        self._update_presence(now)

    def _run_until(self, now: datetime) -> None:
        while self._events and self._events[0].at <= now:
            heapq.heappop(self._events).action()

    def _at(self, at: datetime, action: Callable[[], object]) -> None:
        heapq.heappush(self._events, _Event(at, next(self._seq), action))

    def _update_presence(self, now: datetime) -> None:
        for agent in self.agents:
            status = (
                PresenceStatus.ONLINE
                if self.calendar.on_duty(agent, now)
                else PresenceStatus.OFFLINE
            )
            current = self.world.presence.get(agent)
            if current is None or current.status is not status:
                self.world.set_presence(agent, status, now)

    # ---- helpers ----

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _minutes(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.random.uniform(low, high))

    def _agent_at(self, t: datetime) -> str:
        on_duty = self.calendar.agents_on_duty(t) or self.agents
        return self.random.choice(on_duty)

    def _business(self, t0: datetime, delay: timedelta) -> datetime:
        """When an agent acting ``delay`` into business time after ``t0`` acts."""
        return self.calendar.business_deadline(t0, delay)

    def _say(
        self,
        buyer: str,
        at: datetime,
        direction: Direction,
        agent: str | None = None,
        *,
        is_auto: bool = False,
    ) -> None:
        text = self.random.choice(ANSWERS if direction is Direction.AGENT else QUESTIONS)
        self._at(
            at,
            lambda: self.world.add_message(
                new_message(
                    message_id=self._id("m"),
                    buyer_id=buyer,
                    at=at,
                    direction=direction,
                    text=text,
                    agent_id=agent,
                    is_auto=is_auto,
                )
            ),
        )

    # ---- stories ----

    def _story(self, t0: datetime) -> None:
        buyer = self._id("b")
        kind = self.random.choices(
            ("unpaid", "question", "paid_with_request", "quick_pay"), weights=(4, 4, 3, 2)
        )[0]
        getattr(self, f"_story_{kind}")(buyer, t0)

    def _story_unpaid(self, buyer: str, t0: datetime) -> None:
        """An order left unpaid: chased in time (most), chased late or never (some)."""
        order_id = self._id("o")
        self._at(
            t0,
            lambda: self.world.put_order(
                new_order(order_id=order_id, buyer_id=buyer, at=t0, amount=self._amount())
            ),
        )
        roll = self.random.random()
        if roll < 0.6:
            chase = self._business(t0, self._minutes(5, 55))
            self._say(buyer, chase, Direction.AGENT, self._agent_at(chase))
            if self.random.random() < 0.6:
                paid = chase + self._minutes(2, 30)
                self._at(
                    paid,
                    lambda: self.world.update_order(
                        order_id, paid, status=OrderStatus.PAID, paid_at=paid
                    ),
                )
        elif roll < 0.8:
            late = self._business(t0, self._minutes(65, 120))
            self._say(buyer, late, Direction.AGENT, self._agent_at(late))
        elif roll < 0.9:
            closed = t0 + self._minutes(20, 50)
            self._at(
                closed,
                lambda: self.world.update_order(
                    order_id, closed, status=OrderStatus.CLOSED, closed_at=closed
                ),
            )
        else:
            self._say(buyer, t0 + self._minutes(1, 10), Direction.AGENT, None, is_auto=True)

    def _story_question(self, buyer: str, t0: datetime) -> None:
        """A buyer asks; answered quickly in business time, or late after a night."""
        self._say(buyer, t0, Direction.BUYER)
        if self.random.random() < 0.3:
            self._say(buyer, t0 + self._minutes(0.1, 0.5), Direction.AGENT, None, is_auto=True)
        if self.random.random() < 0.5:
            self._say(buyer, t0 + self._minutes(1, 3), Direction.BUYER)
        delay = self._minutes(1, 8) if self.random.random() < 0.7 else self._minutes(11, 60)
        answer = self._business(t0, delay)
        self._say(buyer, answer, Direction.AGENT, self._agent_at(answer))

    def _story_paid_with_request(self, buyer: str, t0: datetime) -> None:
        """A paid order with a buyer request; memo written, starred first, or forgotten."""
        order_id = self._id("o")
        request = self.random.choice(REQUESTS)
        paid = t0 + self._minutes(1, 5)
        self._at(
            t0,
            lambda: self.world.put_order(
                new_order(
                    order_id=order_id,
                    buyer_id=buyer,
                    at=t0,
                    amount=self._amount(),
                    buyer_message=request,
                )
            ),
        )
        self._at(
            paid,
            lambda: self.world.update_order(order_id, paid, status=OrderStatus.PAID, paid_at=paid),
        )
        self._say(buyer, t0 - self._minutes(1, 5), Direction.BUYER)
        self._say(
            buyer, self._business(t0, self._minutes(1, 4)), Direction.AGENT, self._agent_at(t0)
        )
        roll = self.random.random()
        if roll < 0.6:
            memo_at = self._business(paid, self._minutes(3, 28))
            self._at(
                memo_at,
                lambda: self.world.update_order(order_id, memo_at, seller_memo=f"备注：{request}"),
            )
        elif roll < 0.8:
            star_at = self._business(paid, self._minutes(3, 20))
            self._at(star_at, lambda: self.world.update_order(order_id, star_at, seller_flag=1))
            if self.random.random() < 0.7:
                memo_at = self._business(star_at, self._minutes(30, 120))
                self._at(
                    memo_at,
                    lambda: self.world.update_order(
                        order_id, memo_at, seller_memo=f"备注：{request}"
                    ),
                )
        # else: nobody writes the memo

    def _story_quick_pay(self, buyer: str, t0: datetime) -> None:
        order_id = self._id("o")
        paid = t0 + self._minutes(1, 15)
        self._at(
            t0,
            lambda: self.world.put_order(
                new_order(order_id=order_id, buyer_id=buyer, at=t0, amount=self._amount())
            ),
        )
        self._at(
            paid,
            lambda: self.world.update_order(order_id, paid, status=OrderStatus.PAID, paid_at=paid),
        )

    def _amount(self) -> Decimal:
        return Decimal(self.random.randrange(1900, 59900)) / 100
