"""CS107 customer data disclosed (SPEC §3): timelines in shop time, day shift 08:30–17:30.

The judged message is alice's to buyer b1, Monday 10:05, so D = 10:05. 13812345678 is
nobody's number in b1's orders unless a test puts it there.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest

from checks.cs107_customer_data_disclosed import (
    RULE,
    DisclosedValue,
    DisclosureEvidence,
    Options,
    evaluate,
)
from checks.rule import Severity
from checks.subject import Breach, Outcome, Pending, Subject
from connectors.model import Message, Order
from tests.checks.timeline import (
    BUYER,
    HOUR,
    SECOND,
    TZ,
    agent_says,
    at,
    buyer_says,
    evidence,
    only,
    order,
    paid_order,
)

SENT = "2026-11-02 10:05"
D = at(SENT)
PHONE = "13812345678"
OPTIONS = Options()


def agent(
    mid: str, text: str, *, when: str = SENT, who: str | None = "alice", **kw: Any
) -> Message:
    return dataclasses.replace(agent_says(mid, when, agent=who, **kw), text=text)


def judge(
    *messages: Message,
    options: Options = OPTIONS,
    orders: tuple[Order, ...] = (),
    **kwargs: Any,
) -> list[Outcome]:
    return evaluate(evidence(messages=messages, orders=orders, **kwargs), options)


def breach(*messages: Message, **kwargs: Any) -> Breach:
    outcome = only(judge(*messages, **kwargs))
    assert isinstance(outcome, Breach), outcome
    return outcome


def disclosed(text: str, **kwargs: Any) -> tuple[DisclosedValue, ...]:
    """What alice's message ``text`` discloses: () when it is no subject."""
    outcomes = judge(agent("m1", text), **kwargs)
    if not outcomes:
        return ()
    outcome = only(outcomes)
    assert isinstance(outcome, Breach), outcome
    record = outcome.evidence
    assert isinstance(record, DisclosureEvidence)
    return record.disclosed


def phone(masked: str = "138****5678") -> tuple[DisclosedValue, ...]:
    return (DisclosedValue(kind="phone", masked=masked),)


class TestSubject:
    def test_agent_message_with_a_mobile_number_is_a_subject_keyed_by_message_id(self) -> None:
        outcome = breach(agent("m1", f"收件人电话 {PHONE}"))
        assert outcome.subject == Subject(rule="CS107", type="message", id="m1", buyer_id=BUYER)
        assert outcome.deadline == D

    def test_a_message_without_customer_data_is_no_subject(self) -> None:
        assert judge(agent("m1", "亲，已经发货了，单号请在订单里查看")) == []

    def test_a_number_in_a_buyer_message_never_counts(self) -> None:
        message = dataclasses.replace(buyer_says("q1", SENT), text=f"我朋友的电话 {PHONE}")
        assert judge(message) == []

    def test_a_number_in_an_auto_reply_never_counts(self) -> None:
        assert judge(agent("a1", f"自动回复：请联系 {PHONE}", auto=True)) == []

    def test_each_message_is_its_own_subject(self) -> None:
        messages = [agent("m1", PHONE), agent("m2", PHONE, when="2026-11-02 10:06")]
        assert [o.subject.id for o in judge(*messages)] == ["m1", "m2"]


class TestMobileNumbers:
    @pytest.mark.parametrize(
        "text",
        [
            f"电话{PHONE}谢谢",
            "138 1234 5678",
            "138-1234-5678",
            "138 - 1234 - 5678",
            "1381234 5678",
            "１３８１２３４５６７８",
            "１３８　１２３４－５６７８",
            "+86 138 1234 5678",
            "+8613812345678",
            "0086-138-1234-5678",
            f"数量 2 {PHONE}",
            f"{PHONE}。",
        ],
        ids=[
            "next-to-chinese",
            "spaces",
            "dashes",
            "spaced-dashes",
            "two-groups",
            "full-width",
            "full-width-space-and-dash",
            "plus-86-spaced",
            "plus-86-joined",
            "0086-dashed",
            "after-a-separate-digit-group",
            "before-punctuation",
        ],
    )
    def test_a_mobile_number_as_people_write_it_counts(self, text: str) -> None:
        assert disclosed(text) == phone()

    @pytest.mark.parametrize("second", "3456789")
    def test_every_second_digit_from_3_to_9_counts(self, second: str) -> None:
        assert disclosed(f"1{second}812345678") == phone(f"1{second}8****5678")

    @pytest.mark.parametrize(
        "text",
        [
            "订单号 202611021381234567890",
            f"单号{PHONE}9",
            f"9{PHONE}",
            "1381234567",
            "12812345678",
            "10812345678",
            "138.1234.5678",
            "一三八一二三四五六七八",
        ],
        ids=[
            "inside-an-order-number",
            "one-more-digit-after",
            "one-more-digit-before",
            "ten-digits",
            "second-digit-2",
            "second-digit-0",
            "dots-between-groups",
            "chinese-numerals",
        ],
    )
    def test_what_is_not_a_mobile_number(self, text: str) -> None:
        assert disclosed(text) == ()


