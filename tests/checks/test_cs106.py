"""CS106 blunt or rude wording (SPEC §3): timelines in shop time, day shift 08:30–17:30.

The judged message is alice's, Monday 10:05, so D = 10:05; the watermarks default to a week
later. Texts are set on the timeline's messages with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from checks.cs106_blunt_wording import (
    DEFAULT_PHRASES,
    RULE,
    BluntWordingEvidence,
    Options,
    evaluate,
)
from checks.rule import Severity
from checks.subject import Breach, Outcome, Pending, Subject
from connectors.model import Message
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
)

SENT = "2026-11-02 10:05"
D = at(SENT)
OPTIONS = Options()


def agent(mid: str, when: str, text: str, *, who: str | None = "alice", **kwargs: Any) -> Message:
    return dataclasses.replace(agent_says(mid, when, agent=who, **kwargs), text=text)


def buyer(mid: str, when: str, text: str, **kwargs: Any) -> Message:
    return dataclasses.replace(buyer_says(mid, when, **kwargs), text=text)


def judge(*messages: Message, options: Options = OPTIONS, **kwargs: Any) -> list[Outcome]:
    return evaluate(evidence(messages=messages, **kwargs), options)


def breach(*messages: Message, **kwargs: Any) -> Breach:
    outcome = only(judge(*messages, **kwargs))
    assert isinstance(outcome, Breach), outcome
    return outcome


BLUNT = agent("m1", SENT, "这个我不知道")


class TestSubject:
    def test_agent_message_with_a_phrase_is_a_subject_keyed_by_message_id(self) -> None:
        outcome = breach(BLUNT)
        assert outcome.subject == Subject(rule="CS106", type="message", id="m1", buyer_id=BUYER)
        assert outcome.deadline == D

    @pytest.mark.parametrize("phrase", DEFAULT_PHRASES)
    def test_every_default_phrase_counts(self, phrase: str) -> None:
        outcome = breach(agent("m1", SENT, f"亲，{phrase}哦"))
        assert outcome.evidence.matched == (phrase,)

    def test_the_default_phrases_are_the_specs(self) -> None:
        assert Options().phrases == (
            "不知道",
            "不清楚",
            "不行",
            "没办法",
            "自己看",
            "你自己",
            "爱买不买",
            "随便你",
            "听不懂吗",
            "说了多少遍",
        )
        assert Options().patterns == ()

    def test_a_gentle_message_is_no_subject(self) -> None:
        assert judge(agent("m1", SENT, "亲，您再对比考虑下吧，没有权限改价格哦")) == []

    def test_the_phrase_in_a_buyer_message_never_counts(self) -> None:
        assert judge(buyer("q1", SENT, "你们是不是不知道？说了多少遍了")) == []

    def test_the_phrase_in_an_auto_reply_never_counts(self) -> None:
        assert judge(agent("a1", SENT, "不清楚的请留言，不行就转人工", auto=True)) == []

    def test_each_blunt_message_is_its_own_subject(self) -> None:
        outcomes = judge(BLUNT, agent("m2", "2026-11-02 10:06", "随便你"))
        assert [o.subject.id for o in outcomes] == ["m1", "m2"]

    def test_every_phrase_and_pattern_found_is_named(self) -> None:
        options = Options(patterns=(r"滚",))
        outcome = breach(agent("m1", SENT, "不行，爱买不买，滚"), options=options)
        assert outcome.evidence.matched == ("不行", "爱买不买", "滚")


class TestMatching:
    def test_phrases_match_case_insensitively(self) -> None:
        options = Options(phrases=("Whatever",))
        assert breach(agent("m1", SENT, "WHATEVER, bye"), options=options)

    def test_full_width_text_matches_after_nfkc(self) -> None:
        options = Options(phrases=("no way",))
        assert breach(agent("m1", SENT, "ＮＯ　ＷＡＹ！"), options=options)

    def test_a_full_width_phrase_matches_ordinary_text(self) -> None:
        options = Options(phrases=("ＮＯ ＷＡＹ",))
        assert breach(agent("m1", SENT, "no way"), options=options)

    def test_a_pattern_is_searched_anywhere(self) -> None:
        options = Options(phrases=(), patterns=(r"看不懂.{0,2}吗",))
        assert breach(agent("m1", SENT, "亲，这都看不懂的吗？"), options=options)
        assert judge(agent("m2", SENT, "看得懂吗"), options=options) == []

    def test_a_pattern_is_case_insensitive(self) -> None:
        options = Options(phrases=(), patterns=(r"\bstupid\b",))
        assert breach(agent("m1", SENT, "Are you STUPID?"), options=options)

    def test_an_invalid_pattern_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not a valid regular expression"):
            Options(patterns=("(unclosed",))

    def test_a_blank_phrase_is_refused(self) -> None:
        with pytest.raises(ValueError, match="blank phrase"):
            Options(phrases=("不行", "  "))

    def test_no_phrases_and_no_patterns_match_nothing(self) -> None:
        assert judge(BLUNT, options=Options(phrases=())) == []


class TestDecision:
    def test_pending_while_the_chat_watermark_is_before_the_message(self) -> None:
        outcome = only(judge(BLUNT, chat_watermark=D - SECOND))
        assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_decided_with_the_chat_watermark_exactly_at_the_message(self) -> None:
        assert breach(BLUNT, chat_watermark=D)

    def test_the_orders_watermark_does_not_hold_it_back(self) -> None:
        assert breach(BLUNT, chat_watermark=D, orders_watermark=D - HOUR)

    def test_the_breach_is_final_with_the_default_penalty(self) -> None:
        outcome = breach(BLUNT)
        assert (outcome.points, outcome.fine, outcome.tier, outcome.final) == (
            5,
            Decimal(0),
            None,
            True,
        )

    def test_penalty_is_configurable(self) -> None:
        outcome = breach(BLUNT, options=Options(points=20, fine=Decimal(50)))
        assert (outcome.points, outcome.fine) == (20, Decimal(50))

    def test_the_rule_is_recorded_for_review_as_a_warning(self) -> None:
        assert RULE.review is True
        assert RULE.severity is Severity.WARNING
        assert RULE.subject_type == "message"


class TestAttribution:
    def test_attributed_to_the_messages_own_agent_not_the_last_writer(self) -> None:
        messages = [
            agent("m0", "2026-11-02 10:00", "您好", who="bob"),
            agent("m1", SENT, "不行", who="alice"),
            agent("m2", "2026-11-02 10:06", "抱歉，我来处理", who="bob"),
        ]
        outcome = breach(*messages)
        assert (outcome.agent, outcome.shift) == ("alice", "day")

    def test_attributed_to_its_agent_even_off_duty(self) -> None:
        outcome = breach(agent("m1", "2026-11-02 20:00", "随便你", who="carol"))
        assert (outcome.agent, outcome.shift, outcome.deadline) == (
            "carol",
            None,
            at("2026-11-02 20:00"),
        )

    def test_a_message_at_the_shift_start_is_in_that_shift(self) -> None:
        outcome = breach(agent("m1", "2026-11-02 08:30", "不知道"))
        assert outcome.shift == "day"

    def test_a_message_at_the_shift_end_is_in_that_shift(self) -> None:
        outcome = breach(agent("m1", "2026-11-02 17:30", "不知道"))
        assert outcome.shift == "day"

    def test_a_message_without_an_agent_id_is_team_level(self) -> None:
        outcome = breach(agent("m1", SENT, "不知道", who=None))
        assert (outcome.agent, outcome.shift) == (None, "day")


def conversation() -> list[Message]:
    """Five messages before the blunt one, five after, and one of another conversation."""
    before = [
        buyer("b1", "2026-11-02 10:00", "在吗"),
        agent("a1", "2026-11-02 10:01", "亲，在的", who="bob"),
        buyer("b2", "2026-11-02 10:02", "我的电话是 138 1234 5678，快递到了吗"),
        agent("a2", "2026-11-02 10:03", "自动回复：稍等", auto=True),
        buyer("b3", "2026-11-02 10:04", "怎么还没到"),
    ]
    after = [
        buyer("b4", "2026-11-02 10:06", "什么态度"),
        buyer("b5", "2026-11-02 10:07", "我要投诉，邮箱 Buyer.Wang@Example.com"),
        agent("a3", "2026-11-02 10:08", "抱歉", who="bob"),
        buyer("b6", "2026-11-02 10:09", "哼"),
        buyer("b7", "2026-11-02 10:10", "算了"),
    ]
    elsewhere = buyer("x1", "2026-11-02 10:05:30", "另一个会话", conversation="c2")
    return [*before, BLUNT, *after, elsewhere]


class TestEvidence:
    def test_the_message_and_three_messages_each_side_of_the_same_conversation(self) -> None:
        record = breach(*conversation()).evidence
        assert isinstance(record, BluntWordingEvidence)
        assert record.message is not None
        assert (record.message.id, record.message.text) == ("m1", "这个我不知道")
        assert [m.id for m in record.before] == ["b2", "a2", "b3"]
        assert [m.id for m in record.after] == ["b4", "b5", "a3"]
        assert [m.text for m in record.before][1:] == ["自动回复：稍等", "怎么还没到"]
        assert record.before[1].is_auto and record.before[0].direction == "buyer"

    def test_fewer_neighbours_are_kept_as_they_are(self) -> None:
        record = breach(buyer("b1", "2026-11-02 10:00", "在吗"), BLUNT).evidence
        assert ([m.id for m in record.before], record.after) == (["b1"], ())

    def test_the_context_masks_phone_numbers_and_addresses(self) -> None:
        outcome = breach(*conversation())
        record = outcome.evidence
        assert record.before[0].text == "我的电话是 138****5678，快递到了吗"
        assert record.after[1].text == "我要投诉，邮箱 b***@example.com"
        stored = json.dumps(record.to_json(), ensure_ascii=False)
        summary = record.summarize(TZ, now=D)
        for text in (stored, summary):
            assert "5678" not in text.replace("138****5678", "")
            assert "1234" not in text
            assert "buyer.wang" not in text.casefold()

    def test_the_judged_message_is_masked_too(self) -> None:
        outcome = breach(agent("m1", SENT, "不清楚，你自己打 13912345678 问"))
        stored = json.dumps(outcome.evidence.to_json(), ensure_ascii=False)
        summary = outcome.evidence.summarize(TZ, now=D)
        assert "139****5678" in stored
        assert all("13912345678" not in text for text in (stored, summary))

    def test_the_record_reads_back_and_names_the_message_and_the_words(self) -> None:
        record = breach(*conversation()).evidence
        assert BluntWordingEvidence.from_json(record.to_json()) == record
        zh, en = record.summarize(ZoneInfo("Asia/Shanghai"), now=D).split("\n")
        assert "「不知道」" in zh and "m1" in zh and "alice" in zh and "10:05" in zh
        assert "“不知道”" in en and "m1" in en and "before" in en
        assert record.last_agent_message is not None
        assert record.last_agent_message.id == "m1"
        assert record.watermarks is not None


def test_a_pattern_that_matches_customer_data_names_the_pattern_not_the_data() -> None:
    options = Options(phrases=(), patterns=(r"1[3-9]\d{9}",))
    record = breach(agent("m1", SENT, "你自己打 13912345678"), options=options).evidence
    assert record.matched == (r"1[3-9]\d{9}",)
    assert "13912345678" not in json.dumps(record.to_json(), ensure_ascii=False)
