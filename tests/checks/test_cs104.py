"""CS104 buyer kept waiting for a reply (SPEC §3): timelines in shop time.

Day shift 08:30–17:30 (alice, bob). A buyer writing Monday 10:00 starts a waiting episode
due at D = 10:03; one writing at 17:29 is due at 08:32 the next morning (the clock pauses).
"""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from checks import cs102_offline_message_not_answered_first as cs102
from checks.cs104_buyer_kept_waiting import (
    DEFAULT_IGNORE,
    RULE,
    Options,
    WaitingEvidence,
    evaluate,
)
from checks.registry import RULES
from checks.subject import Breach, Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import Message, PresenceStatus
from daemon.alerts.notice import violation_notice
from daemon.config.options import options_from_table
from daemon.config.toml_table import TomlTable
from tests.checks.timeline import (
    BUYER,
    HOUR,
    LATE,
    MINUTE,
    SECOND,
    SOLO_DAY,
    agent_says,
    at,
    buyer_says,
    calendar,
    evidence,
    only,
    presence,
)

QUESTION = "2026-11-02 10:00"
D = at("2026-11-02 10:03")
LAST_MINUTE = "2026-11-02 17:29"
OVERNIGHT_D = at("2026-11-03 08:32")
TICK = timedelta(microseconds=1)
OPTIONS = Options()
ONLINE, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.OFFLINE
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def says(mid: str, when: datetime | str, text: str) -> Message:
    """A buyer message with these words."""
    return dataclasses.replace(buyer_says(mid, when), text=text)


def judge_all(options: Options = OPTIONS, **kwargs: Any) -> list[Outcome]:
    kwargs.setdefault("messages", [buyer_says("m1", QUESTION)])
    return evaluate(evidence(**kwargs), options)


def judge(**kwargs: Any) -> Outcome:
    """The single outcome of the timeline (default: one buyer question Monday 10:00)."""
    return only(judge_all(**kwargs))


def breach(**kwargs: Any) -> Breach:
    outcome = judge(**kwargs)
    assert isinstance(outcome, Breach), outcome
    return outcome


def answered_at(reply: datetime, **kwargs: Any) -> Outcome:
    return judge(messages=[buyer_says("m1", QUESTION), agent_says("r1", reply)], **kwargs)


class TestEpisodes:
    def test_a_message_in_coverage_opens_an_episode_keyed_by_its_id(self) -> None:
        outcome = judge()
        assert outcome.subject == Subject(rule="CS104", type="episode", id="m1", buyer_id=BUYER)
        assert outcome.deadline == D

    def test_within_is_configurable(self) -> None:
        outcome = only(judge_all(Options(within=5 * MINUTE)))
        assert outcome.deadline == at("2026-11-02 10:05")

    def test_later_messages_join_the_episode_keyed_by_the_first(self) -> None:
        outcome = breach(
            messages=[
                buyer_says("m1", QUESTION),
                buyer_says("m2", "2026-11-02 10:02"),
                buyer_says("m3", "2026-11-02 10:20"),
            ]
        )
        assert outcome.subject.id == "m1"
        assert outcome.deadline == D
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2", "m3"]

    def test_the_next_agent_message_ends_it_and_a_later_message_opens_another(self) -> None:
        outcomes = judge_all(
            messages=[
                buyer_says("m1", QUESTION),
                agent_says("r1", "2026-11-02 10:02"),
                buyer_says("m2", "2026-11-02 11:00"),
            ]
        )
        by_id = {o.subject.id: o for o in outcomes}
        assert set(by_id) == {"m1", "m2"}
        assert isinstance(by_id["m1"], Satisfied)
        assert isinstance(by_id["m2"], Breach)
        assert by_id["m2"].deadline == at("2026-11-02 11:03")

    def test_an_auto_reply_neither_answers_nor_splits_the_episode(self) -> None:
        outcome = breach(
            messages=[
                buyer_says("m1", QUESTION),
                agent_says("a1", "2026-11-02 10:00:05", auto=True),
                buyer_says("m2", "2026-11-02 10:01"),
            ]
        )
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2"]

    def test_an_agent_message_before_the_question_does_not_answer_it(self) -> None:
        outcome = judge(messages=[agent_says("r0", "2026-11-02 09:59"), buyer_says("m1", QUESTION)])
        assert isinstance(outcome, Breach)

    def test_messages_of_another_buyer_are_not_this_buyers_episode(self) -> None:
        assert judge_all(messages=[buyer_says("m1", QUESTION, buyer="b2")]) == []


