"""Inquiry conversion (询单转化率, policy 1 奖励): who turned questions into paid orders.

Definitions (SPEC §4, made precise here):

- An **inquiry** is a (agent, shop, buyer, local day): the agent sent at least one agent
  message (human, not auto) to the buyer that day. Its *first answer* is the first such
  message. A buyer two agents answered on one day is an inquiry of each.
- An inquiry is **converted** when an order of that buyer was paid within
  ``[first answer, first answer + window]`` [window = 24 h]. Orders paid before the answer
  do not count: the agent did not convert them.
- **Converted sales** credit each paid order once, so commission is never paid twice: to
  the inquiry (among those the payment converted) whose agent wrote to the buyer last at or
  before the payment — the agent who closed the sale; ties go to the later first answer,
  then the agent id.
- The monthly **conversion rate** is converted ÷ inquiries over the month's days; the
  **commission** is converted sales × 1 % below the threshold [70 %], × 1.5 % at or above.
- A day is **final** once its window has closed on complete data: local end of day +
  window ≤ min(now, every stream's watermark). Until then the day, and its month, is
  *provisional*: a payment may still arrive, or be read late.
- The monthly **top agent** has the most converted sales (``top_by``, or the highest rate);
  ties share the place; nobody is top with zero. The award is 50 CNY, 100 for the second
  month in a row, 200 from the third (``top_awards``).

Known limits: an order refunded after payment still counts; amounts of different
currencies are added as they are (shops sell in one currency).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from daemon.scoring.month import Month, local_midnight
from daemon.scoring.policy import ConversionPolicy

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReply:
    """One agent message (human) to a buyer."""

    shop: str
    buyer_id: str
    agent: str
    sent_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    shop: str
    buyer_id: str
    order_id: str
    paid_at: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Inquiry:
    agent: str
    shop: str
    buyer_id: str
    day: date
    first_answer: datetime


@dataclass(slots=True, kw_only=True)
class AgentConversion:
    """An agent's conversion over one month."""

    agent: str
    inquiries: int = 0
    converted: int = 0
    converted_sales: Decimal = Decimal(0)
    commission_rate: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    final: bool = True
    top: bool = False
    months_on_top: int = 0
    top_award: Decimal = Decimal(0)
    days: dict[date, tuple[int, int]] = field(default_factory=dict)
    """(inquiries, converted) per local day that had inquiries."""

    @property
    def rate(self) -> Decimal | None:
        if not self.inquiries:
            return None
        return Decimal(self.converted) / Decimal(self.inquiries)

    @property
    def shown_rate(self) -> Decimal | None:
        """The rate to four places (0.6667), as the scorecard and the metric show it."""
        rate = self.rate
        return None if rate is None else rate.quantize(RATE_PLACES)


@dataclass(kw_only=True)
class MonthConversion:
    """Every agent's conversion in one month; ``final`` once the month's last window closed."""

    month: Month
    final: bool
    agents: dict[str, AgentConversion]

    def of(self, agent: str) -> AgentConversion:
        """The agent's entry; an agent without inquiries has an empty one."""
        return self.agents.get(agent) or AgentConversion(agent=agent, final=self.final)


def inquiries(replies: Iterable[AgentReply], timezone: ZoneInfo) -> list[Inquiry]:
    """One inquiry per (agent, shop, buyer, local day), at its first answer."""
    first: dict[tuple[str, str, str, date], datetime] = {}
    for reply in replies:
        key = (reply.agent, reply.shop, reply.buyer_id, reply.sent_at.astimezone(timezone).date())
        if key not in first or reply.sent_at < first[key]:
            first[key] = reply.sent_at
    return [
        Inquiry(agent=a, shop=s, buyer_id=b, day=d, first_answer=t)
        for (a, s, b, d), t in sorted(first.items(), key=lambda item: (item[1], item[0]))
    ]


def _credit(
    payment: Payment,
    candidates: Sequence[Inquiry],
    last_reply: Mapping[tuple[str, str, str], list[datetime]],
) -> Inquiry:
    """The inquiry a payment's sale is credited to: its agent wrote last before paying."""

    def closing(inquiry: Inquiry) -> tuple[datetime, datetime, str]:
        times = last_reply.get((inquiry.agent, inquiry.shop, inquiry.buyer_id), [])
        last = max((t for t in times if t <= payment.paid_at), default=inquiry.first_answer)
        return last, inquiry.first_answer, inquiry.agent

    return max(candidates, key=closing)


@dataclass(frozen=True, slots=True)
class DayTally:
    """One agent's inquiries on one local day: how many, how many converted, and the sales
    credited to them. A final day's tally never changes (see :func:`day_final`)."""

    inquiries: int = 0
    converted: int = 0
    sales: Decimal = Decimal(0)


