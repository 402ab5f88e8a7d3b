"""CS105 paid order not confirmed with the buyer (SPEC §3): timelines in shop time.

Day shift 08:30–17:30 (alice, bob). An order paid Monday 14:00 must be confirmed by
D = 14:30; one paid at 17:20 by 08:50 the next morning (the clock pauses overnight).
"""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from checks.cs105_paid_order_not_confirmed import RULE, Options, UnconfirmedEvidence, evaluate
from checks.registry import RULES
from checks.subject import Breach, Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import Message
from daemon.config.options import options_from_table
from daemon.config.toml_table import TomlTable
from tests.checks.timeline import (
    BUYER,
    HOUR,
    MINUTE,
    SECOND,
    SOLO_DAY,
    agent_says,
    at,
    buyer_says,
    calendar,
    evidence,
    only,
    order,
    paid_order,
)

PAID = "2026-11-02 14:00"
D = at("2026-11-02 14:30")
LATE_PAID = "2026-11-02 17:20"
OVERNIGHT_D = at("2026-11-03 08:50")
OPTIONS = Options()
CHECK = "亲，您的订单已付款，请核对收货地址：上海市…，有问题随时联系哦，记得收藏店铺～"
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def sends(mid: str, when: datetime | str, text: str = CHECK, **kwargs: Any) -> Message:
    """An outgoing message with these words (an agent's unless ``auto=True``)."""
    return dataclasses.replace(agent_says(mid, when, **kwargs), text=text)


def judge_all(options: Options = OPTIONS, **kwargs: Any) -> list[Outcome]:
    kwargs.setdefault("orders", [paid_order("o1", paid=PAID, buyer_message=None)])
    return evaluate(evidence(**kwargs), options)


def judge(options: Options = OPTIONS, **kwargs: Any) -> Outcome:
    """The single outcome of the timeline (default: order o1 paid Monday 14:00)."""
    return only(judge_all(options, **kwargs))


def breach(**kwargs: Any) -> Breach:
    outcome = judge(**kwargs)
    assert isinstance(outcome, Breach), outcome
    return outcome


class TestSubject:
    def test_a_paid_order_is_a_subject_keyed_by_its_id(self) -> None:
        outcome = judge()
        assert outcome.subject == Subject(rule="CS105", type="order", id="o1", buyer_id=BUYER)
        assert outcome.deadline == D

    def test_an_order_never_paid_is_no_subject(self) -> None:
        assert judge_all(orders=[order("o1", created=PAID)]) == []

    def test_the_first_observed_payment_starts_the_clock(self) -> None:
        versions = [
            order("o1", created="2026-11-02 13:50"),
            paid_order("o1", paid=PAID, created="2026-11-02 13:50"),
            paid_order("o1", paid=PAID, created="2026-11-02 13:50", updated="2026-11-02 16:00"),
        ]
        assert judge(orders=versions).deadline == D

    def test_the_clock_pauses_outside_coverage(self) -> None:
        outcome = judge(orders=[paid_order("o1", paid=LATE_PAID)])
        assert outcome.deadline == OVERNIGHT_D

    def test_within_is_configurable(self) -> None:
        assert judge(Options(within=10 * MINUTE)).deadline == at("2026-11-02 14:10")

    def test_each_paid_order_is_its_own_subject_and_one_message_confirms_both(self) -> None:
        orders = [paid_order("o1", paid=PAID), paid_order("o2", paid="2026-11-02 14:01")]
        outcomes = judge_all(orders=orders, messages=[sends("m1", "2026-11-02 14:02")])
        assert {o.subject.id for o in outcomes} == {"o1", "o2"}
        assert all(isinstance(o, Satisfied) for o in outcomes)