class TestAnswer:
    def test_reply_exactly_at_the_deadline_satisfies(self) -> None:
        assert isinstance(answered_at(D), Satisfied)

    def test_reply_one_second_after_the_deadline_is_a_tier_one_breach(self) -> None:
        outcome = answered_at(D + SECOND)
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points, outcome.final) == (1, 5, True)
        assert outcome.evidence.lateness_seconds == 1

    def test_reply_in_the_same_second_as_the_question_satisfies(self) -> None:
        assert isinstance(answered_at(at(QUESTION)), Satisfied)

    def test_an_auto_reply_at_the_deadline_does_not_answer(self) -> None:
        outcome = judge(messages=[buyer_says("m1", QUESTION), agent_says("a1", D, auto=True)])
        assert isinstance(outcome, Breach)

    def test_reply_in_another_conversation_of_the_same_buyer_answers(self) -> None:
        outcome = judge(
            messages=[buyer_says("m1", QUESTION), agent_says("r1", D, conversation="c2")]
        )
        assert isinstance(outcome, Satisfied)

    def test_reply_to_another_buyer_does_not_answer(self) -> None:
        outcome = judge(messages=[buyer_says("m1", QUESTION), agent_says("r1", D, buyer="b2")])
        assert isinstance(outcome, Breach)

    def test_reply_in_time_satisfies_before_the_watermarks_reach_the_deadline(self) -> None:
        outcome = answered_at(at("2026-11-02 10:01"), watermark="2026-11-02 10:02")
        assert isinstance(outcome, Satisfied)


class TestTiers:
    @pytest.mark.parametrize(
        ("late", "tier", "points"),
        [
            (SECOND, 1, 5),
            (10 * MINUTE, 1, 5),
            (10 * MINUTE + SECOND, 2, 10),
            (30 * MINUTE, 2, 10),
            (30 * MINUTE + SECOND, 3, 20),
            (5 * HOUR, 3, 20),
        ],
        ids=["1s", "10m", "10m1s", "30m", "30m1s", "5h"],
    )
    def test_an_answer_fixes_the_tier_by_its_lateness(
        self, late: timedelta, tier: int, points: int
    ) -> None:
        outcome = answered_at(D + late)
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points, outcome.final) == (tier, points, True)
        assert outcome.evidence.lateness_seconds == late.total_seconds()
        assert outcome.evidence.reply.id == "r1"
        assert outcome.recheck_at is None

    @pytest.mark.parametrize(
        ("complete", "tier", "points", "final", "recheck_at"),
        [
            (D, 1, 5, False, D + 10 * MINUTE + TICK),
            (D + 10 * MINUTE, 1, 5, False, D + 10 * MINUTE + TICK),
            (D + 10 * MINUTE + SECOND, 2, 10, False, D + 30 * MINUTE + TICK),
            (D + 30 * MINUTE, 2, 10, False, D + 30 * MINUTE + TICK),
            (D + 30 * MINUTE + SECOND, 3, 20, True, None),
            (D + 24 * HOUR, 3, 20, True, None),
        ],
        ids=["at-D", "10m", "10m1s", "30m", "30m1s", "a-day"],
    )
    def test_unanswered_it_escalates_in_place_as_the_watermarks_advance(
        self,
        complete: datetime,
        tier: int,
        points: int,
        final: bool,
        recheck_at: datetime | None,
    ) -> None:
        outcome = breach(watermark=complete)
        assert (outcome.subject.id, outcome.deadline) == ("m1", D)
        assert (outcome.tier, outcome.points, outcome.final) == (tier, points, final)
        assert outcome.recheck_at == recheck_at
        assert outcome.evidence.reply is None

    def test_pending_while_either_watermark_is_before_the_deadline(self) -> None:
        for orders_mark, chat_mark in [(D - SECOND, D + HOUR), (D + HOUR, D - SECOND)]:
            outcome = judge(orders_watermark=orders_mark, chat_watermark=chat_mark)
            assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_lateness_while_unanswered_runs_until_now(self) -> None:
        outcome = breach(watermark=D + HOUR, now=D + 20 * MINUTE)
        assert (outcome.tier, outcome.points, outcome.final) == (2, 10, False)

    def test_a_reply_beyond_the_watermark_is_not_yet_an_answer(self) -> None:
        messages = [buyer_says("m1", QUESTION), agent_says("r1", D + 15 * MINUTE)]
        before = breach(messages=messages, watermark=D + 12 * MINUTE)
        assert (before.tier, before.final, before.evidence.reply) == (2, False, None)
        after = breach(messages=messages, watermark=D + 16 * MINUTE)
        assert (after.subject, after.tier, after.final) == (before.subject, 2, True)

    def test_a_late_answer_is_final_at_its_tier_however_far_the_watermarks_move(self) -> None:
        messages = [buyer_says("m1", QUESTION), agent_says("r1", D + 5 * MINUTE)]
        outcome = breach(messages=messages, watermark=D + 24 * HOUR)
        assert (outcome.tier, outcome.points, outcome.final) == (1, 5, True)

    def test_tier_limits_and_points_are_configurable(self) -> None:
        options = Options(tier_limits=(5 * MINUTE,), tier_points=(3, 7))
        messages = [buyer_says("m1", QUESTION), agent_says("r1", D + 6 * MINUTE)]
        outcome = only(evaluate(evidence(messages=messages), options))
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points) == (2, 7)

    def test_tier_points_must_match_the_limits(self) -> None:
        with pytest.raises(ValueError, match="one more entry"):
            Options(tier_limits=(MINUTE,), tier_points=(1, 2, 3))

    def test_no_fine_by_default(self) -> None:
        assert breach().fine == Decimal(0)


