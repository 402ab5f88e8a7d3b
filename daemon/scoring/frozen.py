"""A scorecard kept as it was when its month was closed (SPEC §4), and read back unchanged.

:func:`freeze` writes a :class:`~daemon.scoring.scorecard.Scorecard` as plain JSON with
money and rates as decimal strings, so :func:`thaw` gives back an equal scorecard: every
rendering (the API's JSON, CSV, XLSX, the console) of a closed month reads the same values
whatever changed in the ledger, the roster or the policy since.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from daemon.scoring.conversion import AgentConversion
from daemon.scoring.month import Month
from daemon.scoring.scorecard import AgentScore, Scorecard

FORMAT = 1


def _conversion(c: AgentConversion) -> dict[str, Any]:
    return {
        "agent": c.agent,
        "inquiries": c.inquiries,
        "converted": c.converted,
        "converted_sales": str(c.converted_sales),
        "commission_rate": str(c.commission_rate),
        "commission": str(c.commission),
        "final": c.final,
        "top": c.top,
        "months_on_top": c.months_on_top,
        "top_award": str(c.top_award),
        "days": {day.isoformat(): list(counts) for day, counts in sorted(c.days.items())},
    }


def _thaw_conversion(data: dict[str, Any]) -> AgentConversion:
    return AgentConversion(
        agent=data["agent"],
        inquiries=data["inquiries"],
        converted=data["converted"],
        converted_sales=Decimal(data["converted_sales"]),
        commission_rate=Decimal(data["commission_rate"]),
        commission=Decimal(data["commission"]),
        final=data["final"],
        top=data["top"],
        months_on_top=data["months_on_top"],
        top_award=Decimal(data["top_award"]),
        days={date.fromisoformat(d): (v[0], v[1]) for d, v in data["days"].items()},
    )


def _agent(a: AgentScore) -> dict[str, Any]:
    return {
        "agent": a.agent,
        "name": a.name,
        "score": a.score,
        "grade": a.grade,
        "violations": a.violations,
        "points_deducted": a.points_deducted,
        "bonus": a.bonus,
        "adjustment": a.adjustment,
        "adjustment_reason": a.adjustment_reason,
        "pay_adjustment": str(a.pay_adjustment),
        "fines": str(a.fines),
        "probation": a.probation,
        "flags": list(a.flags),
        "conversion": None if a.conversion is None else _conversion(a.conversion),
    }


def _thaw_agent(data: dict[str, Any]) -> AgentScore:
    conversion = data["conversion"]
    return AgentScore(
        agent=data["agent"],
        name=data["name"],
        score=data["score"],
        grade=data["grade"],
        violations=data["violations"],
        points_deducted=data["points_deducted"],
        bonus=data["bonus"],
        adjustment=data["adjustment"],
        adjustment_reason=data["adjustment_reason"],
        pay_adjustment=Decimal(data["pay_adjustment"]),
        fines=Decimal(data["fines"]),
        probation=data["probation"],
        flags=tuple(data["flags"]),
        conversion=None if conversion is None else _thaw_conversion(conversion),
    )


def freeze(card: Scorecard) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "month": str(card.month),
        "timezone": card.timezone,
        "agents": [_agent(a) for a in card.agents],
        "team_violations": card.team_violations,
        "team_points": card.team_points,
        "conversion_final": card.conversion_final,
    }


def thaw(data: dict[str, Any]) -> Scorecard:
    if data.get("format") != FORMAT:
        raise ValueError(f"a frozen scorecard of format {data.get('format')!r}, not {FORMAT}")
    return Scorecard(
        month=Month.parse(data["month"]),
        timezone=data["timezone"],
        agents=tuple(_thaw_agent(a) for a in data["agents"]),
        team_violations=data["team_violations"],
        team_points=data["team_points"],
        conversion_final=data["conversion_final"],
    )