class TestIdNumbersAndAddresses:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            ("身份证 110101199003071234", "110101********1234"),
            ("身份证 11010119900307123X", "110101********123X"),
            ("身份证 11010119900307123x。", "110101********123X"),
            ("110101 19900307 1234", "110101********1234"),
            ("１１０１０１１９９００３０７１２３Ｘ", "110101********123X"),
        ],
        ids=["digits", "upper-x", "lower-x", "spaced", "full-width"],
    )
    def test_an_id_number_counts_masked_to_its_first_6_and_last_4(
        self, text: str, masked: str
    ) -> None:
        assert disclosed(text) == (DisclosedValue(kind="id_number", masked=masked),)

    @pytest.mark.parametrize(
        "text", ["11010119900307123", "1101011990030712345", "11010119900307123Y"]
    )
    def test_seventeen_or_nineteen_digits_are_no_id_number(self, text: str) -> None:
        assert disclosed(text) == ()

    @pytest.mark.parametrize(
        "text",
        [
            "邮箱 alice@example.com",
            "邮箱 Alice@Example.COM。",
            "ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "发到alice@example.com就行",
        ],
        ids=["plain", "mixed-case", "full-width", "between-chinese"],
    )
    def test_an_email_address_counts_masked(self, text: str) -> None:
        assert disclosed(text) == (DisclosedValue(kind="email", masked="a***@example.com"),)

    def test_a_number_inside_an_address_is_the_address_only(self) -> None:
        assert disclosed(f"{PHONE}@qq.com") == (DisclosedValue(kind="email", masked="1***@qq.com"),)

    def test_every_disclosed_value_is_listed_once(self) -> None:
        text = f"{PHONE} 和 138-1234-5678，邮箱 bob@example.com，身份证 110101199003071234"
        assert disclosed(text) == (
            DisclosedValue(kind="phone", masked="138****5678"),
            DisclosedValue(kind="email", masked="b***@example.com"),
            DisclosedValue(kind="id_number", masked="110101********1234"),
        )


class TestTheRecipientsOwnData:
    def test_equal_to_the_buyer_id_never_counts(self) -> None:
        message = agent("m1", "您的账号 138-1234-5678 已登记", buyer=PHONE)
        assert judge(message, buyer=PHONE) == []

    def test_an_address_equal_to_the_buyer_id_never_counts_whatever_its_case(self) -> None:
        message = agent("m1", "已发到 Wang@Example.com", buyer="wang@example.com")
        assert judge(message, buyer="wang@example.com") == []

    def test_a_buyer_id_that_only_contains_the_number_is_not_equal(self) -> None:
        buyer_id = f"tb{PHONE}"
        outcome = only(judge(agent("m1", PHONE, buyer=buyer_id), buyer=buyer_id))
        assert isinstance(outcome, Breach)

    def test_found_in_the_buyers_order_message_never_counts(self) -> None:
        orders = (paid_order("o1", paid="2026-11-01 09:00", buyer_message="电话 138 1234 5678"),)
        assert disclosed(f"跟您确认电话 {PHONE}", orders=orders) == ()

    def test_found_in_the_seller_memo_of_a_later_version_never_counts(self) -> None:
        orders = (
            order("o1", created="2026-11-02 09:00"),
            order("o1", created="2026-11-02 09:00", updated="2026-11-02 09:30", memo=PHONE),
        )
        assert disclosed("确认手机 +86 138 1234 5678", orders=orders) == ()

    def test_an_address_found_in_the_buyers_order_is_compared_case_insensitively(self) -> None:
        orders = (paid_order("o1", paid="2026-11-01 09:00", buyer_message="发票发 WANG@qq.com"),)
        assert disclosed("发票已发到 wang@QQ.com", orders=orders) == ()

    def test_another_buyers_order_does_not_make_it_the_recipients(self) -> None:
        orders = (paid_order("o9", paid="2026-11-01 09:00", buyer_message=PHONE, buyer="b2"),)
        assert disclosed(f"收件人 {PHONE}", orders=orders) == phone()

    def test_the_buyers_own_number_does_not_excuse_someone_elses(self) -> None:
        orders = (paid_order("o1", paid="2026-11-01 09:00", buyer_message=PHONE),)
        assert disclosed(f"{PHONE} 和 13987654321", orders=orders) == phone("139****4321")