EXEMPT = [
    "好的",
    "好",
    "嗯",
    "谢谢",
    "谢了",
    "收到",
    "知道了",
    "ok",
    "okay",
    "thanks",
    "thank you",
    "bye",
    "拜拜",
    "OK",
    "Thank You!!",
    "ＯＫ！",
    "ｏｋａｙ",
    "好的～😊",
    "谢谢！",
    "谢谢。",
    "收到👌",
    "好的，谢谢！",
    "嗯嗯",
    "ok thanks 👍",
    "  好的  ",
    "拜拜~~",
    "👍",
    "👍🏻",
    "❤️",
    "🙏🙏",
    "🇨🇳",
    "～～",
    "。。。",
    "？",
    "^_^",
    "…",
]
NEEDS_AN_ANSWER = [
    "好的，什么时候发货？",
    "好吗",
    "不好",
    "好贵",
    "ok吗",
    "谢谢亲",
    "在吗",
    "thanks, but where is it?",
    "1",
    "",
]


class TestIgnore:
    @pytest.mark.parametrize("text", EXEMPT)
    def test_an_episode_of_closing_words_or_emoji_only_is_exempt(self, text: str) -> None:
        assert judge_all(messages=[says("m1", QUESTION, text)]) == []

    @pytest.mark.parametrize("text", NEEDS_AN_ANSWER)
    def test_other_words_need_an_answer(self, text: str) -> None:
        assert isinstance(judge(messages=[says("m1", QUESTION, text)]), Breach)

    def test_several_closing_messages_are_still_exempt(self) -> None:
        messages = [says("m1", QUESTION, "好的"), says("m2", "2026-11-02 10:01", "谢谢！😊")]
        assert judge_all(messages=messages) == []

    def test_a_question_joining_before_the_deadline_makes_the_episode_need_an_answer(
        self,
    ) -> None:
        messages = [says("m1", QUESTION, "好的"), says("m2", D, "还有，什么时候发货？")]
        outcome = breach(messages=messages)
        assert (outcome.subject.id, outcome.deadline) == ("m1", D)
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2"]

    def test_a_question_after_the_closing_words_deadline_starts_its_own_episode(self) -> None:
        messages = [
            says("m1", QUESTION, "好的"),
            says("m2", D + SECOND, "还有，什么时候发货？"),
            agent_says("r1", D + SECOND + 3 * MINUTE),
        ]
        outcome = judge(messages=messages)
        assert isinstance(outcome, Satisfied)
        assert outcome.subject.id == "m2"
        assert outcome.deadline == D + SECOND + 3 * MINUTE

    def test_thanks_then_a_question_the_next_day_is_judged_from_the_question(self) -> None:
        messages = [
            buyer_says("m0", "2026-11-02 09:58"),
            agent_says("r0", "2026-11-02 09:59"),
            says("m1", QUESTION, "谢谢"),
            buyer_says("m2", "2026-11-03 09:00"),
        ]
        answered, outcome = judge_all(messages=messages)
        assert (answered.subject.id, type(answered)) == ("m0", Satisfied)
        assert isinstance(outcome, Breach)
        assert (outcome.subject.id, outcome.deadline) == ("m2", at("2026-11-03 09:03"))
        assert [m.id for m in outcome.evidence.episode] == ["m2"]

    def test_closing_words_join_an_episode_without_exempting_it(self) -> None:
        messages = [buyer_says("m1", QUESTION), says("m2", "2026-11-02 10:01", "好的")]
        assert breach(messages=messages).subject.id == "m1"

    def test_a_configured_list_replaces_the_defaults(self) -> None:
        options = Options(ignore=("没事了",))
        assert judge_all(options, messages=[says("m1", QUESTION, "没事了")]) == []
        assert isinstance(only(judge_all(options, messages=[says("m1", QUESTION, "好的")])), Breach)

    def test_an_empty_list_exempts_nothing(self) -> None:
        outcome = only(judge_all(Options(ignore=()), messages=[says("m1", QUESTION, "👍")]))
        assert isinstance(outcome, Breach)

    def test_patterns_keep_their_upper_case_escapes(self) -> None:
        options = Options(ignore=(r"\D+",))
        assert judge_all(options, messages=[says("m1", QUESTION, "好的呢")]) == []
        assert isinstance(only(judge_all(options, messages=[says("m1", QUESTION, "123")])), Breach)

    def test_a_pattern_is_matched_against_the_whole_trimmed_text(self) -> None:
        options = Options(ignore=("好的",))
        assert judge_all(options, messages=[says("m1", QUESTION, " 好的 ")]) == []
        outcome = only(judge_all(options, messages=[says("m1", QUESTION, "好的吗")]))
        assert isinstance(outcome, Breach)

    def test_an_invalid_pattern_is_refused_naming_it(self) -> None:
        with pytest.raises(ValueError, match="not a valid regular expression"):
            Options(ignore=("好的(",))


