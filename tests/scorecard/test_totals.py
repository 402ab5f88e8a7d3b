"""The scorecard read from the ledger's totals per agent, rule, status and fine (summed in
SQL) is the scorecard computed from every violation one by one: ladders (CS108 and M401
share one), severities and duty escalation, rule flags (CS110), appeals, team-level
violations, waived and in-review ones, a bad stored fine, and the month before's last place.
On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.scoring.records import load_scorecard, read_violation_totals, read_violations
from daemon.scoring.scorecard import AgentRecord, MonthRecords, compute_scorecard
from daemon.store.tables import violations

from .support import NOVEMBER, POLICY, TZ, at, make_settings

RULES = ["CS101", "CS104", "CS110", "M204", "M215", "M216", "M229"]
LADDERED = [("a1", "CS108")] * 2 + [("a1", "M401")] + [("a2", "CS108")] * 6
"""Alike in all a total reads, so each agent's come as one or two totals: a1 reaches the
third fine of the handover ladder, a2 its withheld pay and dismissal."""
STATUSES = ["open", "open", "confirmed", "appealed", "waived", "review"]
FINES = ["0", "0", "5", "12.50", "not money"]


async def _seed(engine: AsyncEngine, count: int) -> None:
    rng = random.Random(15)
    rows = []
    start = at("2026-10-01 00:00")
    for i in range(count + len(LADDERED)):
        deadline = start + timedelta(minutes=rng.randrange(0, 61 * 24 * 60))
        agent, rule = LADDERED[i - count] if i >= count else (None, None)
        if agent is not None:
            deadline = at("2026-11-03 10:00") + timedelta(days=i - count)
        rows.append(
            {
                "shop": rng.choice(["s", "t"]),
                "rule": rule or rng.choice(RULES),
                "subject_type": "order",
                "subject_id": f"o-{i}",
                "buyer_id": None,
                "agent": agent or rng.choice(["a1", "a2", "a3", "gone", None]),
                "shift": None,
                "deadline": deadline,
                "detected_at": deadline,
                "updated_at": deadline,
                "tier": None,
                "points": rng.choice([0, 1, 2, 5, 10]),
                "fine": "0" if agent else rng.choice(FINES),
                "status": "open" if agent else rng.choice(STATUSES),
                "final": True,
                "source": "rule",
                "evidence": {},
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(violations), rows)


async def test_totals_score_as_every_violation_does(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await _seed(engine, 2000)
    settings = make_settings(tmp_path, database_url)
    agents = [AgentRecord(id=a.id, name=a.name or None, hired=a.hired) for a in settings.agents]

    one_by_one = []
    for month in (NOVEMBER.previous(), NOVEMBER):
        rows = await read_violations(engine, TZ, month)
        totals = await read_violation_totals(engine, TZ, month)
        assert len(totals) < len(rows)
        assert sum(t.count for t in totals) == len(rows)
        one_by_one.append(
            compute_scorecard(
                month=month,
                timezone=TZ,
                policy=POLICY,
                agents=agents,
                records=MonthRecords(violations=tuple(rows)),
                previous=[one_by_one[-1].scores()] if one_by_one else [],
            )
        )
    expected = one_by_one[-1]
    found = await load_scorecard(
        engine, settings, NOVEMBER, policy=POLICY, now=at("2026-12-05 00:00")
    )
    without_conversion = replace(
        found,
        agents=tuple(replace(a, conversion=None) for a in found.agents),
        conversion_final=None,
    )
    assert without_conversion == expected
    assert {"ladder_dismissal", "pay_withheld"} <= set(expected.agent("a2").flags)
    assert {"duty_escalation", "appeal_pending"} & set(expected.agent("a1").flags)
    assert expected.team_violations > 0