def day_tallies(
    *,
    days: Collection[date],
    timezone: ZoneInfo,
    replies: Sequence[AgentReply],
    payments: Sequence[Payment],
    window: timedelta,
) -> dict[date, dict[str, DayTally]]:
    """Each agent's tally on each of ``days`` that had inquiries: the part of a month's
    conversion that depends on the data. It needs the replies and payments from the first
    day's local midnight to one window past the last day's end, and nothing else:

    - a day's inquiries and their first answers are its own replies;
    - only payments from the day on can be within an inquiry's window;
    - a later inquiry (up to a window later) can take a sale's credit, and a later reply of
      the agent can be its last before the payment, so both reach a window past the end;
    - an earlier day's inquiry never takes the credit from one of these days' inquiries:
      if its agent wrote again after that day and before the payment, that agent has a
      later inquiry too (read, as it lies before the payment) with the same last reply and
      a later first answer, which wins; if not, the later inquiry's last reply is later.

    More data than that changes nothing, so a caller may read a wider span."""
    all_inquiries = inquiries(replies, timezone)
    by_buyer: dict[tuple[str, str], list[Inquiry]] = defaultdict(list)
    for inquiry in all_inquiries:
        by_buyer[(inquiry.shop, inquiry.buyer_id)].append(inquiry)
    reply_times: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for reply in replies:
        reply_times[(reply.agent, reply.shop, reply.buyer_id)].append(reply.sent_at)

    converted: set[Inquiry] = set()
    sales: dict[Inquiry, Decimal] = defaultdict(Decimal)
    for payment in payments:
        candidates = [
            i
            for i in by_buyer.get((payment.shop, payment.buyer_id), [])
            if i.first_answer <= payment.paid_at <= i.first_answer + window
        ]
        if not candidates:
            continue
        converted.update(candidates)
        sales[_credit(payment, candidates, reply_times)] += payment.amount

    wanted = set(days)
    found: dict[date, dict[str, DayTally]] = {}
    for inquiry in all_inquiries:
        if inquiry.day not in wanted:
            continue
        agents = found.setdefault(inquiry.day, {})
        tally = agents.get(inquiry.agent, DayTally())
        agents[inquiry.agent] = DayTally(
            inquiries=tally.inquiries + 1,
            converted=tally.converted + (inquiry in converted),
            sales=tally.sales + sales.get(inquiry, Decimal(0)),
        )
    return found


def month_conversion(
    *,
    month: Month,
    tallies: Mapping[date, Mapping[str, DayTally]],
    policy: ConversionPolicy,
    final: bool,
) -> MonthConversion:
    """The month's conversion per agent from its days' tallies, with the commission."""
    result: dict[str, AgentConversion] = {}
    for day in month.days():
        for agent, tally in sorted(tallies.get(day, {}).items()):
            entry = result.setdefault(agent, AgentConversion(agent=agent))
            entry.inquiries += tally.inquiries
            entry.converted += tally.converted
            entry.converted_sales += tally.sales
            entry.days[day] = (tally.inquiries, tally.converted)
    for entry in result.values():
        entry.commission_rate = policy.commission_rate(entry.rate)
        entry.commission = (entry.converted_sales * entry.commission_rate).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        entry.final = final
    return MonthConversion(month=month, final=final, agents=result)


def monthly_conversion(
    *,
    month: Month,
    timezone: ZoneInfo,
    replies: Sequence[AgentReply],
    payments: Sequence[Payment],
    policy: ConversionPolicy,
    complete_until: datetime,
) -> MonthConversion:
    """Each agent's conversion in ``month``: a pure function of the observed replies and
    payments, reaching as :func:`day_tallies` says."""
    days = month.days()
    tallies = day_tallies(
        days=days, timezone=timezone, replies=replies, payments=payments, window=policy.window
    )
    final = day_final(days[-1], timezone, policy.window, complete_until)
    return month_conversion(month=month, tallies=tallies, policy=policy, final=final)


def day_final(day: date, timezone: ZoneInfo, window: timedelta, complete_until: datetime) -> bool:
    """A day's conversion is final once its last window has closed on complete data."""
    return local_midnight(day + timedelta(days=1), timezone) + window <= complete_until


def top_agents(month: MonthConversion, policy: ConversionPolicy) -> frozenset[str]:
    """The month's first place (ties share it); nobody with nothing converted."""

    def value(entry: AgentConversion) -> Decimal:
        if policy.top_by == "conversion_rate":
            return entry.rate or Decimal(0)
        return entry.converted_sales

    best = max((value(e) for e in month.agents.values()), default=Decimal(0))
    if best <= 0:
        return frozenset()
    return frozenset(agent for agent, entry in month.agents.items() if value(entry) == best)


def award_top(months: Sequence[MonthConversion], policy: ConversionPolicy) -> MonthConversion:
    """Mark the top agent of the last of ``months`` (oldest first) and its award, which
    grows with the months in a row on top (as many as ``months`` reaches back)."""
    tops = [top_agents(m, policy) for m in months]
    current = months[-1]
    for agent in tops[-1]:
        run = 0
        for month_tops in reversed(tops):
            if agent not in month_tops:
                break
            run += 1
        entry = current.agents[agent]
        entry.top = True
        entry.months_on_top = run
        entry.top_award = policy.top_award(run)
    return current