class TestOfflineIsCS102s:
    def test_a_message_outside_coverage_opens_no_episode(self) -> None:
        assert judge_all(messages=[buyer_says("m1", "2026-11-02 23:12")]) == []

    def test_a_message_in_coverage_while_no_agent_is_online_opens_no_episode(self) -> None:
        samples = [presence("alice", OFFLINE, "2026-11-02 08:00")]
        assert judge_all(presence_samples=samples) == []

    def test_a_message_in_coverage_while_an_agent_is_online_opens_one(self) -> None:
        samples = [presence("alice", ONLINE, "2026-11-02 08:00")]
        assert judge(presence_samples=samples).subject.id == "m1"

    def test_messages_in_coverage_join_the_open_offline_episode_and_count_once(self) -> None:
        messages = [
            buyer_says("m1", "2026-11-02 23:12"),
            buyer_says("m2", "2026-11-03 09:00"),
            buyer_says("m3", "2026-11-03 09:30"),
        ]
        ev = evidence(messages=messages)
        assert evaluate(ev, OPTIONS) == []
        offline = only(cs102.evaluate(ev, cs102.Options()))
        assert isinstance(offline, Breach)
        assert [m.id for m in offline.evidence.episode] == ["m1", "m2", "m3"]

    def test_after_the_offline_episode_is_answered_a_new_question_is_cs104s(self) -> None:
        messages = [
            buyer_says("m1", "2026-11-02 23:12"),
            agent_says("r1", "2026-11-03 08:35"),
            buyer_says("m2", "2026-11-03 09:00"),
        ]
        outcome = judge(messages=messages)
        assert (outcome.subject.id, outcome.deadline) == ("m2", at("2026-11-03 09:03"))

    def test_an_offline_message_before_the_deadline_hands_the_wait_to_cs102(self) -> None:
        messages = [
            buyer_says("m1", LAST_MINUTE),
            buyer_says("m2", "2026-11-02 20:00"),
            agent_says("r1", "2026-11-03 09:00"),
        ]
        ev = evidence(messages=messages)
        assert only(evaluate(ev, OPTIONS)) == Satisfied(
            subject=Subject(rule="CS104", type="episode", id="m1", buyer_id=BUYER),
            deadline=OVERNIGHT_D,
        )
        offline = only(cs102.evaluate(ev, cs102.Options()))
        assert isinstance(offline, Breach)
        assert (offline.subject.id, offline.tier) == ("m2", 2)
        assert [m.id for m in offline.evidence.episode] == ["m2"]

    def test_an_offline_message_after_the_deadline_ends_the_lateness_there(self) -> None:
        # Everyone goes offline at 10:15; the buyer writes again at 10:20 (offline): CS104
        # was 17 min late by then, and the wait from 10:20 is CS102's alone.
        messages = [
            buyer_says("m1", QUESTION),
            buyer_says("m2", "2026-11-02 10:20"),
            agent_says("r1", "2026-11-02 11:00"),
        ]
        samples = [
            presence("alice", ONLINE, "2026-11-02 08:30"),
            presence("alice", OFFLINE, "2026-11-02 10:15"),
        ]
        ev = evidence(messages=messages, presence_samples=samples)
        waiting = only(evaluate(ev, OPTIONS))
        assert isinstance(waiting, Breach)
        assert (waiting.tier, waiting.points, waiting.final) == (2, 10, True)
        assert waiting.evidence.lateness_seconds == 17 * 60
        assert waiting.evidence.handed_over.id == "m2"
        assert [m.id for m in waiting.evidence.episode] == ["m1"]
        offline = only(cs102.evaluate(ev, cs102.Options()))
        assert isinstance(offline, Breach)
        assert [m.id for m in offline.evidence.episode] == ["m2"]

    def test_a_handover_beyond_the_watermark_does_not_end_it_yet(self) -> None:
        messages = [buyer_says("m1", QUESTION), buyer_says("m2", "2026-11-02 10:20")]
        samples = [presence("alice", OFFLINE, "2026-11-02 10:15")]
        outcome = breach(messages=messages, presence_samples=samples, watermark="2026-11-02 10:10")
        assert (outcome.final, outcome.evidence.handed_over) == (False, None)


