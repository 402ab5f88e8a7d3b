"""Inquiry conversion (询单转化率): inquiries, conversion, commission, provisional → final,
and the top-agent award streak — as a pure function of replies and payments."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from daemon.scoring.conversion import (
    AgentConversion,
    AgentReply,
    MonthConversion,
    Payment,
    award_top,
    day_final,
    monthly_conversion,
)
from daemon.scoring.month import Month

from .support import NOVEMBER, POLICY, TZ, at


def reply(agent: str, buyer: str, when: str) -> AgentReply:
    return AgentReply(shop="s", buyer_id=buyer, agent=agent, sent_at=at(when))


def paid(buyer: str, when: str, amount: str = "100", order: str | None = None) -> Payment:
    return Payment(
        shop="s",
        buyer_id=buyer,
        order_id=order or f"o-{buyer}-{when}",
        paid_at=at(when),
        amount=Decimal(amount),
    )


def convert(
    replies: list[AgentReply],
    payments: list[Payment],
    complete: str = "2026-12-05 00:00",
    month: Month = NOVEMBER,
) -> dict[str, AgentConversion]:
    result = monthly_conversion(
        month=month,
        timezone=TZ,
        replies=replies,
        payments=payments,
        policy=POLICY.conversion,
        complete_until=at(complete),
    )
    assert all(entry.final is result.final for entry in result.agents.values())
    return result.agents


def test_inquiries_are_distinct_buyers_answered_per_day() -> None:
    result = convert(
        [
            reply("a1", "b1", "2026-11-02 10:00"),
            reply("a1", "b1", "2026-11-02 16:00"),  # same buyer, same day: one inquiry
            reply("a1", "b1", "2026-11-03 09:00"),  # next day: another
            reply("a1", "b2", "2026-11-02 11:00"),
            reply("a2", "b2", "2026-11-02 11:30"),  # another agent: an inquiry of theirs
        ],
        [],
    )
    assert (result["a1"].inquiries, result["a2"].inquiries) == (3, 1)
    assert result["a1"].days[at("2026-11-02 00:00").date()] == (2, 0)


def test_converted_when_paid_within_24_hours_of_the_first_answer() -> None:
    result = convert(
        [
            reply("a1", "b1", "2026-11-02 10:00"),
            reply("a1", "b2", "2026-11-02 10:00"),
            reply("a1", "b3", "2026-11-02 10:00"),
            reply("a1", "b4", "2026-11-02 10:00"),
        ],
        [
            paid("b1", "2026-11-03 10:00", "120"),  # exactly 24 h: converted
            paid("b2", "2026-11-03 10:01", "999"),  # too late
            paid("b3", "2026-11-02 09:59", "999"),  # before the answer: not the agent's doing
            paid("b4", "2026-11-02 10:30", "80.50"),
        ],
    )
    a1 = result["a1"]
    assert (a1.inquiries, a1.converted, a1.converted_sales) == (4, 2, Decimal("200.50"))
    assert a1.rate == Decimal("0.5")
    assert (a1.commission_rate, a1.commission) == (Decimal("0.01"), Decimal("2.01"))


def test_seventy_percent_earns_the_higher_rate() -> None:
    replies = [reply("a1", f"b{i}", "2026-11-02 10:00") for i in range(10)]
    payments = [paid(f"b{i}", "2026-11-02 12:00", "100") for i in range(7)]
    a1 = convert(replies, payments)["a1"]
    assert a1.rate == Decimal("0.7")
    assert (a1.commission_rate, a1.commission) == (Decimal("0.015"), Decimal("10.50"))
    six = convert(replies, payments[:6])["a1"]
    assert (six.commission_rate, six.commission) == (Decimal("0.01"), Decimal("6.00"))


def test_a_sale_two_agents_served_is_credited_once_to_the_one_who_closed_it() -> None:
    result = convert(
        [
            reply("a1", "b1", "2026-11-02 10:00"),
            reply("a2", "b1", "2026-11-02 10:30"),
            reply("a1", "b1", "2026-11-02 10:40"),
            reply("a2", "b1", "2026-11-02 11:30"),  # after the payment: does not close it
        ],
        [paid("b1", "2026-11-02 11:00", "300")],
    )
    assert (result["a1"].converted, result["a2"].converted) == (1, 1)
    assert (result["a1"].converted_sales, result["a2"].converted_sales) == (300, 0)


def test_provisional_until_the_window_closes_then_final() -> None:
    replies = [reply("a1", "b1", "2026-11-30 22:00")]
    payments = [paid("b1", "2026-12-01 09:00", "100")]
    # The last day's window closes at 2026-12-02 00:00 local.
    before = convert(replies, payments, complete="2026-12-01 23:59")["a1"]
    after = convert(replies, payments, complete="2026-12-02 00:00")["a1"]
    assert (before.final, before.converted) == (False, 1)
    assert (after.final, after.converted) == (True, 1)


def test_a_day_is_final_once_its_window_has_closed_on_complete_data() -> None:
    day = at("2026-11-02 00:00").date()
    window = timedelta(hours=24)
    assert not day_final(day, TZ, window, at("2026-11-03 23:59"))
    assert day_final(day, TZ, window, at("2026-11-04 00:00"))


def test_inquiries_of_the_month_before_do_not_count() -> None:
    result = convert(
        [reply("a1", "b1", "2026-10-31 23:00"), reply("a1", "b2", "2026-11-01 00:30")],
        [paid("b1", "2026-11-01 10:00")],
    )
    a1 = result["a1"]
    assert (a1.inquiries, a1.converted, a1.converted_sales) == (1, 0, 0)


def _month(**sales: int) -> MonthConversion:
    return MonthConversion(
        month=NOVEMBER,
        final=True,
        agents={
            agent: AgentConversion(
                agent=agent, inquiries=1, converted=1, converted_sales=Decimal(v)
            )
            for agent, v in sales.items()
        },
    )


def test_the_top_agent_award_grows_with_the_streak() -> None:
    policy = POLICY.conversion
    first = award_top([_month(a1=10, a2=50), _month(a1=1, a2=5), _month(a1=90, a2=5)], policy)
    assert (first.of("a1").top, first.of("a1").months_on_top, first.of("a1").top_award) == (
        True,
        1,
        50,
    )
    assert (first.of("a2").top, first.of("a2").top_award) == (False, 0)
    second = award_top([_month(a1=1, a2=50), _month(a1=60, a2=5), _month(a1=90, a2=5)], policy)
    assert (second.of("a1").months_on_top, second.of("a1").top_award) == (2, 100)
    third = award_top([_month(a1=70, a2=50), _month(a1=60, a2=5), _month(a1=90, a2=5)], policy)
    assert (third.of("a1").months_on_top, third.of("a1").top_award) == (3, 200)


def test_a_tie_shares_the_top_and_nothing_sold_wins_nothing() -> None:
    tie = award_top([_month(a1=0), _month(a1=0), _month(a1=80, a2=80)], POLICY.conversion)
    assert tie.of("a1").top_award == tie.of("a2").top_award == 50
    nothing = award_top([_month(), _month(), _month(a1=0, a2=0)], POLICY.conversion)
    assert not any(entry.top for entry in nothing.agents.values())