class TestConfirmation:
    @pytest.mark.parametrize("when", [PAID, "2026-11-02 14:10", D], ids=str)
    def test_a_message_from_payment_to_the_deadline_satisfies(self, when: str) -> None:
        assert isinstance(judge(messages=[sends("m1", when)]), Satisfied)

    def test_an_automatic_template_message_satisfies(self) -> None:
        outcome = judge(messages=[sends("m1", "2026-11-02 14:00:02", agent=None, auto=True)])
        assert isinstance(outcome, Satisfied)

    def test_a_message_one_second_before_payment_does_not(self) -> None:
        outcome = judge(messages=[sends("m1", at(PAID) - SECOND)])
        assert isinstance(outcome, Breach)

    def test_a_message_one_second_after_the_deadline_does_not(self) -> None:
        outcome = judge(messages=[sends("m1", D + SECOND)])
        assert isinstance(outcome, Breach)
        assert outcome.evidence.unmatched == ()

    def test_a_message_after_hours_before_the_overnight_deadline_satisfies(self) -> None:
        orders = [paid_order("o1", paid=LATE_PAID)]
        outcome = judge(orders=orders, messages=[sends("m1", "2026-11-03 08:50")])
        assert isinstance(outcome, Satisfied)

    def test_the_buyers_own_message_does_not(self) -> None:
        buyer = dataclasses.replace(buyer_says("m1", "2026-11-02 14:05"), text=CHECK)
        assert isinstance(judge(messages=[buyer]), Breach)

    def test_a_message_to_another_buyer_does_not(self) -> None:
        assert isinstance(judge(messages=[sends("m1", "2026-11-02 14:05", buyer="b2")]), Breach)

    def test_a_message_in_another_conversation_with_the_buyer_satisfies(self) -> None:
        outcome = judge(messages=[sends("m1", "2026-11-02 14:05", conversation="c2")])
        assert isinstance(outcome, Satisfied)

    def test_by_default_any_text_will_do(self) -> None:
        assert isinstance(judge(messages=[sends("m1", "2026-11-02 14:05", "好的")]), Satisfied)

    def test_a_message_without_text_does_not(self) -> None:
        assert isinstance(judge(messages=[sends("m1", "2026-11-02 14:05", "")]), Breach)

    def test_with_patterns_only_a_matching_message_satisfies(self) -> None:
        options = Options(patterns=("核对", "收货地址"))
        hello = sends("m1", "2026-11-02 14:01", "亲，在的")
        outcome = judge(options, messages=[hello])
        assert isinstance(outcome, Breach)
        assert [m.id for m in outcome.evidence.unmatched] == ["m1"]
        check = sends("m2", "2026-11-02 14:05", "请您核对一下收货地址")
        assert isinstance(judge(options, messages=[hello, check]), Satisfied)

    def test_patterns_are_matched_after_nfkc_and_case_folding(self) -> None:
        options = Options(patterns=("order check",))
        message = sends("m1", "2026-11-02 14:05", "ＯＲＤＥＲ Check: please confirm")
        assert isinstance(judge(options, messages=[message]), Satisfied)

    def test_invalid_or_missing_patterns_are_refused(self) -> None:
        with pytest.raises(ValueError, match="not a valid regular expression"):
            Options(patterns=("核对(",))
        with pytest.raises(ValueError, match="patterns"):
            Options(patterns=())

    def test_a_confirmation_counts_before_the_watermarks_reach_the_deadline(self) -> None:
        outcome = judge(messages=[sends("m1", "2026-11-02 14:05")], watermark="2026-11-02 14:06")
        assert isinstance(outcome, Satisfied)


