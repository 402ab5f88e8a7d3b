"""CS110 nobody reachable: SPEC §3, both sides of every boundary."""

from __future__ import annotations

from checks.cs110_nobody_reachable import RULE, NobodyOnlineEvidence, Options, evaluate
from checks.presence import PresenceSource, PresenceTimeline
from checks.rule import Scope, Severity
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

from .shop_timeline import DAY, OFFLINE, ONLINE, Change, by_id, sampled, shop, streamed, when

OPTIONS = Options()
AT_14 = "2026-11-02T06:00:00Z"  # 14:00 in Shanghai
MORNING = (("alice", "08:20", ONLINE), ("bob", "08:00", OFFLINE))


def judge(
    *changes: Change,
    now: str = "18:00",
    known: tuple[tuple[str, str], ...] = (("00:00", "23:59"),),
    leaves: tuple[tuple[str, str, str], ...] = (),
) -> dict[str, Outcome]:
    presence = sampled(*changes, known=known, roster=("alice", "bob"))
    evidence = shop(presence, now=now, shifts=(DAY,), leaves=leaves, since="2026-11-02 00:00")
    return by_id(evaluate(evidence, OPTIONS))


def test_the_record() -> None:
    assert RULE.scope is Scope.SHOP and RULE.severity is Severity.CRITICAL
    assert RULE.review and RULE.lasting and RULE.scorecard_flags == ("dismissal_review",)
    assert (OPTIONS.points, OPTIONS.max.total_seconds()) == (0, 300)


def test_five_minutes_with_nobody_online_is_none_one_second_more_is_a_violation() -> None:
    ok = judge(*MORNING, ("alice", "14:00", OFFLINE), ("alice", "14:05", ONLINE))
    assert isinstance(ok[AT_14], Satisfied) and ok[AT_14].deadline == when("14:05")
    found = judge(*MORNING, ("alice", "14:00", OFFLINE), ("alice", "14:05:01", ONLINE))
    breach = found[AT_14]
    assert isinstance(breach, Breach)
    assert (breach.deadline, breach.points, breach.final) == (when("14:05"), 0, True)
    assert breach.ended_at == when("14:05:01")
    assert breach.agent is None and breach.shift == "day"  # two on duty: the team's
    assert isinstance(breach.evidence, NobodyOnlineEvidence)
    assert breach.evidence.on_duty == ("alice", "bob")


def test_it_is_attributed_to_the_only_agent_on_duty_not_on_leave() -> None:
    found = judge(
        *MORNING,
        ("alice", "14:00", OFFLINE),
        ("alice", "14:30", ONLINE),
        leaves=(("bob", "13:00", "15:00"),),
    )
    breach = found[AT_14]
    assert isinstance(breach, Breach) and breach.agent == "alice"


def test_while_nobody_is_online_the_violation_stays_open_and_ends_when_somebody_is() -> None:
    changes = (*MORNING, ("alice", "14:00", OFFLINE))
    assert isinstance(judge(*changes, now="14:05")[AT_14], Pending)
    ongoing = judge(*changes, now="14:05:01")[AT_14]
    assert isinstance(ongoing, Breach)
    assert (ongoing.final, ongoing.ended_at) == (False, None)
    ended = judge(*changes, ("bob", "14:20", ONLINE), now="14:30")[AT_14]
    assert isinstance(ended, Breach)
    assert (ended.final, ended.ended_at) == (True, when("14:20"))


def test_only_coverage_counts() -> None:
    evening = judge(
        ("alice", "08:20", ONLINE), ("bob", "08:00", OFFLINE), ("alice", "17:25", OFFLINE)
    )
    assert [type(o) for o in evening.values()] == [Satisfied]  # 17:25–17:30, then closed
    longer = judge(
        ("alice", "08:20", ONLINE), ("bob", "08:00", OFFLINE), ("alice", "17:24", OFFLINE)
    )
    (breach,) = longer.values()
    assert isinstance(breach, Breach) and breach.ended_at == when("17:30")
    nobody_at_night = judge(("alice", "08:20", ONLINE), ("alice", "17:30", OFFLINE))
    assert nobody_at_night == {}


def test_nobody_online_at_the_shift_start_counts_from_the_start() -> None:
    found = judge(("alice", "08:00", OFFLINE), ("bob", "08:35:01", ONLINE))
    assert isinstance(found["2026-11-02T00:30:00Z"], Breach)
    found = judge(("alice", "08:00", OFFLINE), ("bob", "08:35", ONLINE))
    assert isinstance(found["2026-11-02T00:30:00Z"], Satisfied)


def test_unknown_presence_is_undecidable_never_a_violation() -> None:
    gap = (("00:00", "14:03"), ("14:04", "23:59"))
    found = judge(*MORNING, ("alice", "14:00", OFFLINE), ("alice", "14:30", ONLINE), known=gap)
    outcome = found[AT_14]
    assert isinstance(outcome, Undecidable) and outcome.reason == "presence_unknown"


def test_with_an_event_stream_an_agent_not_seen_yet_keeps_it_unknown() -> None:
    unseen_bob = streamed(
        ("alice", "08:20", ONLINE), ("alice", "14:00", OFFLINE), ("alice", "14:30", ONLINE)
    )
    found = by_id(evaluate(shop(unseen_bob, now="18:00", since="2026-11-02 00:00"), OPTIONS))
    assert isinstance(found[AT_14], Undecidable)
    both = streamed(
        ("alice", "08:20", ONLINE),
        ("bob", "08:00", OFFLINE),
        ("alice", "14:00", OFFLINE),
        ("alice", "14:30", ONLINE),
    )
    found = by_id(evaluate(shop(both, now="18:00", since="2026-11-02 00:00"), OPTIONS))
    assert isinstance(found[AT_14], Breach)


def test_a_shop_without_presence_is_counted_once() -> None:
    none = PresenceTimeline(source=PresenceSource.NONE)
    (outcome,) = evaluate(shop(none, now="18:00"), OPTIONS)
    assert isinstance(outcome, Undecidable) and outcome.reason == "no_presence"


def test_without_shifts_the_shop_is_always_covered_and_a_cut_stretch_is_not_judged() -> None:
    presence = sampled(
        ("alice", "00:00", OFFLINE),
        ("alice", "09:00", ONLINE),
        ("alice", "21:00", OFFLINE),
        known=(("00:00", "23:59"),),
        roster=("alice",),
    )
    evidence = shop(presence, now="23:59", shifts=(), since="2026-11-02 00:00")
    found = by_id(evaluate(evidence, OPTIONS))
    # nobody online since before the evidence begins: judged earlier, not again
    assert "2026-11-01T16:00:00Z" not in found
    assert isinstance(found["2026-11-02T13:00:00Z"], Breach)  # 21:00, still nobody