class TestStraddlingTheEndOfCoverage:
    def test_the_clock_pauses_overnight(self) -> None:
        outcome = judge(messages=[buyer_says("m1", LAST_MINUTE)])
        assert outcome.deadline == OVERNIGHT_D

    @pytest.mark.parametrize(
        "reply", ["2026-11-02 17:45", "2026-11-03 08:00", "2026-11-03 08:32"], ids=str
    )
    def test_an_answer_after_hours_or_by_the_deadline_is_in_time(self, reply: str) -> None:
        messages = [buyer_says("m1", LAST_MINUTE), agent_says("r1", reply)]
        assert isinstance(judge(messages=messages), Satisfied)

    def test_an_answer_one_second_after_the_deadline_is_late(self) -> None:
        messages = [buyer_says("m1", LAST_MINUTE), agent_says("r1", OVERNIGHT_D + SECOND)]
        outcome = judge(messages=messages)
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.deadline) == (1, OVERNIGHT_D)

    def test_pending_overnight(self) -> None:
        outcome = judge(messages=[buyer_says("m1", LAST_MINUTE)], watermark="2026-11-03 08:00")
        assert isinstance(outcome, Pending)

    def test_lateness_past_the_deadline_is_wall_time(self) -> None:
        # D = 17:03; answered at 08:31 the next morning: 15 h 28 min late, tier 3.
        messages = [buyer_says("m1", "2026-11-02 17:00"), agent_says("r1", "2026-11-03 08:31")]
        outcome = judge(messages=messages)
        assert isinstance(outcome, Breach)
        assert (outcome.deadline, outcome.tier) == (at("2026-11-02 17:03"), 3)


