"""CS101 unpaid order not chased (SPEC §3): timelines in shop time, day shift 08:30–17:30.

The default order is placed Monday 10:00 awaiting payment, so D = 11:00.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from checks.business_time import Holiday
from checks.cs101_unpaid_order_not_chased import RULE, Options, evaluate
from checks.subject import Breach, Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import OrderStatus
from tests.checks.timeline import (
    BUYER,
    DAY,
    HOUR,
    LATE,
    MINUTE,
    SECOND,
    agent_says,
    at,
    buyer_says,
    calendar,
    evidence,
    only,
    order,
    paid_order,
)

PLACED = "2026-11-02 10:00"
D = at("2026-11-02 11:00")
OPTIONS = Options()


def judge(**kwargs: Any) -> Outcome:
    """The outcome for the default order (or ``orders``) under default options."""
    kwargs.setdefault("orders", [order("o1", created=PLACED)])
    return only(evaluate(evidence(**kwargs), OPTIONS))


class TestSubject:
    def test_order_awaiting_payment_is_a_subject_keyed_by_order_id(self) -> None:
        outcome = judge()
        assert isinstance(outcome, Breach)
        assert outcome.subject == Subject(rule="CS101", type="order", id="o1", buyer_id=BUYER)

    def test_order_never_seen_awaiting_payment_is_not_a_subject(self) -> None:
        outcomes = evaluate(evidence(orders=[paid_order("o1", paid=PLACED)]), OPTIONS)
        assert outcomes == []

    def test_order_seen_awaiting_payment_once_is_a_subject_even_if_later_shipped(self) -> None:
        versions = [
            order("o1", created=PLACED),
            order(
                "o1",
                created=PLACED,
                updated="2026-11-02 15:00",
                status=OrderStatus.SHIPPED,
                paid="2026-11-02 14:00",
            ),
        ]
        assert isinstance(judge(orders=versions), Breach)

    def test_each_unpaid_order_is_its_own_subject(self) -> None:
        outcomes = evaluate(
            evidence(
                orders=[order("o1", created=PLACED), order("o2", created="2026-11-02 10:30")],
                messages=[agent_says("m1", "2026-11-02 11:10")],
            ),
            OPTIONS,
        )
        by_id = {o.subject.id: o for o in outcomes}
        assert isinstance(by_id["o1"], Breach)
        assert isinstance(by_id["o2"], Satisfied)


class TestDeadline:
    def test_deadline_is_one_business_hour_after_creation(self) -> None:
        assert judge().deadline == D

    def test_within_is_configurable(self) -> None:
        outcome = only(
            evaluate(evidence(orders=[order(created=PLACED)]), Options(within=30 * MINUTE))
        )
        assert outcome.deadline == at("2026-11-02 10:30")

    def test_order_created_at_17_10_is_due_next_morning_at_09_10(self) -> None:
        # 20 min left in the shift, the other 40 min from 08:30 the next morning.
        outcome = judge(orders=[order(created="2026-11-02 17:10")])
        assert outcome.deadline == at("2026-11-03 09:10")

    def test_order_created_at_17_10_is_chased_in_time_at_09_10_next_morning(self) -> None:
        outcome = judge(
            orders=[order(created="2026-11-02 17:10")],
            messages=[agent_says("m1", "2026-11-03 09:10")],
        )
        assert isinstance(outcome, Satisfied)

    def test_order_created_at_17_10_chased_at_09_10_01_is_a_breach(self) -> None:
        outcome = judge(
            orders=[order(created="2026-11-02 17:10")],
            messages=[agent_says("m1", "2026-11-03 09:10:01")],
        )
        assert isinstance(outcome, Breach)

    def test_order_created_at_17_10_is_still_pending_overnight(self) -> None:
        outcome = judge(orders=[order(created="2026-11-02 17:10")], watermark="2026-11-03 09:00")
        assert outcome == Pending(subject=outcome.subject, deadline=at("2026-11-03 09:10"))

    def test_order_created_at_16_50_is_due_at_08_50_next_morning(self) -> None:
        outcome = judge(orders=[order(created="2026-11-02 16:50")])
        assert outcome.deadline == at("2026-11-03 08:50")

    def test_order_created_at_night_starts_the_clock_at_the_next_shift(self) -> None:
        outcome = judge(orders=[order(created="2026-11-03 02:00")])
        assert outcome.deadline == at("2026-11-03 09:30")

    def test_deadline_inside_a_shift_that_crosses_midnight(self) -> None:
        outcome = judge(orders=[order(created="2026-11-02 23:30")], calendar=calendar(LATE))
        assert outcome.deadline == at("2026-11-03 00:30")

    def test_deadline_runs_past_the_end_of_a_shift_that_crosses_midnight(self) -> None:
        # 30 min until 01:00, the rest from the next start at 16:00.
        outcome = judge(orders=[order(created="2026-11-03 00:30")], calendar=calendar(LATE))
        assert outcome.deadline == at("2026-11-03 16:30")

    def test_holiday_pauses_the_clock_for_the_whole_day(self) -> None:
        cal = calendar(DAY, holidays=[Holiday(day=date(2026, 11, 3), name="closed")])
        outcome = judge(orders=[order(created="2026-11-02 17:10")], calendar=cal)
        assert outcome.deadline == at("2026-11-04 09:10")

    def test_no_shifts_means_round_the_clock(self) -> None:
        outcome = judge(orders=[order(created="2026-11-03 02:00")], calendar=calendar())
        assert outcome.deadline == at("2026-11-03 03:00")


class TestChase:
    def test_chase_exactly_at_deadline_satisfies(self) -> None:
        assert isinstance(judge(messages=[agent_says("m1", D)]), Satisfied)

    def test_chase_one_second_after_deadline_is_a_breach(self) -> None:
        assert isinstance(judge(messages=[agent_says("m1", D + SECOND)]), Breach)

    def test_chase_exactly_at_creation_satisfies(self) -> None:
        assert isinstance(judge(messages=[agent_says("m1", PLACED)]), Satisfied)

    def test_agent_message_one_second_before_creation_is_not_a_chase(self) -> None:
        outcome = judge(messages=[agent_says("m1", at(PLACED) - SECOND)])
        assert isinstance(outcome, Breach)

    def test_auto_reply_is_never_a_chase(self) -> None:
        outcome = judge(
            messages=[
                buyer_says("m1", "2026-11-02 10:40"),
                agent_says("m2", "2026-11-02 10:41", auto=True),
            ]
        )
        assert isinstance(outcome, Breach)

    def test_buyer_message_is_not_a_chase(self) -> None:
        assert isinstance(judge(messages=[buyer_says("m1", "2026-11-02 10:30")]), Breach)

    def test_chase_in_another_conversation_of_the_same_buyer_counts(self) -> None:
        outcome = judge(messages=[agent_says("m1", "2026-11-02 10:30", conversation="other")])
        assert isinstance(outcome, Satisfied)

    def test_agent_message_to_another_buyer_is_not_a_chase(self) -> None:
        outcome = judge(messages=[agent_says("m1", "2026-11-02 10:30", buyer="b2")])
        assert isinstance(outcome, Breach)

    def test_chase_outside_coverage_before_the_deadline_counts(self) -> None:
        outcome = judge(
            orders=[order(created="2026-11-02 17:10")],
            messages=[agent_says("m1", "2026-11-02 21:00")],
        )
        assert isinstance(outcome, Satisfied)

    def test_chase_satisfies_even_before_the_watermarks_reach_the_deadline(self) -> None:
        outcome = judge(
            messages=[agent_says("m1", "2026-11-02 10:05")], watermark="2026-11-02 10:10"
        )
        assert isinstance(outcome, Satisfied)


class TestPaidOrClosed:
    def test_paid_exactly_at_deadline_satisfies(self) -> None:
        versions = [
            order(created=PLACED),
            order(created=PLACED, updated=D, paid=D, status=OrderStatus.PAID),
        ]
        assert isinstance(judge(orders=versions), Satisfied)

    def test_paid_one_second_after_deadline_is_a_breach(self) -> None:
        late = D + SECOND
        versions = [
            order(created=PLACED),
            order(created=PLACED, updated=late, paid=late, status=OrderStatus.PAID),
        ]
        assert isinstance(judge(orders=versions), Breach)

    def test_payment_seen_only_in_a_later_version_counts_by_paid_at(self) -> None:
        versions = [
            order(created=PLACED),
            order(
                created=PLACED,
                updated="2026-11-02 12:00",
                paid="2026-11-02 10:59",
                status=OrderStatus.PAID,
            ),
        ]
        assert isinstance(judge(orders=versions), Satisfied)

    def test_closed_exactly_at_deadline_satisfies(self) -> None:
        versions = [
            order(created=PLACED),
            order(created=PLACED, updated=D, closed=D, status=OrderStatus.CLOSED),
        ]
        assert isinstance(judge(orders=versions), Satisfied)

    def test_closed_one_second_after_deadline_is_a_breach(self) -> None:
        late = D + SECOND
        versions = [
            order(created=PLACED),
            order(created=PLACED, updated=late, closed=late, status=OrderStatus.CLOSED),
        ]
        assert isinstance(judge(orders=versions), Breach)


class TestPaidSibling:
    @pytest.mark.parametrize(
        ("paid", "expected"),
        [
            (at(PLACED) - 24 * HOUR, Satisfied),
            (at(PLACED) - 24 * HOUR - SECOND, Breach),
            (at(PLACED), Satisfied),
            (D, Satisfied),
            (D + SECOND, Breach),
        ],
        ids=["window-start", "before-window", "at-creation", "at-deadline", "after-deadline"],
    )
    def test_another_paid_order_within_created_minus_24h_to_deadline(
        self, paid: datetime, expected: type
    ) -> None:
        sibling = paid_order("o0", paid=paid)
        assert isinstance(judge(orders=[order("o1", created=PLACED), sibling]), expected)

    def test_sibling_window_is_configurable(self) -> None:
        sibling = paid_order("o0", paid=at(PLACED) - 2 * HOUR)
        outcomes = evaluate(
            evidence(orders=[order("o1", created=PLACED), sibling]),
            Options(sibling_window=HOUR),
        )
        assert isinstance(only(outcomes), Breach)

    def test_paid_order_of_another_buyer_is_not_a_sibling(self) -> None:
        sibling = paid_order("o0", paid="2026-11-02 10:30", buyer="b2")
        assert isinstance(judge(orders=[order("o1", created=PLACED), sibling]), Breach)


class TestWatermarks:
    @pytest.mark.parametrize(
        ("orders_mark", "chat_mark"),
        [(D - SECOND, D + HOUR), (D + HOUR, D - SECOND), (D - SECOND, D - SECOND)],
        ids=["orders-behind", "chat-behind", "both-behind"],
    )
    def test_pending_while_either_watermark_is_before_the_deadline(
        self, orders_mark: datetime, chat_mark: datetime
    ) -> None:
        outcome = judge(orders_watermark=orders_mark, chat_watermark=chat_mark)
        assert isinstance(outcome, Pending)
        assert outcome.deadline == D

    def test_watermarks_exactly_at_deadline_decide(self) -> None:
        assert isinstance(judge(watermark=D), Breach)

    def test_watermarks_past_deadline_decide(self) -> None:
        assert isinstance(judge(orders_watermark=D + SECOND, chat_watermark=D + HOUR), Breach)


class TestHistory:
    def test_order_created_before_chat_history_start_is_undecidable(self) -> None:
        outcome = judge(chat_history_start=at(PLACED) + SECOND)
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="history_incomplete"
        )

    def test_order_created_exactly_at_chat_history_start_is_decided(self) -> None:
        assert isinstance(judge(chat_history_start=PLACED), Breach)

    def test_order_created_before_history_start_still_pending_before_deadline(self) -> None:
        outcome = judge(chat_history_start="2026-11-02 10:30", watermark="2026-11-02 10:45")
        assert isinstance(outcome, Pending)

    def test_order_created_before_history_start_but_chased_is_satisfied(self) -> None:
        outcome = judge(
            chat_history_start="2026-11-02 10:30", messages=[agent_says("m1", "2026-11-02 10:40")]
        )
        assert isinstance(outcome, Satisfied)


class TestBreach:
    def test_breach_carries_the_default_penalty_and_is_final(self) -> None:
        outcome = judge()
        assert isinstance(outcome, Breach)
        assert (outcome.points, outcome.fine, outcome.tier, outcome.final) == (
            2,
            Decimal(5),
            None,
            True,
        )
        assert outcome.deadline == D
        assert outcome.evidence.order.id == "o1"

    def test_penalty_is_configurable(self) -> None:
        outcome = only(
            evaluate(evidence(orders=[order(created=PLACED)]), Options(points=3, fine=Decimal(7)))
        )
        assert isinstance(outcome, Breach)
        assert (outcome.points, outcome.fine) == (3, Decimal(7))

    def test_breach_is_attributed_to_the_last_agent_who_wrote_to_the_buyer(self) -> None:
        outcome = judge(
            messages=[
                agent_says("m0", "2026-11-02 09:00", agent="bob"),
                agent_says("m1", "2026-11-02 09:30", auto=True, agent="alice"),
            ]
        )
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift) == ("bob", "day")

    def test_breach_without_a_responsible_agent_goes_to_the_shift(self) -> None:
        outcome = judge()
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift) == (None, "day")

    def test_re_reading_duplicated_data_gives_the_same_outcome(self) -> None:
        versions = [order(created=PLACED), order(created=PLACED, updated="2026-11-02 10:20")]
        messages = [buyer_says("m1", "2026-11-02 10:40")]
        once = only(evaluate(evidence(orders=versions, messages=messages), OPTIONS))
        twice = only(evaluate(evidence(orders=versions * 2, messages=messages * 2), OPTIONS))
        assert isinstance(once, Breach)
        assert isinstance(twice, Breach)
        assert (twice.subject, twice.deadline, twice.agent, twice.points) == (
            once.subject,
            once.deadline,
            once.agent,
            once.points,
        )


class TestBuyerIdentity:
    """A buyer_id that is a connector's stand-in (the order lacked the configured key, e.g.
    Shopify withholding e-mail addresses) can never pair with chat: undecidable, not unchased.
    """

    def unidentified(self, **kwargs: Any) -> Any:
        return replace(order("o1", **kwargs), buyer_identified=False)

    def test_an_unidentified_buyer_is_undecidable_not_a_breach(self) -> None:
        # 10:00 placed by a buyer known only as an order-local id; 11:00 D passes unchased.
        outcome = judge(orders=[self.unidentified(created=PLACED)])
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="buyer_unidentified"
        )

    def test_an_unidentified_buyer_paid_in_time_is_still_satisfied(self) -> None:
        versions = [
            self.unidentified(created=PLACED),
            self.unidentified(
                created=PLACED, updated="2026-11-02 10:30", paid="2026-11-02 10:30",
                status=OrderStatus.PAID,
            ),
        ]  # fmt: skip
        assert isinstance(judge(orders=versions), Satisfied)

    def test_an_unidentified_buyer_is_pending_until_the_watermarks_pass_the_deadline(
        self,
    ) -> None:
        outcome = judge(orders=[self.unidentified(created=PLACED)], watermark="2026-11-02 10:59")
        assert isinstance(outcome, Pending)

    def test_the_reason_is_declared_for_the_metrics(self) -> None:
        assert RULE.undecidable_reasons == ("history_incomplete", "buyer_unidentified")
