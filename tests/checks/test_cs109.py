"""CS109 away from the post: SPEC §3, both sides of every boundary."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from checks.cs109_away_from_post import RULE, AbsenceEvidence, Options, evaluate
from checks.presence import PresenceSource, PresenceTimeline
from checks.rule import Scope
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

from .shop_timeline import AWAY, OFFLINE, ONLINE, SOLO, Change, by_id, sampled, shop, streamed, when

OPTIONS = Options()
AT_11 = "alice@2026-11-02T03:00:00Z"  # 11:00 in Shanghai


def judge(
    *changes: Change,
    now: str = "18:00",
    known: tuple[tuple[str, str], ...] = (("00:00", "23:59"),),
    leaves: tuple[tuple[str, str, str], ...] = (),
) -> dict[str, Outcome]:
    presence = sampled(*changes, known=known)
    return by_id(evaluate(shop(presence, now=now, shifts=(SOLO,), leaves=leaves), OPTIONS))


def test_the_record() -> None:
    assert RULE.scope is Scope.SHOP and RULE.subject_type == "absence"
    assert set(RULE.undecidable_reasons) == {"presence_unknown", "no_presence"}


def test_an_absence_of_exactly_max_is_none_one_second_more_is_a_violation() -> None:
    ok = judge(("alice", "08:31", ONLINE), ("alice", "11:00", OFFLINE), ("alice", "11:05", ONLINE))
    assert isinstance(ok[AT_11], Satisfied) and ok[AT_11].deadline == when("11:05")
    found = judge(
        ("alice", "08:31", ONLINE), ("alice", "11:00", AWAY), ("alice", "11:05:01", ONLINE)
    )
    breach = found[AT_11]
    assert isinstance(breach, Breach)
    assert (breach.agent, breach.shift, breach.points, breach.deadline) == (
        "alice",
        "day",
        5,
        when("11:05"),
    )
    assert isinstance(breach.evidence, AbsenceEvidence)
    assert breach.evidence.ended_at == when("11:05:01").isoformat()
    assert "alice" in breach.evidence.summarize(ZoneInfo("Asia/Shanghai"))


def test_time_before_the_first_login_of_the_occurrence_is_no_absence() -> None:
    found = judge(("alice", "08:00", OFFLINE), ("alice", "09:40", ONLINE))
    assert found == {}
    # already online before the shift: first online at its start
    early = judge(
        ("alice", "08:00", ONLINE), ("alice", "08:31", OFFLINE), ("alice", "08:37", ONLINE)
    )
    assert isinstance(early["alice@2026-11-02T00:31:00Z"], Breach)
    # offline exactly at the start: the occurrence's first login is the later one
    late = judge(
        ("alice", "08:00", ONLINE), ("alice", "08:30", OFFLINE), ("alice", "08:36", ONLINE)
    )
    assert late == {}


def test_time_on_leave_is_no_absence() -> None:
    on_leave = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "13:00", OFFLINE),
        ("alice", "15:00", ONLINE),
        leaves=(("alice", "13:00", "15:00"),),
    )
    assert on_leave == {}
    # an absence ends where a leave begins …
    before = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "12:54", OFFLINE),
        ("alice", "15:00", ONLINE),
        leaves=(("alice", "13:00", "15:00"),),
    )
    assert [type(o) for o in before.values()] == [Breach]  # 12:54–13:00 is 6 minutes
    assert "alice@2026-11-02T04:54:00Z" in before
    short = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "12:55", OFFLINE),
        ("alice", "15:00", ONLINE),
        leaves=(("alice", "13:00", "15:00"),),
    )
    assert [type(o) for o in short.values()] == [Satisfied]  # exactly 5 minutes
    # … and a new one starts where it ends, if the agent is not back
    after = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "13:00", OFFLINE),
        ("alice", "15:05:01", ONLINE),
        leaves=(("alice", "13:00", "15:00"),),
    )
    assert isinstance(after["alice@2026-11-02T07:00:00Z"], Breach)


def test_an_absence_ends_where_the_duty_ends() -> None:
    short = judge(("alice", "08:31", ONLINE), ("alice", "17:25", OFFLINE))
    assert [type(o) for o in short.values()] == [Satisfied]  # 17:25–17:30
    long = judge(("alice", "08:31", ONLINE), ("alice", "17:24:59", OFFLINE))
    assert [type(o) for o in long.values()] == [Breach]


def test_unknown_presence_inside_the_window_is_undecidable_never_a_violation() -> None:
    gap = (("00:00", "11:02"), ("11:04", "23:59"))
    found = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "11:00", OFFLINE),
        ("alice", "11:10", ONLINE),
        known=gap,
    )
    outcome = found[AT_11]
    assert isinstance(outcome, Undecidable) and outcome.reason == "presence_unknown"
    # unknown after D does not matter
    later_gap = (("00:00", "11:06"), ("11:08", "23:59"))
    found = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "11:00", OFFLINE),
        ("alice", "11:10", ONLINE),
        known=later_gap,
    )
    assert isinstance(found[AT_11], Breach)
    # an unknown stretch too short to hide a violation is satisfied
    short = judge(
        ("alice", "08:31", ONLINE),
        ("alice", "11:00", OFFLINE),
        ("alice", "11:03", ONLINE),
        known=gap,
    )
    assert isinstance(short[AT_11], Satisfied)


def test_it_waits_until_presence_is_read_past_the_deadline() -> None:
    changes = (("alice", "08:31", ONLINE), ("alice", "11:00", OFFLINE))
    assert isinstance(judge(*changes, now="11:05")[AT_11], Pending)
    breach = judge(*changes, now="11:05:01")[AT_11]
    assert isinstance(breach, Breach)
    assert isinstance(breach.evidence, AbsenceEvidence)
    assert breach.evidence.ended_at is None  # still away when decided
    # read only up to 11:04 although it is later: still pending
    assert isinstance(judge(*changes, now="12:00", known=(("00:00", "11:04"),))[AT_11], Pending)


def test_with_an_event_stream_an_agent_is_known_from_its_first_event() -> None:
    presence = streamed(
        ("alice", "08:31", ONLINE), ("alice", "11:00", OFFLINE), ("alice", "11:06", ONLINE)
    )
    found = by_id(evaluate(shop(presence, now="18:00", shifts=(SOLO,)), OPTIONS))
    assert isinstance(found[AT_11], Breach)


def test_a_shop_without_presence_is_counted_once() -> None:
    none = PresenceTimeline(source=PresenceSource.NONE)
    (outcome,) = evaluate(shop(none, now="18:00", shifts=(SOLO,)), OPTIONS)
    assert isinstance(outcome, Undecidable)
    assert (outcome.reason, outcome.subject.id) == ("no_presence", "no_presence")
    assert evaluate(shop(PresenceTimeline(source=None), now="18:00"), OPTIONS) == []


def test_an_occurrence_begun_before_the_evidence_is_not_judged_again() -> None:
    presence = sampled(("alice", "08:31", ONLINE), ("alice", "11:00", OFFLINE))
    ev = shop(presence, now="18:00", shifts=(SOLO,), since="2026-11-02 08:30")
    assert evaluate(ev, OPTIONS) == []
