"""The scorecard flags of the rules about people at their posts (SPEC §3 CS108, CS110; §6):
CS108's monthly ladder 30/50/80 then ``pay_withheld``, then ``dismissal_review``; a confirmed
CS110 puts ``dismissal_review`` on its agent; CS112 never lowers a score. From the ledger, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from checks.cs108_handover_not_written import MissingHandoverEvidence
from checks.cs110_nobody_reachable import NobodyOnlineEvidence
from checks.cs112_worked_too_long import StintEvidence
from checks.subject import Breach, Subject
from daemon.scoring.records import load_scorecard
from daemon.store.ledger import Ledger

from .support import NOVEMBER, POLICY, at, make_settings

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def handover(day: int, agent: str = "a3") -> Breach:
    return Breach(
        subject=Subject(rule="CS108", type="shift", id=f"night@2026-11-{day:02d}", buyer_id=""),
        deadline=at(f"2026-11-{day:02d} 00:15") + timedelta(days=1),
        agent=agent,
        shift="night",
        tier=None,
        points=5,
        fine=Decimal(30),
        final=True,
        evidence=MissingHandoverEvidence(shift="night", day=f"2026-11-{day:02d}"),
    )


async def test_the_handover_ladder_from_the_ledger(engine: AsyncEngine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    ledger = Ledger(engine)

    async def a3() -> tuple[Decimal, tuple[str, ...], int]:
        card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=NOW)
        row = card.agent("a3")
        return row.fines, row.flags, row.points_deducted

    await ledger.record_many("", [handover(d) for d in (2, 3, 4)], NOW)
    fines, flags, points = await a3()
    assert (fines, points) == (Decimal(160), 15)  # 30 + 50 + 80
    assert "pay_withheld" not in flags
    (team_row,) = await ledger.find(rule="CS108", limit=1)
    assert team_row["shop"] is None and team_row["buyer_id"] is None  # the team's: no shop
    await ledger.record_many("", [handover(5)], NOW)
    fines, flags, _ = await a3()
    assert fines == Decimal(160) and "pay_withheld" in flags and "dismissal_review" not in flags
    await ledger.record_many("", [handover(6)], NOW)
    _, flags, _ = await a3()
    assert {"pay_withheld", "dismissal_review"} <= set(flags)


async def test_a_confirmed_cs110_flags_its_agent_for_dismissal_review(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    ledger = Ledger(engine)
    nobody = Breach(
        subject=Subject(rule="CS110", type="outage", id="2026-11-10T06:00:00Z", buyer_id=""),
        deadline=at("2026-11-10 14:05"),
        agent="a1",
        shift="day",
        tier=None,
        points=0,
        fine=Decimal(0),
        final=True,
        ended_at=at("2026-11-10 14:20"),
        evidence=NobodyOnlineEvidence(start="2026-11-10T14:00:00+08:00"),
    )
    (recorded,) = await ledger.record_many("s", [nobody], NOW)
    row = await ledger.get(recorded.violation_id)
    assert row["status"] == "review"  # recorded for review
    card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=NOW)
    assert "dismissal_review" not in card.agent("a1").flags
    await ledger.set_status(recorded.violation_id, "confirmed", by="lead", reason="ok", now=NOW)
    card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=NOW)
    assert "dismissal_review" in card.agent("a1").flags
    assert card.agent("a1").score == 80  # 0 points


async def test_cs112_is_the_teams_and_never_lowers_a_score(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "sqlite://", people_rules=True)
    stint = Breach(
        subject=Subject(rule="CS112", type="stint", id="a1@2026-11-10T00:00:00Z", buyer_id=""),
        deadline=at("2026-11-10 16:00"),
        agent=None,
        shift="day",
        tier=None,
        points=0,
        fine=Decimal(0),
        final=True,
        evidence=StintEvidence(agent="a1", start="2026-11-10T08:00:00+08:00"),
    )
    await Ledger(engine).record_many("s", [stint], NOW)
    card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=NOW)
    assert card.agent("a1").score == 80 and card.agent("a1").flags == ()