class TestDecision:
    @pytest.mark.parametrize(
        ("orders_mark", "chat_mark"),
        [(D - SECOND, D + HOUR), (D + HOUR, D - SECOND)],
        ids=["orders-behind", "chat-behind"],
    )
    def test_pending_until_both_watermarks_pass_the_deadline(
        self, orders_mark: datetime, chat_mark: datetime
    ) -> None:
        outcome = judge(orders_watermark=orders_mark, chat_watermark=chat_mark)
        assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_a_violation_once_the_watermarks_reach_the_deadline(self) -> None:
        outcome = breach(watermark=D)
        assert (outcome.points, outcome.final, outcome.tier) == (1, True, None)

    def test_undecidable_when_paid_before_the_chat_history_start(self) -> None:
        outcome = judge(chat_history_start=at(PAID) + SECOND)
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="history_incomplete"
        )

    def test_decided_when_paid_exactly_at_the_chat_history_start(self) -> None:
        assert isinstance(judge(chat_history_start=PAID), Breach)

    def test_undecidable_when_the_buyer_could_not_be_identified(self) -> None:
        stand_in = dataclasses.replace(paid_order("o1", paid=PAID), buyer_identified=False)
        outcome = judge(orders=[stand_in])
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="buyer_unidentified"
        )

    def test_an_unidentified_buyer_s_order_is_pending_until_the_deadline(self) -> None:
        stand_in = dataclasses.replace(paid_order("o1", paid=PAID), buyer_identified=False)
        assert isinstance(judge(orders=[stand_in], watermark=D - SECOND), Pending)

    def test_a_confirmation_seen_despite_incomplete_history_still_satisfies(self) -> None:
        outcome = judge(chat_history_start=at(PAID) + SECOND, messages=[sends("m1", D)])
        assert isinstance(outcome, Satisfied)

    def test_points_and_fine_are_configurable(self) -> None:
        outcome = judge(Options(points=3, fine=2))
        assert isinstance(outcome, Breach)
        assert (outcome.points, outcome.fine) == (3, 2)


class TestAttribution:
    def test_to_the_last_agent_who_wrote_before_the_deadline_if_on_duty(self) -> None:
        messages = [sends("m0", "2026-11-02 13:50", "亲，有货的", agent="bob")]
        outcome = breach(messages=messages)
        assert (outcome.agent, outcome.shift) == ("bob", "day")
        assert outcome.evidence.last_agent_message.id == "m0"

    def test_an_automatic_message_is_no_last_writer(self) -> None:
        messages = [sends("m0", "2026-11-02 13:59", agent=None, auto=True)]
        assert (breach(messages=messages).agent, breach(messages=messages).shift) == (None, "day")

    def test_with_one_agent_on_duty_it_goes_to_that_agent(self) -> None:
        assert breach(calendar=calendar(SOLO_DAY)).agent == "alice"


class TestRecord:
    def test_defaults_are_spec_s(self) -> None:
        assert (OPTIONS.within, OPTIONS.points, OPTIONS.patterns) == (30 * MINUTE, 1, (".+",))

    def test_the_rule_is_registered_after_cs104(self) -> None:
        codes = [rule.code for rule in RULES]
        assert codes.index("CS105") == codes.index("CS104") + 1
        assert RULE.subject_type == "order"
        assert RULE.undecidable_reasons == ("history_incomplete", "buyer_unidentified")

    def test_the_evidence_reads_back_and_names_the_order(self) -> None:
        record = breach().evidence
        assert isinstance(record, UnconfirmedEvidence)
        assert UnconfirmedEvidence.from_json(record.to_json()) == record
        summary = record.summarize(ZoneInfo("Asia/Shanghai"))
        assert "order o1 paid 11-02 14:00" in summary
        assert "no message to the buyer in time" in summary

    def test_the_evidence_counts_messages_that_were_not_the_check(self) -> None:
        options = Options(patterns=("核对",))
        outcome = judge(options, messages=[sends("m1", "2026-11-02 14:01", "在的")])
        assert isinstance(outcome, Breach)
        assert "none of them the order check" in outcome.evidence.summarize(ZoneInfo("UTC"))

    def test_the_example_config_holds_the_defaults(self) -> None:
        rules = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))["rules"]
        table = TomlTable(rules["CS105"], "rules.CS105", "example.toml")
        assert options_from_table(Options, table) == OPTIONS
