"""CS102 offline message not answered first (SPEC §3): timelines in shop time.

Day shift 08:30–17:30 (alice, bob). A buyer writing Monday 23:12 is offline; the episode's
deadline is D = Tuesday 08:40 (next shift start + 10 min).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from checks.cs102_offline_message_not_answered_first import Options, evaluate
from checks.subject import Breach, Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import PresenceStatus
from tests.checks.timeline import (
    BUYER,
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
    presence,
)

NIGHT_MESSAGE = "2026-11-02 23:12"
D = at("2026-11-03 08:40")
TICK = timedelta(microseconds=1)
OPTIONS = Options()
ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


def judge_all(**kwargs: Any) -> list[Outcome]:
    kwargs.setdefault("messages", [buyer_says("m1", NIGHT_MESSAGE)])
    return evaluate(evidence(**kwargs), OPTIONS)


def judge(**kwargs: Any) -> Outcome:
    """The single outcome of the timeline (default: one buyer message Monday 23:12)."""
    return only(judge_all(**kwargs))


def breach(**kwargs: Any) -> Breach:
    outcome = judge(**kwargs)
    assert isinstance(outcome, Breach), outcome
    return outcome


def answered_at(reply: datetime, **kwargs: Any) -> Outcome:
    return judge(messages=[buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", reply)], **kwargs)


class TestOfflineByCoverage:
    def test_message_outside_coverage_opens_an_episode_keyed_by_its_id(self) -> None:
        outcome = judge()
        assert outcome.subject == Subject(rule="CS102", type="episode", id="m1", buyer_id=BUYER)

    def test_message_inside_coverage_without_presence_data_is_not_offline(self) -> None:
        assert judge_all(messages=[buyer_says("m1", "2026-11-02 10:00")]) == []

    def test_message_exactly_at_shift_start_is_not_offline(self) -> None:
        assert judge_all(messages=[buyer_says("m1", "2026-11-02 08:30")]) == []

    def test_message_one_second_before_shift_start_is_offline(self) -> None:
        outcome = judge(messages=[buyer_says("m1", "2026-11-02 08:29:59")])
        assert outcome.deadline == at("2026-11-02 08:40")

    def test_message_one_second_before_shift_end_is_not_offline(self) -> None:
        assert judge_all(messages=[buyer_says("m1", "2026-11-02 17:29:59")]) == []

    def test_message_exactly_at_shift_end_is_offline(self) -> None:
        outcome = judge(messages=[buyer_says("m1", "2026-11-02 17:30")])
        assert outcome.deadline == at("2026-11-03 08:40")

    def test_night_message_is_due_ten_minutes_after_the_next_shift_start(self) -> None:
        assert judge().deadline == D

    def test_within_is_configurable(self) -> None:
        outcome = only(
            evaluate(
                evidence(messages=[buyer_says("m1", NIGHT_MESSAGE)]), Options(within=5 * MINUTE)
            )
        )
        assert outcome.deadline == at("2026-11-03 08:35")

    def test_message_after_midnight_inside_a_shift_crossing_midnight_is_not_offline(
        self,
    ) -> None:
        cal = calendar(LATE)
        assert judge_all(messages=[buyer_says("m1", "2026-11-03 00:59:59")], calendar=cal) == []

    def test_message_at_the_end_of_a_shift_crossing_midnight_is_offline(self) -> None:
        outcome = judge(messages=[buyer_says("m1", "2026-11-03 01:00")], calendar=calendar(LATE))
        assert outcome.deadline == at("2026-11-03 16:10")

    def test_message_outside_coverage_is_offline_even_if_an_agent_is_online(self) -> None:
        outcome = judge(presence_samples=[presence("alice", ONLINE, "2026-11-02 08:00")])
        assert outcome.deadline == D


class TestOfflineByPresence:
    def test_message_in_coverage_while_no_agent_is_online_is_offline(self) -> None:
        outcome = judge(
            messages=[buyer_says("m1", "2026-11-02 10:00")],
            presence_samples=[
                presence("alice", OFFLINE, "2026-11-02 08:00"),
                presence("bob", AWAY, "2026-11-02 09:00"),
            ],
        )
        assert outcome.subject.id == "m1"
        assert outcome.deadline == at("2026-11-02 10:10")

    def test_message_in_coverage_while_an_agent_is_online_is_not_offline(self) -> None:
        outcomes = judge_all(
            messages=[buyer_says("m1", "2026-11-02 10:00")],
            presence_samples=[
                presence("alice", OFFLINE, "2026-11-02 08:00"),
                presence("bob", ONLINE, "2026-11-02 09:00"),
            ],
        )
        assert outcomes == []

    def test_agent_going_offline_exactly_when_the_message_arrives_makes_it_offline(
        self,
    ) -> None:
        outcome = judge(
            messages=[buyer_says("m1", "2026-11-02 10:00")],
            presence_samples=[
                presence("alice", ONLINE, "2026-11-02 08:00"),
                presence("alice", OFFLINE, "2026-11-02 10:00"),
            ],
        )
        assert outcome.subject.id == "m1"

    def test_presence_unknown_before_the_first_sample_falls_back_to_coverage(self) -> None:
        outcomes = judge_all(
            messages=[buyer_says("m1", "2026-11-02 10:00")],
            presence_samples=[presence("alice", OFFLINE, "2026-11-02 11:00")],
        )
        assert outcomes == []


class TestEpisodes:
    def test_several_offline_messages_form_one_episode_keyed_by_the_first(self) -> None:
        outcome = judge(
            messages=[
                buyer_says("m1", NIGHT_MESSAGE),
                buyer_says("m2", "2026-11-02 23:15"),
                buyer_says("m3", "2026-11-03 07:00"),
            ]
        )
        assert isinstance(outcome, Breach)
        assert outcome.subject.id == "m1"
        assert outcome.deadline == D
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2", "m3"]

    def test_buyer_messages_inside_coverage_join_an_open_episode(self) -> None:
        outcome = breach(
            messages=[buyer_says("m1", NIGHT_MESSAGE), buyer_says("m2", "2026-11-03 08:35")]
        )
        assert outcome.subject.id == "m1"
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2"]

    def test_agent_reply_closes_the_episode_and_a_later_offline_message_opens_a_new_one(
        self,
    ) -> None:
        outcomes = judge_all(
            messages=[
                buyer_says("m1", NIGHT_MESSAGE),
                agent_says("r1", "2026-11-03 08:35"),
                buyer_says("m2", "2026-11-03 23:00"),
            ]
        )
        by_id = {o.subject.id: o for o in outcomes}
        assert set(by_id) == {"m1", "m2"}
        assert isinstance(by_id["m1"], Satisfied)
        assert isinstance(by_id["m2"], Breach)
        assert by_id["m2"].deadline == at("2026-11-04 08:40")

    def test_buyer_message_in_coverage_after_a_reply_opens_no_episode(self) -> None:
        outcome = judge(
            messages=[
                buyer_says("m1", NIGHT_MESSAGE),
                agent_says("r1", "2026-11-03 08:35"),
                buyer_says("m2", "2026-11-03 09:00"),
            ]
        )
        assert isinstance(outcome, Satisfied)
        assert outcome.subject.id == "m1"

    def test_auto_reply_neither_answers_nor_splits_the_episode(self) -> None:
        outcome = breach(
            messages=[
                buyer_says("m1", NIGHT_MESSAGE),
                agent_says("a1", "2026-11-02 23:12:05", auto=True),
                buyer_says("m2", "2026-11-02 23:15"),
                agent_says("a2", "2026-11-03 08:30", auto=True),
            ]
        )
        assert outcome.subject.id == "m1"
        assert [m.id for m in outcome.evidence.episode] == ["m1", "m2"]

    def test_agent_message_before_the_offline_message_does_not_answer_it(self) -> None:
        outcome = judge(
            messages=[agent_says("r0", "2026-11-02 17:00"), buyer_says("m1", NIGHT_MESSAGE)]
        )
        assert isinstance(outcome, Breach)


class TestAnswer:
    def test_reply_exactly_at_deadline_satisfies(self) -> None:
        assert isinstance(answered_at(D), Satisfied)

    def test_reply_one_second_after_deadline_is_a_tier_one_breach(self) -> None:
        outcome = answered_at(D + SECOND)
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points, outcome.final) == (1, 5, True)

    def test_reply_in_the_same_second_as_the_message_satisfies(self) -> None:
        assert isinstance(answered_at(at(NIGHT_MESSAGE)), Satisfied)

    def test_reply_at_night_before_the_shift_satisfies(self) -> None:
        assert isinstance(answered_at(at("2026-11-03 02:00")), Satisfied)

    def test_auto_reply_does_not_answer(self) -> None:
        outcome = judge(messages=[buyer_says("m1", NIGHT_MESSAGE), agent_says("a1", D, auto=True)])
        assert isinstance(outcome, Breach)

    def test_reply_in_another_conversation_of_the_same_buyer_answers(self) -> None:
        outcome = judge(
            messages=[buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", D, conversation="c2")]
        )
        assert isinstance(outcome, Satisfied)

    def test_reply_to_another_buyer_does_not_answer(self) -> None:
        outcome = judge(messages=[buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", D, buyer="b2")])
        assert isinstance(outcome, Breach)

    def test_reply_satisfies_before_the_watermarks_reach_the_deadline(self) -> None:
        outcome = answered_at(at("2026-11-03 08:31"), watermark="2026-11-03 08:32")
        assert isinstance(outcome, Satisfied)


class TestTiersWhenAnswered:
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
    def test_lateness_tiers(self, late: timedelta, tier: int, points: int) -> None:
        outcome = answered_at(D + late)
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points, outcome.final) == (tier, points, True)
        assert outcome.evidence.lateness_seconds == late.total_seconds()
        assert outcome.evidence.reply.id == "r1"

    def test_lateness_is_wall_time_after_the_deadline(self) -> None:
        # Offline by presence at 17:15 → D = 17:25; answered 08:35 next morning: 15 h 10 min.
        outcome = judge(
            messages=[buyer_says("m1", "2026-11-02 17:15"), agent_says("r1", "2026-11-03 08:35")],
            presence_samples=[presence("alice", OFFLINE, "2026-11-02 08:00")],
        )
        assert isinstance(outcome, Breach)
        assert outcome.deadline == at("2026-11-02 17:25")
        assert outcome.tier == 3

    def test_tier_limits_and_points_are_configurable(self) -> None:
        options = Options(tier_limits=(5 * MINUTE,), tier_points=(3, 7))
        messages = [buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", D + 6 * MINUTE)]
        outcome = only(evaluate(evidence(messages=messages), options))
        assert isinstance(outcome, Breach)
        assert (outcome.tier, outcome.points, outcome.final) == (2, 7, True)

    def test_tier_points_must_match_the_limits(self) -> None:
        with pytest.raises(ValueError, match="one more entry"):
            Options(tier_limits=(MINUTE,), tier_points=(1, 2, 3))


class TestEscalationWhileUnanswered:
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
    def test_escalates_in_place_as_watermarks_advance(
        self,
        complete: datetime,
        tier: int,
        points: int,
        final: bool,
        recheck_at: datetime | None,
    ) -> None:
        outcome = breach(watermark=complete)
        assert outcome.subject.id == "m1"
        assert outcome.deadline == D
        assert (outcome.tier, outcome.points, outcome.final) == (tier, points, final)
        assert outcome.recheck_at == recheck_at
        assert outcome.evidence.reply is None

    def test_pending_while_either_watermark_is_before_the_deadline(self) -> None:
        for orders_mark, chat_mark in [(D - SECOND, D + HOUR), (D + HOUR, D - SECOND)]:
            outcome = judge(orders_watermark=orders_mark, chat_watermark=chat_mark)
            assert outcome == Pending(subject=outcome.subject, deadline=D)

    def test_lagging_watermark_holds_escalation_back(self) -> None:
        outcome = breach(orders_watermark=D + 5 * MINUTE, chat_watermark=D + HOUR)
        assert (outcome.tier, outcome.final) == (1, False)

    def test_lateness_while_unanswered_runs_until_now(self) -> None:
        outcome = breach(watermark=D + HOUR, now=D + 20 * MINUTE)
        assert (outcome.tier, outcome.points, outcome.final) == (2, 10, False)

    def test_reply_beyond_the_watermark_is_not_yet_an_answer(self) -> None:
        messages = [buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", D + 5 * MINUTE)]
        before = breach(messages=messages, watermark=D + 2 * MINUTE)
        assert (before.tier, before.final) == (1, False)
        assert before.evidence.reply is None
        after = breach(messages=messages, watermark=D + 6 * MINUTE)
        assert (after.subject, after.tier, after.final) == (before.subject, 1, True)

    def test_late_answer_is_final_at_its_tier_however_far_the_watermarks_move(self) -> None:
        messages = [buyer_says("m1", NIGHT_MESSAGE), agent_says("r1", D + 15 * MINUTE)]
        outcome = breach(messages=messages, watermark=D + 24 * HOUR)
        assert (outcome.tier, outcome.points, outcome.final) == (2, 10, True)
        assert outcome.recheck_at is None


class TestHistoryAndBreach:
    def test_episode_starting_before_chat_history_start_is_undecidable(self) -> None:
        outcome = judge(chat_history_start=at(NIGHT_MESSAGE) + SECOND)
        assert outcome == Undecidable(
            subject=outcome.subject, deadline=D, reason="history_incomplete"
        )

    def test_episode_starting_exactly_at_chat_history_start_is_decided(self) -> None:
        assert isinstance(judge(chat_history_start=NIGHT_MESSAGE), Breach)

    def test_breach_has_no_fine_by_default(self) -> None:
        assert breach().fine == Decimal(0)

    def test_breach_is_attributed_to_the_last_agent_who_wrote_if_on_duty_at_deadline(
        self,
    ) -> None:
        outcome = breach(
            messages=[
                agent_says("r0", "2026-11-02 15:00", agent="bob"),
                buyer_says("m1", NIGHT_MESSAGE),
            ]
        )
        assert (outcome.agent, outcome.shift) == ("bob", "day")
        assert outcome.evidence.last_agent_message.id == "r0"

    def test_breach_with_two_agents_on_duty_and_no_writer_goes_to_the_shift(self) -> None:
        outcome = breach()
        assert (outcome.agent, outcome.shift) == (None, "day")

    def test_re_reading_the_same_messages_twice_gives_the_same_verdict(self) -> None:
        messages = [buyer_says("m1", NIGHT_MESSAGE), buyer_says("m2", "2026-11-02 23:15")]
        once = breach(messages=messages, watermark=D + 15 * MINUTE)
        twice = breach(messages=messages * 2, watermark=D + 15 * MINUTE)
        assert (twice.subject, twice.tier, twice.points, twice.deadline) == (
            once.subject,
            once.tier,
            once.points,
            once.deadline,
        )