class TestAttribution:
    def test_to_the_last_agent_who_wrote_before_the_deadline_if_on_duty(self) -> None:
        messages = [
            agent_says("r0", "2026-11-02 09:50", agent="bob"),
            buyer_says("m1", QUESTION),
            agent_says("r1", D + MINUTE, agent="alice"),
        ]
        outcome = breach(messages=messages)
        assert (outcome.agent, outcome.shift) == ("bob", "day")
        assert outcome.evidence.last_agent_message.id == "r0"

    def test_a_message_exactly_at_the_deadline_is_an_answer_not_a_last_writer(self) -> None:
        messages = [buyer_says("m1", QUESTION), agent_says("r1", D, agent="bob")]
        assert isinstance(judge(messages=messages), Satisfied)

    def test_with_two_agents_on_duty_and_no_writer_it_goes_to_the_shift(self) -> None:
        assert (breach().agent, breach().shift) == (None, "day")

    def test_with_one_agent_on_duty_it_goes_to_that_agent(self) -> None:
        outcome = breach(calendar=calendar(SOLO_DAY))
        assert (outcome.agent, outcome.shift) == ("alice", "day")

    def test_a_last_writer_off_duty_at_the_deadline_gives_way_to_the_one_on_duty(self) -> None:
        messages = [agent_says("r0", "2026-11-02 00:30", agent="dave"), buyer_says("m1", QUESTION)]
        outcome = breach(messages=messages, calendar=calendar(SOLO_DAY, LATE))
        assert outcome.agent == "alice"
        assert outcome.evidence.last_agent_message.id == "r0"

    def test_it_is_read_at_the_deadline_the_next_morning(self) -> None:
        # bob wrote at 17:00 and is on duty again at D = 08:32: the violation is his.
        messages = [
            agent_says("r0", "2026-11-02 17:00", agent="bob"),
            buyer_says("m1", LAST_MINUTE),
        ]
        outcome = breach(messages=messages)
        assert (outcome.deadline, outcome.agent) == (OVERNIGHT_D, "bob")


class TestHistory:
    def test_an_episode_starting_before_the_chat_history_start_is_undecidable(self) -> None:
        outcome = judge(chat_history_start=at(QUESTION) + SECOND)
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="history_incomplete"
        )

    def test_an_episode_starting_exactly_at_the_history_start_is_decided(self) -> None:
        assert isinstance(judge(chat_history_start=QUESTION), Breach)

    def test_re_reading_the_same_messages_gives_the_same_verdict(self) -> None:
        messages = [buyer_says("m1", QUESTION), buyer_says("m2", "2026-11-02 10:01")]
        once = breach(messages=messages, watermark=D + 15 * MINUTE)
        twice = breach(messages=messages * 2, watermark=D + 15 * MINUTE)
        assert (twice.subject, twice.tier, twice.points, twice.deadline) == (
            once.subject,
            once.tier,
            once.points,
            once.deadline,
        )


class TestRecord:
    def test_defaults_are_spec_s(self) -> None:
        assert (OPTIONS.within, OPTIONS.tier_limits, OPTIONS.tier_points, OPTIONS.fine) == (
            3 * MINUTE,
            (10 * MINUTE, 30 * MINUTE),
            (5, 10, 20),
            Decimal(0),
        )
        assert OPTIONS.ignore == DEFAULT_IGNORE

    def test_the_rule_is_registered_after_cs103_and_speaks_of_buyer_messages(self) -> None:
        codes = [rule.code for rule in RULES]
        assert codes.index("CS104") == codes.index("CS103") + 1
        assert (RULE.subject_type, RULE.subject_words) == (
            "episode",
            ("买家消息", "buyer's message"),
        )
        assert RULE.undecidable_reasons == ("history_incomplete",)

    def test_a_notice_calls_the_subject_a_buyer_message_not_an_offline_one(self) -> None:
        notice = violation_notice(
            shop="s",
            breach=breach(),
            violation_id=1,
            escalated=False,
            detected_at=D,
            now=D,
            timezone=ZoneInfo("Asia/Shanghai"),
            url=None,
        )
        assert "买家消息 m1" in notice.title and "buyer's message m1" in notice.description
        assert "离线留言" not in notice.title

    def test_the_evidence_reads_back_and_tells_how_the_wait_ended(self) -> None:
        messages = [buyer_says("m1", QUESTION), buyer_says("m2", "2026-11-02 10:20")]
        samples = [presence("alice", OFFLINE, "2026-11-02 10:15")]
        record = breach(messages=messages, presence_samples=samples).evidence
        assert isinstance(record, WaitingEvidence)
        assert WaitingEvidence.from_json(record.to_json()) == record
        summary = record.summarize(ZoneInfo("Asia/Shanghai"))
        assert "转为离线留言 m2" in summary and "17 min late" in summary

    def test_the_example_config_holds_the_defaults(self) -> None:
        rules = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))["rules"]
        table = TomlTable(rules["CS104"], "rules.CS104", "example.toml")
        assert options_from_table(Options, table) == OPTIONS
