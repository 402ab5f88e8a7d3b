"""A living shop for the demo: buyers place orders, ask questions, pay; agents chase, answer,
confirm orders and write memos — mostly on time and politely, sometimes not, so every rule
has something to find: chases late or never (CS101), offline and online questions answered
in time, 5 to 40 minutes late or never (CS102, CS104), closing words that need no answer,
memos forgotten (CS103), paid orders confirmed by template, by an agent, late or never
(CS105), blunt replies (CS106) and another customer's phone number pasted to a buyer (CS107).
And the agents at their posts (served as ``/presence`` events): most log in before their
shift and take a lunch break the supervisor approved as a leave (:func:`lunch_break`);
some log in late or not at all (CS111), step away too long (CS109), leave a solo shift with
nobody online (CS110) or skip the lunch break (CS112).

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

BACKFILL_HOURS = 30.0
"""How much back-dated history :meth:`Scenario.backfill` plays by default."""
PRESENCE_HISTORY = timedelta(hours=47)
"""How far back the agents' presence is planned (at least): just inside the demo's
``backfill`` (48 h), so the daemon's first poll reads the plan's first events (everyone
offline) and knows every agent's presence from there (SPEC: an event stream knows an agent
only from its first event after the history start)."""
PLAN_AHEAD = timedelta(days=1)
FIRSTS_AFTER = timedelta(hours=1)
"""The forced situations skip the shifts starting right at the plan's start, whose early
login window may lie before it."""
MINUTE = timedelta(minutes=1)
LUNCH_AFTER = timedelta(hours=8)
"""Shifts longer than this get a lunch break (policy 2 §1: nobody works 8 hours in a row)."""
LUNCH_AFTER_START = timedelta(hours=3, minutes=30)
LUNCH_LENGTH = timedelta(minutes=40)

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
CLOSINGS = ("好的", "谢谢！", "好的，谢谢～", "收到👌", "👍", "OK", "嗯嗯")
"""What buyers write after an answer: closing words, which need no answer (CS104)."""
CHECK_TEMPLATE = (
    "【自动回复】亲，订单 {order} 已付款，请核对收货地址和规格，有误请及时联系我们；"
    "收藏店铺可优先收到上新通知哦～"
)
CHECKS = (
    "亲，跟您核对一下订单 {order}：收货地址和颜色尺码都对吗？记得收藏店铺哦",
    "亲，订单 {order} 已收到，请核对收货信息，没问题我们就安排发货啦",
)
BLUNT = (
    "不知道，自己看详情页",
    "不行，没办法",
    "说了多少遍了，自己看",
    "爱买不买",
    "你自己看下单页面",
)
GENTLE = ("亲，两款主要是面料不同，您再对比考虑下吧", "对不起哦，作为客服没有权限改价格呢")
UNSURE = ("我也不知道选哪个，帮我看看？", "不清楚怎么选尺码")
"""A buyer's own 不知道 or 不清楚: never CS106's."""
OTHER_CUSTOMERS_PHONE = "138 1234 5678"


def lunch_break(start: datetime, end: datetime, index: int) -> tuple[datetime, datetime] | None:
    """The lunch break of the ``index``-th agent on duty in a shift occurrence longer than
    eight hours (staggered, so the others stay online), which the demo's supervisor approves
    as a leave; None for a shorter shift."""
    if end - start <= LUNCH_AFTER:
        return None
    lunch = start + LUNCH_AFTER_START + LUNCH_LENGTH * 1.25 * index
    return lunch, lunch + LUNCH_LENGTH


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
        self.presence_random = random.Random(seed + 1)
        """Presence draws from its own stream, so the buyers' stories stay as they were."""
        self._planned_until: datetime | None = None
        self._first_time = {"late", "nobody", "no_lunch"}
        self._firsts_from: datetime | None = None
        """Each of these happens in the first shift that can have it (in the back-filled
        history), so the demo shows every rule about people at once; later, by chance."""

    # ---- driving ----

    def backfill(self, now: datetime, hours: float = BACKFILL_HOURS, stories: int = 400) -> None:
        """Play ``stories`` stories started over the last ``hours``, up to ``now``."""
        start = now - timedelta(hours=hours)
        for _ in range(stories):
            self._story(start + (now - start) * self.random.random() * 0.98)
        self.plan_presence(min(start, now - PRESENCE_HISTORY), now + PLAN_AHEAD)
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
        """Keep the agents' plan a day ahead of the clock (started at ``now`` if none was)."""
        if self._planned_until is None:
            self.plan_presence(now, now + PLAN_AHEAD)
            self._run_until(now)
        elif now + PLAN_AHEAD / 2 > self._planned_until:
            self.plan_presence(self._planned_until, now + PLAN_AHEAD)

    # ---- people at their posts ----

    def plan_presence(self, start: datetime, end: datetime) -> None:
        """Schedule every on-duty agent's logins, breaks and logouts for the shift
        occurrences starting in ``[start, end)``; at the very start everyone is offline."""
        if self._planned_until is None:
            for agent in self.agents:
                self._presence_at(start, agent, PresenceStatus.OFFLINE)
            self._firsts_from = start + FIRSTS_AFTER
        self._planned_until = end
        for interval in self.calendar.intervals(start, end):
            if interval.start < start:
                continue  # planned with the previous stretch
            on_duty = [a for a in interval.agents if self.calendar.works(a, interval)]
            for index, agent in enumerate(on_duty):
                self._plan_occurrence(agent, interval.start, interval.end, index, len(on_duty))

    def _presence_at(self, at: datetime, agent: str, status: PresenceStatus) -> None:
        self._at(at, lambda: self.world.set_presence(agent, status, at))

    def _plan_occurrence(
        self, agent: str, start: datetime, end: datetime, index: int, team: int
    ) -> None:
        r = self.presence_random
        if r.random() < 0.03:
            return  # absent: never logs in (CS111, 20 points)
        late = self._first("late", start) or r.random() < 0.12
        login = start + (self._minutes_r(6, 25) if late else -self._minutes_r(2, 15))
        logout = end + self._minutes_r(0, 8)
        self._presence_at(login, agent, PresenceStatus.ONLINE)
        self._presence_at(logout, agent, PresenceStatus.OFFLINE)
        windows = [(login + MINUTE * 20, logout - MINUTE * 30)]
        lunch = lunch_break(start, end, index)
        skips_lunch = lunch is not None and (self._first("no_lunch", start) or r.random() < 0.1)
        if lunch is not None and not skips_lunch:  # (a skipped one: CS112)
            self._presence_at(lunch[0], agent, PresenceStatus.OFFLINE)
            self._presence_at(lunch[1], agent, PresenceStatus.ONLINE)
            windows = [
                (login + MINUTE * 20, lunch[0] - MINUTE * 20),
                (lunch[1] + MINUTE * 20, logout - MINUTE * 30),
            ]
        for low, high in windows:
            if high - low < MINUTE * 30:
                continue
            away = low + (high - low) * r.random() * 0.4  # the first part of the window
            self._presence_at(away, agent, PresenceStatus.AWAY)  # a short break (fine)
            self._presence_at(away + self._minutes_r(1, 4), agent, PresenceStatus.ONLINE)
        if (team == 1 and self._first("nobody", start)) or r.random() < 0.2:
            # too long away (CS109); on a shift worked alone nobody is online then (CS110)
            low, high = windows[-1]
            span = high - low
            if span >= MINUTE * 60:  # in the window's second half, after any short break
                away = low + span / 2 + (span / 2 - MINUTE * 20) * r.random()
                self._presence_at(away, agent, PresenceStatus.AWAY)
                self._presence_at(away + self._minutes_r(7, 12), agent, PresenceStatus.ONLINE)

    def _first(self, situation: str, start: datetime) -> bool:
        """Whether the shift starting at ``start`` is the first to have ``situation`` (not
        one starting in the plan's first hour)."""
        if self._firsts_from is not None and start < self._firsts_from:
            return False
        if situation in self._first_time:
            self._first_time.discard(situation)
            return True
        return False

    def _minutes_r(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.presence_random.uniform(low, high))

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
        text: str | None = None,
    ) -> None:
        if text is None:
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

    def _pay(self, buyer: str, order_id: str, paid: datetime) -> None:
        """The order is paid at ``paid``, and then confirmed with the buyer (or not)."""
        self._at(
            paid,
            lambda: self.world.update_order(order_id, paid, status=OrderStatus.PAID, paid_at=paid),
        )
        self._confirm(buyer, order_id, paid)

    def _confirm(self, buyer: str, order_id: str, paid: datetime) -> None:
        """The order check message (routine step 3): mostly the shop's automatic template at
        once, else an agent's within the half hour; sometimes late or never (CS105)."""
        roll = self.random.random()
        if roll < 0.5:
            at = paid + timedelta(seconds=self.random.uniform(2, 20))
            text = CHECK_TEMPLATE.format(order=order_id)
            self._say(buyer, at, Direction.AGENT, None, is_auto=True, text=text)
            return
        if roll < 0.8:
            at = self._business(paid, self._minutes(2, 25))
        elif roll < 0.9:
            at = self._business(paid, self._minutes(35, 90))
        else:
            return
        text = self.random.choice(CHECKS).format(order=order_id)
        self._say(buyer, at, Direction.AGENT, self._agent_at(at), text=text)

    def _thank(self, buyer: str, answer: datetime) -> None:
        """Sometimes the buyer closes with 好的 or 谢谢 (only while the shop is online: a
        message left offline would be CS102's, which reads no closing words)."""
        if self.random.random() < 0.4:
            at = answer + self._minutes(0.2, 1)
            text = self.random.choice(CLOSINGS)
            if self.calendar.covered(at):
                self._say(buyer, at, Direction.BUYER, text=text)

    # ---- stories ----

    def _story(self, t0: datetime) -> None:
        buyer = self._id("b")
        kind = self.random.choices(
            ("unpaid", "question", "paid_with_request", "quick_pay", "blunt", "phone"),
            weights=(4, 4, 3, 2, 1, 0.5),
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
                self._pay(buyer, order_id, chase + self._minutes(2, 30))
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
        """A buyer asks (in coverage: CS104; offline: CS102) and is answered in time (near
        half), 5, 15, 25 or 40 minutes past CS104's 3 minutes, or never; often thanks the
        agent. Offline, the same waits are in time or 8, 18 or 33 minutes past CS102's 10."""
        self._say(buyer, t0, Direction.BUYER)
        if self.random.random() < 0.3:
            self._say(buyer, t0 + self._minutes(0.1, 0.3), Direction.AGENT, None, is_auto=True)
        if self.random.random() < 0.5:
            self._say(buyer, t0 + self._minutes(0.2, 0.4), Direction.BUYER, text="在吗？")
        roll = self.random.random()
        if roll < 0.45:
            delay = self._minutes(0.5, 2.5)
        elif roll < 0.58:
            delay = self._minutes(7.5, 8.5)
        elif roll < 0.7:
            delay = self._minutes(17, 19)
        elif roll < 0.8:
            delay = self._minutes(27, 29)
        elif roll < 0.9:
            delay = self._minutes(42, 44)
        else:
            return  # never answered
        answer = self._business(t0, delay)
        self._say(buyer, answer, Direction.AGENT, self._agent_at(answer))
        self._thank(buyer, answer)

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
        self._pay(buyer, order_id, paid)
        asked = t0 - self._minutes(1, 5)
        self._say(buyer, asked, Direction.BUYER)
        answer = self._business(asked, self._minutes(0.5, 2.5))
        self._say(buyer, answer, Direction.AGENT, self._agent_at(answer))
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
        self._pay(buyer, order_id, paid)

    def _story_blunt(self, buyer: str, t0: datetime) -> None:
        """A buyer asks and is answered in time, but mostly bluntly (CS106); the auto-reply's
        and the buyer's own 不行 / 不知道 never count."""
        self._say(buyer, t0, Direction.BUYER, text="这两款有什么区别？能便宜吗？")
        if self.random.random() < 0.3:
            self._say(
                buyer,
                t0 + self._minutes(0.1, 0.3),
                Direction.AGENT,
                None,
                is_auto=True,
                text="亲，现在咨询的人多，不行的话请先留言，我们马上回复",
            )
        blunt = self.random.random() < 0.7
        if not blunt:
            self._say(
                buyer,
                t0 + self._minutes(0.2, 0.4),
                Direction.BUYER,
                text=self.random.choice(UNSURE),
            )
        answer = self._business(t0, self._minutes(0.5, 2.5))
        text = self.random.choice(BLUNT if blunt else GENTLE)
        self._say(buyer, answer, Direction.AGENT, self._agent_at(answer), text=text)

    def _story_phone(self, buyer: str, t0: datetime) -> None:
        """A paid order whose memo holds the buyer's phone; the buyer asks which number the
        courier has, and the agent pastes it, or mostly another customer's (CS107)."""
        order_id = self._id("o")
        own = f"139 {self.random.randrange(1000, 10000)} {self.random.randrange(1000, 10000)}"
        self._at(
            t0,
            lambda: self.world.put_order(
                new_order(order_id=order_id, buyer_id=buyer, at=t0, amount=self._amount())
            ),
        )
        paid = t0 + self._minutes(1, 3)
        self._pay(buyer, order_id, paid)
        memo_at = paid + self._minutes(1, 3)
        self._at(
            memo_at,
            lambda: self.world.update_order(
                order_id, memo_at, seller_memo=f"收货电话 {own}，送前联系"
            ),
        )
        asked = memo_at + self._minutes(1, 10)
        self._say(buyer, asked, Direction.BUYER, text="快递说联系不上我，留的电话对吗？")
        answer = self._business(asked, self._minutes(0.5, 2.5))
        number = OTHER_CUSTOMERS_PHONE if self.random.random() < 0.7 else own
        text = f"亲，快递单上的电话是 {number} 哦"
        self._say(buyer, answer, Direction.AGENT, self._agent_at(answer), text=text)

    def _amount(self) -> Decimal:
        return Decimal(self.random.randrange(1900, 59900)) / 100