class TestAllow:
    def test_an_allowed_service_number_never_counts(self) -> None:
        options = Options(allow=("13800001111",))
        assert disclosed("售后请拨 138-0000-1111", options=options) == ()

    def test_an_allow_entry_written_with_spaces_compares_digit_for_digit(self) -> None:
        options = Options(allow=("+86 138 0000 1111",))
        assert disclosed("售后请拨 13800001111", options=options) == ()

    def test_an_allowed_address_compares_case_insensitively(self) -> None:
        options = Options(allow=("Service@Shop.example",))
        assert disclosed("邮件请发 SERVICE@shop.EXAMPLE", options=options) == ()

    def test_an_allowed_number_next_to_a_foreign_one_still_counts_the_foreign_one(self) -> None:
        options = Options(allow=("13800001111",))
        assert disclosed(f"售后 13800001111，收件人 {PHONE}", options=options) == phone()

    def test_a_number_differing_in_one_digit_from_an_allowed_one_counts(self) -> None:
        options = Options(allow=("13800001111",))
        assert disclosed("13800001112", options=options) == phone("138****1112")


class TestMasking:
    TEXT = "收件人 138 1234 5678，身份证 11010119900307123X，邮箱 zhang.san@example.com"

    def test_the_evidence_never_holds_a_value_in_full(self) -> None:
        record = breach(agent("m1", self.TEXT)).evidence
        stored = json.dumps(record.to_json(), ensure_ascii=False)
        summary = record.summarize(TZ, now=D)
        for text in (stored, summary, repr(record)):
            assert PHONE not in text and "138 1234 5678" not in text
            assert "11010119900307123X" not in text and "19900307" not in text
            assert "zhang.san" not in text
        assert record.message is not None
        assert record.message.text == (
            "收件人 138****5678，身份证 110101********123X，邮箱 z***@example.com"
        )
        assert "138****5678" in summary and "z***@example.com" in summary

    def test_allowed_and_own_values_are_masked_in_the_quote_too(self) -> None:
        options = Options(allow=("13800001111",))
        record = breach(agent("m1", f"售后 13800001111，收件人 {PHONE}"), options=options).evidence
        assert record.message is not None
        assert record.message.text == "售后 138****1111，收件人 138****5678"

    def test_the_record_reads_back(self) -> None:
        record = breach(agent("m1", self.TEXT)).evidence
        assert DisclosureEvidence.from_json(record.to_json()) == record
        zh, en = record.summarize(TZ, now=D).split("\n")
        assert "手机号 138****5678" in zh and "m1" in zh and "alice" in zh
        assert "mobile number 138****5678" in en and "ID number 110101********123X" in en


class TestDecision:
    MESSAGE = agent("m1", PHONE)

    def test_pending_while_the_chat_watermark_is_before_the_message(self) -> None:
        outcome = only(judge(self.MESSAGE, chat_watermark=D - SECOND))
        assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_pending_while_the_orders_watermark_is_before_the_message(self) -> None:
        # The buyer's orders say whose a number is: they must be complete up to D.
        outcome = only(judge(self.MESSAGE, orders_watermark=D - SECOND))
        assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_decided_with_both_watermarks_exactly_at_the_message(self) -> None:
        assert breach(self.MESSAGE, watermark=D)

    def test_the_recipients_own_number_is_no_subject_even_before_the_watermark(self) -> None:
        orders = (paid_order("o1", paid="2026-11-01 09:00", memo=PHONE),)
        assert judge(self.MESSAGE, orders=orders, watermark=D - HOUR) == []

    def test_the_default_penalty_is_a_150_yuan_fine_and_no_points(self) -> None:
        outcome = breach(self.MESSAGE)
        assert (outcome.points, outcome.fine, outcome.tier, outcome.final) == (
            0,
            Decimal(150),
            None,
            True,
        )

    def test_penalty_is_configurable(self) -> None:
        outcome = breach(self.MESSAGE, options=Options(points=10, fine=Decimal(300)))
        assert (outcome.points, outcome.fine) == (10, Decimal(300))

    def test_the_rule_is_critical_and_recorded_for_review(self) -> None:
        assert RULE.review is True
        assert RULE.severity is Severity.CRITICAL
        assert RULE.subject_type == "message"


class TestAttribution:
    def test_attributed_to_the_messages_own_agent_not_the_last_writer(self) -> None:
        messages = [
            agent("m0", "您好", when="2026-11-02 10:00", who="alice"),
            agent("m1", PHONE, who="bob"),
            agent("m2", "抱歉发错了", when="2026-11-02 10:06", who="alice"),
        ]
        outcome = only(judge(*messages))
        assert isinstance(outcome, Breach)
        assert (outcome.subject.id, outcome.agent, outcome.shift) == ("m1", "bob", "day")

    def test_attributed_to_its_agent_outside_every_shift(self) -> None:
        outcome = breach(agent("m1", PHONE, when="2026-11-02 22:00", who="carol"))
        assert (outcome.agent, outcome.shift) == ("carol", None)
