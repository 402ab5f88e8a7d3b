"""CS108 handover not written: SPEC §3, both sides of every boundary."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from checks.business_time import Shift
from checks.cs108_handover_not_written import RULE, MissingHandoverEvidence, Options, evaluate
from checks.presence import PresenceTimeline
from checks.rule import Scope
from checks.subject import Breach, Outcome, Pending, Satisfied

from .shop_timeline import NIGHT, SOLO, by_id, kinds, shift, shop, when

OPTIONS = Options()
NO_PRESENCE = PresenceTimeline(source=None)  # CS108 needs none
NIGHT_MON = "night@2026-11-02"
# the night shift of Monday ends Tuesday 00:00; D = 00:15


def night(
    *,
    now: str,
    notes: tuple[tuple[str, str, str], ...] = (),
    shifts: tuple[Shift, ...] = (NIGHT,),
    history_start: str = "2026-11-01 00:00",
    days_off: dict[str, frozenset[int]] | None = None,
) -> dict[str, Outcome]:
    evidence = shop(
        NO_PRESENCE,
        now=now,
        shifts=shifts,
        notes=notes,
        history_start=history_start,
        days_off=days_off,
        team=True,
    )
    return by_id(evaluate(evidence, OPTIONS))


def test_it_is_the_teams_rule() -> None:
    assert RULE.scope is Scope.TEAM and RULE.subject_type == "shift"
    assert (OPTIONS.grace.total_seconds(), OPTIONS.points) == (900, 5)
    assert OPTIONS.fine == Decimal(30)


def test_a_note_written_by_the_deadline_satisfies_and_one_after_it_does_not() -> None:
    at_d = night(now="2026-11-03 01:00", notes=(("night", "2026-11-02", "2026-11-03 00:15"),))
    assert isinstance(at_d[NIGHT_MON], Satisfied)
    assert at_d[NIGHT_MON].deadline == when("2026-11-03 00:15")
    late = night(now="2026-11-03 01:00", notes=(("night", "2026-11-02", "2026-11-03 00:15:01"),))
    breach = late[NIGHT_MON]
    assert isinstance(breach, Breach)
    assert breach.deadline == when("2026-11-03 00:15")
    assert (breach.agent, breach.shift, breach.points) == ("carol", "night", 5)
    assert breach.fine == Decimal(30)
    assert isinstance(breach.evidence, MissingHandoverEvidence)
    assert breach.subject.buyer_id == "" and breach.final
    assert [n.written_at for n in breach.evidence.late_notes] == [
        when("2026-11-03 00:15:01").isoformat()
    ]
    text = breach.evidence.summarize(ZoneInfo("Asia/Shanghai"))
    assert "night" in text and "no handover note" in text


def test_a_note_written_early_counts_and_so_does_one_for_that_occurrence_only() -> None:
    early = night(now="2026-11-03 01:00", notes=(("night", "2026-11-02", "2026-11-02 18:00"),))
    assert isinstance(early[NIGHT_MON], Satisfied)
    other_day = night(now="2026-11-03 01:00", notes=(("night", "2026-11-01", "2026-11-02 23:00"),))
    assert isinstance(other_day[NIGHT_MON], Breach)


def test_it_waits_for_the_clock_not_for_a_watermark() -> None:
    assert isinstance(night(now="2026-11-03 00:14:59")[NIGHT_MON], Pending)
    assert isinstance(night(now="2026-11-03 00:15")[NIGHT_MON], Pending)  # D itself: still due
    assert isinstance(night(now="2026-11-03 00:15:01")[NIGHT_MON], Breach)
    assert isinstance(night(now="2026-11-02 20:00")[NIGHT_MON], Pending)  # the shift runs


def test_occurrences_that_ended_before_the_history_start_are_not_judged() -> None:
    ended_before = night(now="2026-11-03 01:00", history_start="2026-11-03 00:00")
    assert NIGHT_MON not in ended_before
    ended_after = night(now="2026-11-03 01:00", history_start="2026-11-02 23:59:59")
    assert isinstance(ended_after[NIGHT_MON], Breach)


def test_a_day_nobody_of_the_shift_works_has_no_subject() -> None:
    monday_off = night(now="2026-11-03 01:00", days_off={"carol": frozenset({0})})
    assert NIGHT_MON not in monday_off


def test_a_shift_without_handover_has_no_subject() -> None:
    quiet = shift("night", "17:30", "00:00", "carol", handover=False)
    assert night(now="2026-11-03 01:00", shifts=(quiet,)) == {}


def test_attribution_handover_by_then_the_only_agent_then_the_team() -> None:
    duo = shift("day", "08:30", "17:30", "alice", "bob", handover_by="bob")
    found = night(now="2026-11-02 18:00", shifts=(duo,))["day@2026-11-02"]
    assert isinstance(found, Breach) and found.agent == "bob" and found.fine == 30
    bob_off = night(now="2026-11-02 18:00", shifts=(duo,), days_off={"bob": frozenset({0})})
    found = bob_off["day@2026-11-02"]
    assert isinstance(found, Breach) and found.agent == "alice"  # the only one on duty
    nobody = shift("day", "08:30", "17:30", "alice", "bob")
    found = night(now="2026-11-02 18:00", shifts=(nobody,))["day@2026-11-02"]
    assert isinstance(found, Breach)
    assert (found.agent, found.shift, found.points, found.fine) == (None, "day", 5, Decimal(0))
    solo = night(now="2026-11-02 18:00", shifts=(SOLO,))["day@2026-11-02"]
    assert isinstance(solo, Breach) and solo.agent == "alice"


def test_each_occurrence_is_its_own_subject() -> None:
    found = kinds(
        evaluate(
            shop(NO_PRESENCE, now="2026-11-03 18:00", shifts=(NIGHT,), team=True),
            OPTIONS,
        )
    )
    assert found == {
        "night@2026-11-01": "Breach",
        "night@2026-11-02": "Breach",
        "night@2026-11-03": "Pending",
    }
