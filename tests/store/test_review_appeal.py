"""SPEC §4 review and appeal in the ledger, on SQLite and PostgreSQL.

A rule recorded for review starts its violations in ``review``; a supervisor confirms or
waives them. The attributed agent may appeal an open violation once, within the appeal
window; a supervisor decides it (both ways with a reason). Every change is in the audit
trail, and one a status does not allow is a conflict naming why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.evidence_record import GenericEvidence
from checks.registry import BY_CODE
from checks.subject import Breach, Subject
from daemon.errors import BadInput, Conflict, NotFound
from daemon.store.ledger import Ledger

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def review_rule(monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered rule recorded for review (whatever the registry holds today)."""
    rule = dataclasses.replace(BY_CODE["CS101"], code="CS990", review=True)
    monkeypatch.setitem(BY_CODE, "CS990", rule)
    return "CS990"


def breach(rule: str = "CS101", subject_id: str = "o-1", agent: str | None = "a1") -> Breach:
    return Breach(
        subject=Subject(rule=rule, type="order", id=subject_id, buyer_id="b-1"),
        deadline=T0,
        agent=agent,
        shift="day",
        tier=None,
        points=2,
        fine=Decimal(0),
        final=True,
        evidence=GenericEvidence(),
    )


async def recorded(ledger: Ledger, rule: str = "CS101", agent: str | None = "a1") -> int:
    return (await ledger.record("s", breach(rule, agent=agent), T0)).violation_id


async def test_a_rule_for_review_records_in_review_and_others_open(
    engine: AsyncEngine, review_rule: str
) -> None:
    ledger = Ledger(engine)
    reviewed = await recorded(ledger, review_rule)
    plain = await recorded(ledger)
    assert (await ledger.get(reviewed))["status"] == "review"
    assert (await ledger.get(plain))["status"] == "open"
    assert await ledger.status_counts() == [("s", review_rule, "review", 1)]


async def test_a_supervisor_confirms_or_waives_a_review(
    engine: AsyncEngine, review_rule: str
) -> None:
    ledger = Ledger(engine)
    first, second = await recorded(ledger, review_rule), None
    second = (await ledger.record("s", breach(review_rule, "o-2"), T0)).violation_id
    confirmed = await ledger.set_status(first, "confirmed", by="Chen", reason="", now=T0)
    assert confirmed["status"] == "confirmed"
    assert confirmed["audit"][-1]["details"] == {"from": "review"}
    with pytest.raises(BadInput, match="reason"):
        await ledger.set_status(second, "waived", by="Chen", reason="", now=T0)
    waived = await ledger.set_status(second, "waived", by="Chen", reason="sarcasm", now=T0)
    assert waived["status"] == "waived"
    with pytest.raises(Conflict, match="only an open one"):
        await ledger.appeal(first, by="a1", reason="x", now=T0)


async def test_an_agent_appeals_an_open_violation_once(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    vid = await recorded(ledger)
    with pytest.raises(BadInput, match="reason"):
        await ledger.appeal(vid, by="a1", reason=" ", now=T0)
    with pytest.raises(BadInput, match="only a1"):
        await ledger.appeal(vid, by="a2", reason="not me", now=T0)
    appealed = await ledger.appeal(vid, by="a1", reason="the buyer had paid", now=T0)
    assert appealed["status"] == "appealed"
    assert appealed["audit"][-1] == {
        "at": T0.isoformat(),
        "action": "appealed",
        "by": "a1",
        "reason": "the buyer had paid",
        "details": {"from": "open"},
    }
    assert await ledger.status_counts() == [("s", "CS101", "appealed", 1)]
    with pytest.raises(Conflict, match="appealed already"):
        await ledger.appeal(vid, by="a1", reason="again", now=T0)
    # a supervisor decides it, with a reason either way
    with pytest.raises(BadInput, match="decide an appeal"):
        await ledger.set_status(vid, "confirmed", by="Chen", reason="", now=T0)
    upheld = await ledger.set_status(
        vid, "confirmed", by="Chen", reason="chat shows no chase", now=T0
    )
    assert upheld["status"] == "confirmed"
    with pytest.raises(Conflict, match="appealed already"):
        await ledger.appeal(vid, by="a1", reason="once more", now=T0)


async def test_after_an_appeal_is_decided_there_is_no_second_appeal(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    vid = await recorded(ledger)
    await ledger.appeal(vid, by="a1", reason="r", now=T0)
    await ledger.set_status(vid, "waived", by="Chen", reason="agreed", now=T0)
    with pytest.raises(Conflict):
        await ledger.appeal(vid, by="a1", reason="r", now=T0)


@pytest.mark.parametrize(
    ("after", "allowed"),
    [(timedelta(days=7), True), (timedelta(days=7, seconds=1), False)],
)
async def test_the_appeal_window_is_seven_days_from_detection(
    engine: AsyncEngine, after: timedelta, allowed: bool
) -> None:
    ledger = Ledger(engine)
    vid = await recorded(ledger)
    if allowed:
        assert (await ledger.appeal(vid, by="a1", reason="r", now=T0 + after))["status"] == (
            "appealed"
        )
    else:
        with pytest.raises(Conflict, match="window"):
            await ledger.appeal(vid, by="a1", reason="r", now=T0 + after)


async def test_only_open_violations_of_an_agent_can_be_appealed(
    engine: AsyncEngine, review_rule: str
) -> None:
    ledger = Ledger(engine)
    in_review = await recorded(ledger, review_rule)
    with pytest.raises(Conflict, match="only an open one"):
        await ledger.appeal(in_review, by="a1", reason="r", now=T0)
    team = (await ledger.record("s", breach(subject_id="o-9", agent=None), T0)).violation_id
    with pytest.raises(Conflict, match="team"):
        await ledger.appeal(team, by="a1", reason="r", now=T0)
    with pytest.raises(NotFound):
        await ledger.appeal(999_999, by="a1", reason="r", now=T0)


async def test_two_decisions_at_once_one_wins_the_other_is_a_conflict(
    engine: AsyncEngine,
) -> None:
    ledger = Ledger(engine)
    for attempt in range(5):
        vid = (await ledger.record("s", breach(subject_id=f"o-{attempt}"), T0)).violation_id
        results = await asyncio.gather(
            ledger.set_status(vid, "waived", by="Chen", reason="r", now=T0),
            ledger.set_status(vid, "confirmed", by="Wang", reason="r", now=T0),
            return_exceptions=True,
        )
        wins = [r for r in results if isinstance(r, dict)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(wins) == 1 and len(conflicts) == 1, results
        final = await ledger.get(vid)
        assert final["status"] == wins[0]["status"]
        assert [e["action"] for e in final["audit"]].count(final["status"]) == 1
