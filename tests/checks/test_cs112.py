"""CS112 worked too long without a break: SPEC §3, both sides of every boundary."""

from __future__ import annotations

from decimal import Decimal

from checks.cs112_worked_too_long import RULE, Options, StintEvidence, evaluate
from checks.rule import Scope
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

from .shop_timeline import DAY, OFFLINE, ONLINE, Change, by_id, sampled, shop, when

OPTIONS = Options()
ALICE_8 = "alice@2026-11-02T00:00:00Z"  # 08:00 in Shanghai


def judge(
    *changes: Change,
    now: str = "23:59",
    known: tuple[tuple[str, str], ...] = (("00:00", "23:59"),),
) -> dict[str, Outcome]:
    presence = sampled(("alice", "00:00", OFFLINE), *changes, known=known, roster=("alice",))
    evidence = shop(presence, now=now, shifts=(DAY,), since="2026-11-02 00:00")
    return by_id(evaluate(evidence, OPTIONS))


def test_the_record_and_the_break_key() -> None:
    assert RULE.scope is Scope.SHOP and RULE.subject_type == "stint"
    assert OPTIONS.break_.total_seconds() == 1800 and OPTIONS.max.total_seconds() == 8 * 3600


def test_eight_hours_is_allowed_one_second_more_is_recorded_at_team_level() -> None:
    ok = judge(("alice", "08:00", ONLINE), ("alice", "16:00", OFFLINE))
    assert isinstance(ok[ALICE_8], Satisfied) and ok[ALICE_8].deadline == when("16:00")
    found = judge(("alice", "08:00", ONLINE), ("alice", "16:00:01", OFFLINE))
    breach = found[ALICE_8]
    assert isinstance(breach, Breach)
    assert (breach.agent, breach.points, breach.fine, breach.deadline) == (
        None,
        0,
        Decimal(0),
        when("16:00"),
    )
    assert isinstance(breach.evidence, StintEvidence) and breach.evidence.agent == "alice"
    assert breach.shift == "day"


def test_a_gap_shorter_than_the_break_does_not_end_the_stint() -> None:
    found = judge(
        ("alice", "08:00", ONLINE),
        ("alice", "12:00", OFFLINE),
        ("alice", "12:29:59", ONLINE),
        ("alice", "16:01", OFFLINE),
    )
    assert isinstance(found[ALICE_8], Breach)
    rested = judge(
        ("alice", "08:00", ONLINE),
        ("alice", "12:00", OFFLINE),
        ("alice", "12:30", ONLINE),
        ("alice", "16:01", OFFLINE),
    )
    assert isinstance(rested[ALICE_8], Satisfied)
    assert isinstance(rested["alice@2026-11-02T04:30:00Z"], Satisfied)


def test_a_short_gap_across_the_deadline_keeps_the_stint_going() -> None:
    found = judge(
        ("alice", "08:00", ONLINE),
        ("alice", "15:55", OFFLINE),
        ("alice", "16:10", ONLINE),
        ("alice", "17:00", OFFLINE),
    )
    assert isinstance(found[ALICE_8], Breach)


def test_it_waits_while_the_stint_may_go_on() -> None:
    assert isinstance(judge(("alice", "08:00", ONLINE), now="15:00")[ALICE_8], Pending)
    stopped = judge(("alice", "08:00", ONLINE), ("alice", "15:00", OFFLINE), now="15:29")
    assert isinstance(stopped[ALICE_8], Pending)  # the break is not over yet
    stopped = judge(("alice", "08:00", ONLINE), ("alice", "15:00", OFFLINE), now="15:30")
    assert isinstance(stopped[ALICE_8], Satisfied)
    assert isinstance(judge(("alice", "08:00", ONLINE), now="16:00:01")[ALICE_8], Breach)


def test_unknown_presence_in_the_stint_is_undecidable() -> None:
    gap = (("00:00", "11:00"), ("11:01", "23:59"))
    found = judge(("alice", "08:00", ONLINE), ("alice", "17:00", OFFLINE), known=gap)
    # the unknown minute splits nothing (shorter than the break) but hides the status
    outcome = found[ALICE_8]
    assert isinstance(outcome, Undecidable) and outcome.reason == "presence_unknown"


def test_a_stint_begun_within_a_break_of_the_evidence_start_is_not_judged() -> None:
    presence = sampled(("alice", "00:10", ONLINE), roster=("alice",))
    evidence = shop(presence, now="23:59", shifts=(DAY,), since="2026-11-02 00:00")
    assert evaluate(evidence, OPTIONS) == []
