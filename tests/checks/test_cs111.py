"""CS111 late for the shift: SPEC §3, both sides of every boundary."""

from __future__ import annotations

from checks.cs111_late_for_shift import RULE, LateEvidence, Options, evaluate
from checks.rule import Scope
from checks.subject import Breach, Outcome, Pending, Satisfied, Undecidable

from .shop_timeline import OFFLINE, ONLINE, SOLO, Change, sampled, shop, when

OPTIONS = Options()
ALICE_MON = "alice@day@2026-11-02"


def judge(
    *changes: Change,
    now: str = "18:00",
    known: tuple[tuple[str, str], ...] = (("00:00", "23:59"),),
    leaves: tuple[tuple[str, str, str], ...] = (),
    days_off: dict[str, frozenset[int]] | None = None,
) -> Outcome | None:
    presence = sampled(*changes, known=known)
    evidence = shop(
        presence,
        now=now,
        shifts=(SOLO,),
        leaves=leaves,
        days_off=days_off,
        since="2026-11-02 00:00",
    )
    found = {o.subject.id: o for o in evaluate(evidence, OPTIONS)}
    return found.get(ALICE_MON)


def late(first: str) -> Breach:
    outcome = judge(("alice", "07:00", OFFLINE), ("alice", first, ONLINE))
    assert isinstance(outcome, Breach), outcome
    return outcome


def test_the_record() -> None:
    assert RULE.scope is Scope.SHOP and RULE.subject_type == "attendance"
    assert (OPTIONS.points, OPTIONS.late_points, OPTIONS.absent_points) == (2, 5, 20)


def test_online_by_start_plus_grace_is_on_time() -> None:
    for first in ("07:50", "08:00", "08:30", "08:35"):
        outcome = judge(("alice", "07:00", OFFLINE), ("alice", first, ONLINE))
        assert isinstance(outcome, Satisfied), first
        assert outcome.deadline == when("08:35")


def test_an_agent_online_before_the_early_window_counts_from_its_start() -> None:
    outcome = judge(("alice", "06:00", ONLINE))
    assert isinstance(outcome, Satisfied)


def test_late_tiers_on_both_sides_of_each_boundary() -> None:
    one = late("08:35:01")
    assert (one.tier, one.points, one.agent, one.shift, one.deadline) == (
        1,
        2,
        "alice",
        "day",
        when("08:35"),
    )
    assert isinstance(one.evidence, LateEvidence)
    assert one.evidence.first_online == when("08:35:01").isoformat()
    assert (late("08:45").tier, late("08:45").points) == (1, 2)  # exactly 15 minutes late
    assert (late("08:45:01").tier, late("08:45:01").points) == (2, 5)
    assert (late("17:29").tier, late("17:29").points) == (2, 5)


def test_never_online_before_the_shift_ends_is_an_absence() -> None:
    absent = judge(("alice", "07:00", OFFLINE), ("alice", "17:30", ONLINE), now="17:30")
    assert isinstance(absent, Breach)
    assert (absent.tier, absent.points, absent.deadline) == (3, 20, when("08:35"))
    assert isinstance(absent.evidence, LateEvidence) and absent.evidence.first_online is None
    # until the shift ends (and presence is read that far) it may still be a late arrival
    assert isinstance(judge(("alice", "07:00", OFFLINE), now="17:29:59"), Pending)
    assert isinstance(judge(("alice", "07:00", OFFLINE), now="09:00"), Pending)


def test_an_agent_on_leave_at_the_start_has_no_subject() -> None:
    assert judge(("alice", "07:00", OFFLINE), leaves=(("alice", "08:00", "12:00"),)) is None
    assert judge(("alice", "07:00", OFFLINE), leaves=(("alice", "08:00", "08:30"),)) is not None
    # a leave that begins after the start does not excuse the start
    started = judge(
        ("alice", "07:00", OFFLINE),
        ("alice", "10:00", ONLINE),
        leaves=(("alice", "08:30:01", "09:00"),),
    )
    assert isinstance(started, Breach)


def test_a_day_off_has_no_subject() -> None:
    assert judge(("alice", "07:00", OFFLINE), days_off={"alice": frozenset({0})}) is None


def test_presence_must_be_known_from_the_early_window_to_the_first_login() -> None:
    changes = (("alice", "07:00", OFFLINE), ("alice", "08:50", ONLINE))
    known_late = judge(*changes, known=(("08:00:01", "23:59"),))
    assert isinstance(known_late, Undecidable) and known_late.reason == "presence_unknown"
    assert isinstance(judge(*changes, known=(("08:00", "23:59"),)), Breach)
    gap = judge(*changes, known=(("07:00", "08:40"), ("08:41", "23:59")))
    assert isinstance(gap, Undecidable)
    # on time is proven by the login itself, whatever came before
    on_time = judge(
        ("alice", "07:00", OFFLINE), ("alice", "08:32", ONLINE), known=(("08:20", "23:59"),)
    )
    assert isinstance(on_time, Satisfied)
