"""The monthly score, grade, pay and flags of SPEC §4, as a pure function of records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from daemon.scoring.month import Month
from daemon.scoring.render import scorecard_json
from daemon.scoring.scorecard import AgentRecord

from .support import (
    HIRED_MID_OCTOBER,
    NOVEMBER,
    POLICY,
    adjustment,
    bonus,
    card,
    scored,
    violation,
)


@pytest.mark.parametrize(
    ("score", "pay"),
    [(80, 0), (91, 110), (68, -120)],
    ids=["甲 80 → 0", "乙 91 → +110", "丙 68 → −120"],
)
def test_the_sources_worked_examples(score: int, pay: int) -> None:
    (a1,) = scored(score).agents
    assert (a1.score, a1.pay_adjustment) == (score, Decimal(pay))


def test_68_from_six_unchased_orders() -> None:
    (a1,) = card(violations=[violation(points=2) for _ in range(6)]).agents
    assert (a1.points_deducted, a1.score, a1.grade, a1.pay_adjustment) == (12, 68, "D", -120)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (110, "A"),
        (91, "A"),
        (90, "B"),
        (80, "B"),
        (79, "C"),
        (70, "C"),
        (69, "D"),
        (65, "D"),
        (64, "E"),
        (60, "E"),
        (59, "E"),
        (20, "E"),
    ],
)
def test_every_grade_boundary(score: int, grade: str) -> None:
    (a1,) = scored(score).agents
    assert (a1.score, a1.grade) == (score, grade)


def test_the_score_is_capped_at_110_and_the_pay_at_300() -> None:
    (a1,) = card(bonuses=[bonus() for _ in range(7)], adjustments=[adjustment(value=5)]).agents
    assert (a1.bonus, a1.score, a1.pay_adjustment) == (35, 110, 300)
    assert "capped" in a1.flags
    (low,) = scored(40).agents
    assert low.pay_adjustment == -300


def test_exactly_110_is_not_flagged_as_capped() -> None:
    (a1,) = scored(110).agents
    assert a1.score == 110 and "capped" not in a1.flags


def test_the_adjustment_counts_and_its_reason_is_kept() -> None:
    (a1,) = card(adjustments=[adjustment(value=-5, reason="late reports")]).agents
    assert (a1.score, a1.adjustment, a1.adjustment_reason) == (75, -5, "late reports")


def test_an_adjustment_outside_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="±5"):
        card(adjustments=[adjustment(value=6)])


@pytest.mark.parametrize(
    ("month", "probation"),
    [(Month(2026, 9), True), (Month(2026, 10), True), (NOVEMBER, True), (Month(2026, 12), False)],
)
def test_probation_is_the_month_of_hiring_and_the_next(month: Month, probation: bool) -> None:
    violations = [violation(points=12, deadline=f"{month}-10 10:00")]
    (a1,) = card(violations=violations, agents=[HIRED_MID_OCTOBER], month=month).agents
    assert a1.score == 68, "the score is kept on probation; only the pay does not float"
    assert a1.probation is probation
    assert a1.pay_adjustment == (0 if probation else -120)
    assert ("probation" in a1.flags) is probation


def test_an_agent_hired_after_the_month_is_not_on_its_card() -> None:
    later = AgentRecord(id="a2", hired=date(2026, 12, 1))
    assert [a.agent for a in card(agents=[AgentRecord(id="a1"), later]).agents] == ["a1"]


def test_a_score_below_60_is_flagged_for_dismissal_review() -> None:
    (a1,) = scored(59).agents
    assert {"low_score", "dismissal_review"} <= set(a1.flags)
    (ok,) = scored(60).agents
    assert "dismissal_review" not in ok.flags


def test_last_place_below_70_two_months_in_a_row_is_flagged() -> None:
    agents = [AgentRecord(id="a1"), AgentRecord(id="a2")]
    this_month = [violation("a1", points=12)]  # a1 68, a2 80
    flagged = card(violations=this_month, agents=agents, previous=[{"a1": 66, "a2": 75}])
    assert {"last_place_below_70", "dismissal_review"} <= set(flagged.agent("a1").flags)
    assert flagged.agent("a2").flags == ()


@pytest.mark.parametrize(
    "last_month",
    [{"a1": 72, "a2": 75}, {"a1": 66, "a2": 60}, {"a2": 60}],
    ids=["was 70 or more", "was not last", "was not on the card"],
)
def test_last_place_flag_needs_both_months(last_month: dict[str, int]) -> None:
    agents = [AgentRecord(id="a1"), AgentRecord(id="a2")]
    result = card(violations=[violation("a1", points=12)], agents=agents, previous=[last_month])
    assert "dismissal_review" not in result.agent("a1").flags


def test_the_shop_may_flag_anybody_below_70_twice_not_only_the_last() -> None:
    anybody = replace(POLICY, score=replace(POLICY.score, last_place_only=False))
    agents = [AgentRecord(id="a1"), AgentRecord(id="a2")]
    result = card(
        violations=[violation("a1", points=12)],
        agents=agents,
        previous=[{"a1": 66, "a2": 60}],
        policy=anybody,
    )
    assert "last_place_below_70" in result.agent("a1").flags


def test_a_waived_violation_counts_nowhere() -> None:
    (a1,) = card(
        violations=[
            violation(points=2, fine="5"),
            violation(points=20, fine="100", status="waived"),
            violation(points=2, fine="5", status="confirmed"),
        ]
    ).agents
    assert (a1.violations, a1.points_deducted, a1.score, a1.fines) == (2, 4, 76, 10)


def test_team_level_violations_belong_to_no_agent() -> None:
    result = card(violations=[violation(None, points=2), violation("a1", points=2)])
    assert result.agent("a1").points_deducted == 2
    assert (result.team_violations, result.team_points) == (1, 2)


def test_a_violation_belongs_to_the_local_month_of_its_deadline() -> None:
    # 2026-12-01 00:30 in Shanghai is still November 30 in UTC.
    late = violation(points=2, deadline="2026-12-01 00:30")
    early = violation(points=3, deadline="2026-11-01 00:10")
    (a1,) = card(violations=[late, early]).agents
    assert a1.points_deducted == 3
    (december,) = card(violations=[late, early], month=Month(2026, 12)).agents
    assert december.points_deducted == 2


def test_a_departed_agent_with_records_keeps_a_row() -> None:
    result = card(violations=[violation("gone", points=2)])
    assert [a.agent for a in result.agents] == ["a1", "gone"]
    assert result.agent("gone").score == 78


def test_the_handover_ladder_30_50_80_then_pay_withheld_then_dismissal() -> None:
    handovers = [
        violation(rule="CS108", points=0, fine="30", deadline=f"2026-11-{day:02d} 23:59", id=day)
        for day in range(1, 6)
    ]
    (three,) = card(violations=handovers[:3]).agents
    assert (three.fines, three.flags) == (160, ())
    (four,) = card(violations=handovers[:4]).agents
    assert four.fines == 160 and "pay_withheld" in four.flags
    assert "dismissal_review" not in four.flags
    (five,) = card(violations=handovers).agents
    assert {"pay_withheld", "ladder_dismissal", "dismissal_review"} <= set(five.flags)


def test_complaints_cost_100_doubling_within_the_month() -> None:
    complaints = [
        violation(rule="M403", points=0, deadline=f"2026-11-{day:02d} 12:00") for day in (3, 9, 20)
    ]
    assert card(violations=complaints[:1]).agents[0].fines == 100
    (two,) = card(violations=complaints[:2]).agents
    assert (two.fines, two.flags) == (300, ())
    (three,) = card(violations=complaints).agents
    assert three.fines == 700 and "dismissal_review" in three.flags
    # A new month starts the ladder again.
    october = violation(rule="M403", points=0, deadline="2026-10-31 12:00")
    assert card(violations=[october, *complaints[:1]]).agents[0].fines == 100


def test_ladders_count_only_counted_violations_in_deadline_order() -> None:
    waived = violation(rule="M403", points=0, status="waived", deadline="2026-11-01 12:00")
    later = violation(rule="M403", points=0, deadline="2026-11-20 12:00")
    earlier = violation(rule="M403", points=0, deadline="2026-11-05 12:00")
    assert card(violations=[later, waived, earlier]).agents[0].fines == 300


def test_a_bad_month_adds_the_duty_escalation_once() -> None:
    light = [violation(rule=code, points=2) for code in ("M201", "M202", "M203")]
    (three,) = card(violations=light).agents
    assert (three.points_deducted, three.flags) == (6, ())
    (four,) = card(violations=[*light, violation(rule="M210", points=2)]).agents
    assert four.points_deducted == 8 + 20 and "duty_escalation" in four.flags
    moderate = [violation(rule=code, points=10) for code in ("M215", "M220")]
    (two,) = card(violations=moderate).agents
    assert two.points_deducted == 20 + 20
    # The same code twice is one item, not two.
    (same,) = card(violations=[moderate[0], moderate[0]]).agents
    assert same.points_deducted == 20


def test_a_dismissal_offence_is_flagged_whatever_the_score() -> None:
    (a1,) = card(violations=[violation(rule="M229", points=0)]).agents
    assert a1.score == 80 and {"dismissal_offence", "dismissal_review"} <= set(a1.flags)


def test_the_json_shape_is_the_contract() -> None:
    result = scorecard_json(card(violations=[violation(points=2, fine="5.5")]))
    assert set(result) >= {"month", "agents"}
    assert result["month"] == "2026-11"
    (a1,) = result["agents"]
    assert set(a1) >= {
        "agent",
        "score",
        "grade",
        "points_deducted",
        "bonus",
        "adjustment",
        "pay_adjustment",
        "fines",
        "flags",
    }
    assert (a1["score"], a1["pay_adjustment"], a1["fines"], a1["flags"]) == (78, -20, 5.5, [])
