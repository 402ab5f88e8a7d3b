"""CS103 paid order without seller memo (SPEC §3): timelines in shop time.

Day shift 08:30–17:30 (alice, bob). The default order is paid Monday 14:00 with a buyer
message, so D = 14:30; a starred order is judged again at the shift's end, 17:30.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from checks.cs103_paid_order_without_seller_memo import Options, evaluate
from checks.subject import Breach, Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import Order
from tests.checks.timeline import (
    BUYER,
    HOUR,
    LATE,
    MINUTE,
    SECOND,
    agent_says,
    at,
    calendar,
    evidence,
    only,
    order,
    paid_order,
)

PAID = "2026-11-02 14:00"
D = at("2026-11-02 14:30")
SHIFT_END = at("2026-11-02 17:30")
OPTIONS = Options()


def version(updated: datetime | str, *, memo: str | None = None, flag: int = 0) -> Order:
    """A version of the default order o1 (paid 14:00) as it stood at ``updated``."""
    return paid_order("o1", paid=PAID, updated=updated, memo=memo, flag=flag)


def judge(*versions: Order, **kwargs: Any) -> Outcome:
    """The outcome for the given versions (default: just the payment, memo blank)."""
    return only(evaluate(evidence(orders=versions or [version(PAID)], **kwargs), OPTIONS))


class TestSubject:
    def test_paid_order_with_buyer_message_is_a_subject_keyed_by_order_id(self) -> None:
        outcome = judge()
        assert outcome.subject == Subject(rule="CS103", type="order", id="o1", buyer_id=BUYER)
        assert outcome.deadline == D

    @pytest.mark.parametrize("message", [None, "", "   \n"], ids=["none", "empty", "blank"])
    def test_paid_order_without_a_buyer_message_is_not_a_subject(self, message: str | None) -> None:
        orders = [paid_order("o1", paid=PAID, buyer_message=message)]
        assert evaluate(evidence(orders=orders), OPTIONS) == []

    def test_unpaid_order_with_a_buyer_message_is_not_a_subject(self) -> None:
        orders = [order("o1", created=PAID, buyer_message="blue please")]
        assert evaluate(evidence(orders=orders), OPTIONS) == []

    def test_order_of_another_buyer_is_not_a_subject(self) -> None:
        orders = [paid_order("o1", paid=PAID, buyer="b2")]
        assert evaluate(evidence(orders=orders), OPTIONS) == []


class TestDeadline:
    def test_deadline_is_thirty_business_minutes_after_payment(self) -> None:
        assert judge().deadline == D

    def test_payment_late_in_the_shift_is_due_the_next_morning(self) -> None:
        outcome = judge(paid_order("o1", paid="2026-11-02 17:10"))
        assert outcome.deadline == at("2026-11-03 08:40")

    def test_payment_at_night_is_due_thirty_minutes_into_the_next_shift(self) -> None:
        outcome = judge(paid_order("o1", paid="2026-11-03 02:00"))
        assert outcome.deadline == at("2026-11-03 09:00")

    def test_within_is_configurable(self) -> None:
        outcome = only(evaluate(evidence(orders=[version(PAID)]), Options(within=HOUR)))
        assert outcome.deadline == at("2026-11-02 15:00")


class TestStateAtDeadline:
    def test_memo_written_exactly_at_deadline_satisfies(self) -> None:
        assert isinstance(judge(version(PAID), version(D, memo="blue, gift wrap")), Satisfied)

    def test_memo_written_one_second_after_deadline_is_a_breach(self) -> None:
        outcome = judge(version(PAID), version(D + SECOND, memo="blue"))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == D

    def test_memo_present_at_payment_satisfies(self) -> None:
        assert isinstance(judge(version(PAID, memo="blue")), Satisfied)

    def test_memo_removed_before_deadline_is_a_breach(self) -> None:
        outcome = judge(version(PAID, memo="blue"), version("2026-11-02 14:20", memo=None))
        assert isinstance(outcome, Breach)

    def test_newest_version_up_to_deadline_decides(self) -> None:
        outcome = judge(
            version(PAID),
            version("2026-11-02 14:10", memo="blue"),
            version("2026-11-02 15:00", memo=None),
        )
        assert isinstance(outcome, Satisfied)

    @pytest.mark.parametrize("memo", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab-newline"])
    def test_whitespace_memo_counts_as_blank(self, memo: str) -> None:
        assert isinstance(judge(version(PAID), version("2026-11-02 14:10", memo=memo)), Breach)

    def test_breach_carries_the_default_penalty_and_is_final(self) -> None:
        outcome = judge()
        assert isinstance(outcome, Breach)
        assert (outcome.points, outcome.fine, outcome.tier, outcome.final) == (
            2,
            Decimal(0),
            None,
            True,
        )
        assert outcome.evidence.extended_to_shift_end is False
        assert outcome.evidence.state_at_deadline.seller_memo is None


class TestStarredOrder:
    def test_starred_blank_order_is_judged_at_the_end_of_the_shift(self) -> None:
        outcome = judge(version(PAID), version("2026-11-02 14:20", flag=1))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == SHIFT_END
        assert outcome.evidence.extended_to_shift_end is True
        assert datetime.fromisoformat(outcome.evidence.first_deadline) == D

    def test_starred_order_with_memo_by_shift_end_satisfies(self) -> None:
        outcome = judge(
            version(PAID), version("2026-11-02 14:20", flag=1), version(SHIFT_END, memo="blue")
        )
        assert outcome == Satisfied(subject=outcome.subject, deadline=SHIFT_END)

    def test_starred_order_with_memo_one_second_after_shift_end_is_a_breach(self) -> None:
        outcome = judge(
            version(PAID),
            version("2026-11-02 14:20", flag=1),
            version(SHIFT_END + SECOND, memo="blue", flag=1),
        )
        assert isinstance(outcome, Breach)
        assert outcome.deadline == SHIFT_END

    def test_starred_exactly_at_deadline_extends(self) -> None:
        outcome = judge(version(PAID), version(D, flag=1), version("2026-11-02 16:00", memo="x"))
        assert isinstance(outcome, Satisfied)
        assert outcome.deadline == SHIFT_END

    def test_starred_one_second_after_deadline_does_not_extend(self) -> None:
        outcome = judge(
            version(PAID), version(D + SECOND, flag=1), version("2026-11-02 16:00", memo="x")
        )
        assert isinstance(outcome, Breach)
        assert outcome.deadline == D

    def test_starred_order_is_pending_until_the_watermarks_reach_the_shift_end(self) -> None:
        outcome = judge(version(PAID, flag=1), watermark=SHIFT_END - SECOND)
        assert outcome == Pending(subject=outcome.subject, deadline=SHIFT_END)

    def test_starred_order_is_decided_with_watermarks_exactly_at_the_shift_end(self) -> None:
        outcome = judge(version(PAID, flag=1), watermark=SHIFT_END)
        assert isinstance(outcome, Breach)
        assert outcome.deadline == SHIFT_END

    def test_extension_happens_once(self) -> None:
        # Still starred and blank at 17:30: a violation there, not another move.
        outcome = judge(version(PAID, flag=2), version("2026-11-03 09:00", memo="blue", flag=2))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == SHIFT_END

    def test_deadline_exactly_at_shift_end_has_nowhere_to_move(self) -> None:
        outcome = judge(paid_order("o1", paid="2026-11-02 17:00", flag=1))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == SHIFT_END
        assert outcome.evidence.extended_to_shift_end is False

    def test_starred_order_in_a_shift_crossing_midnight_waits_until_after_midnight(
        self,
    ) -> None:
        orders = [
            paid_order("o1", paid="2026-11-02 23:00", flag=1),
            paid_order("o1", paid="2026-11-02 23:00", updated="2026-11-03 01:00", memo="ok"),
        ]
        outcome = only(evaluate(evidence(orders=orders, calendar=calendar(LATE)), OPTIONS))
        assert outcome == Satisfied(subject=outcome.subject, deadline=at("2026-11-03 01:00"))

    def test_round_the_clock_shop_extends_to_the_end_of_the_local_day(self) -> None:
        outcome = only(
            evaluate(evidence(orders=[version(PAID, flag=1)], calendar=calendar()), OPTIONS)
        )
        assert isinstance(outcome, Breach)
        assert outcome.deadline == at("2026-11-03 00:00")


class TestNoVersionUpToDeadline:
    def test_earliest_later_version_with_blank_memo_is_a_breach(self) -> None:
        outcome = judge(version("2026-11-02 15:00"), version("2026-11-02 16:00", memo="blue"))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == D

    def test_earliest_later_version_already_with_memo_is_undecidable(self) -> None:
        outcome = judge(version("2026-11-02 15:00", memo="blue"))
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="no_version_before_deadline"
        )

    def test_earliest_version_one_second_after_deadline_is_after_it(self) -> None:
        outcome = judge(version(D + SECOND, memo="blue"))
        assert isinstance(outcome, Undecidable)

    def test_earliest_version_starred_and_blank_before_shift_end_is_judged_there(self) -> None:
        # The star may have been set by D, so the order gets the benefit of the doubt.
        outcome = judge(version("2026-11-02 15:00", flag=1), version(SHIFT_END, memo="blue"))
        assert outcome == Satisfied(subject=outcome.subject, deadline=SHIFT_END)

    def test_earliest_version_starred_and_blank_after_shift_end_is_a_breach_at_d(self) -> None:
        outcome = judge(version(SHIFT_END + SECOND, flag=1))
        assert isinstance(outcome, Breach)
        assert outcome.deadline == D


class TestWatermarks:
    @pytest.mark.parametrize(
        ("orders_mark", "chat_mark"),
        [(D - SECOND, D + HOUR), (D + HOUR, D - SECOND)],
        ids=["orders-behind", "chat-behind"],
    )
    def test_pending_while_either_watermark_is_before_the_deadline(
        self, orders_mark: datetime, chat_mark: datetime
    ) -> None:
        outcome = judge(
            version(PAID, memo="blue"), orders_watermark=orders_mark, chat_watermark=chat_mark
        )
        assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_watermarks_exactly_at_deadline_decide(self) -> None:
        assert isinstance(judge(watermark=D), Breach)
        assert isinstance(judge(version(PAID, memo="blue"), watermark=D), Satisfied)


class TestAttribution:
    def test_breach_goes_to_the_last_agent_who_wrote_to_the_buyer(self) -> None:
        messages = [agent_says("r1", "2026-11-02 13:50", agent="bob")]
        outcome = judge(messages=messages)
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift) == ("bob", "day")

    def test_breach_with_no_writer_and_two_agents_on_duty_goes_to_the_shift(self) -> None:
        outcome = judge()
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift) == (None, "day")

    def test_extended_breach_is_attributed_at_the_shift_end(self) -> None:
        messages = [agent_says("r1", "2026-11-02 16:00", agent="alice")]
        outcome = judge(version(PAID, flag=1), messages=messages)
        assert isinstance(outcome, Breach)
        assert (outcome.agent, outcome.shift, outcome.deadline) == ("alice", "day", SHIFT_END)


def test_penalty_is_configurable() -> None:
    outcome = only(evaluate(evidence(orders=[version(PAID)]), Options(points=4, fine=Decimal(9))))
    assert isinstance(outcome, Breach)
    assert (outcome.points, outcome.fine) == (4, Decimal(9))


def test_subject_waits_for_both_streams_even_when_a_memo_is_visible() -> None:
    outcome = judge(version("2026-11-02 14:10", memo="blue"), watermark=D - MINUTE)
    assert isinstance(outcome, Pending)
