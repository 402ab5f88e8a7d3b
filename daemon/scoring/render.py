"""The scorecard for people and tools: the JSON of the API and the CLI, CSV for
spreadsheets, a terminal table.

A :class:`~daemon.scoring.scorecard.Scorecard` stays typed up to here. :func:`scorecard_json`
is its one JSON form (SPEC §6), answered by ``GET /api/scorecard`` and printed by
``shopwatch scorecard --format json``; CSV and the table read the same values, formatted
the same way.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from daemon.scoring.conversion import AgentConversion
from daemon.scoring.scorecard import AgentScore, Scorecard


def json_number(value: Decimal) -> int | float:
    """Money and rates for JSON: a whole number stays an int (``-20``, not ``-20.0``)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _rate(conversion: AgentConversion) -> float | None:
    rate = conversion.shown_rate
    return None if rate is None else float(rate)


def _status(conversion: AgentConversion) -> str:
    return "final" if conversion.final else "provisional"


# ---- JSON: GET /api/scorecard and --format json ----


def _conversion_json(conversion: AgentConversion) -> dict[str, Any]:
    return {
        "inquiries": conversion.inquiries,
        "converted": conversion.converted,
        "rate": _rate(conversion),
        "converted_sales": json_number(conversion.converted_sales),
        "commission_rate": json_number(conversion.commission_rate),
        "commission": json_number(conversion.commission),
        "top_agent": conversion.top,
        "months_on_top": conversion.months_on_top,
        "top_award": json_number(conversion.top_award),
        "status": _status(conversion),
    }


def _agent_json(agent: AgentScore) -> dict[str, Any]:
    return {
        "agent": agent.agent,
        "name": agent.name,
        "score": agent.score,
        "grade": agent.grade,
        "points_deducted": agent.points_deducted,
        "bonus": agent.bonus,
        "adjustment": agent.adjustment,
        "adjustment_reason": agent.adjustment_reason,
        "pay_adjustment": json_number(agent.pay_adjustment),
        "fines": json_number(agent.fines),
        "flags": list(agent.flags),
        "violations": agent.violations,
        "probation": agent.probation,
        "conversion": _conversion_json(agent.conversion) if agent.conversion else None,
    }


def _conversion_status(card: Scorecard) -> str | None:
    if card.conversion_final is None:
        return None
    return "final" if card.conversion_final else "provisional"


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    """SPEC §6: ``{"month", "agents": [{agent, score, grade, points_deducted, bonus,
    adjustment, pay_adjustment, fines, flags}]}``, plus names, conversion and the team.
    The API's contract: the keys and their order are pinned by tests/scorecard."""
    return {
        "month": str(card.month),
        "timezone": card.timezone,
        "agents": [_agent_json(a) for a in card.agents],
        "team": {"violations": card.team_violations, "points": card.team_points},
        "conversion_status": _conversion_status(card),
    }


# ---- CSV ----

CSV_COLUMNS = (
    "agent",
    "name",
    "score",
    "grade",
    "points_deducted",
    "bonus",
    "adjustment",
    "pay_adjustment",
    "fines",
    "violations",
    "inquiries",
    "converted",
    "conversion_rate",
    "converted_sales",
    "commission",
    "top_award",
    "conversion_status",
    "flags",
)


def _csv_row(agent: AgentScore) -> dict[str, Any]:
    c = agent.conversion or AgentConversion(agent=agent.agent)
    rate = _rate(c)
    return {
        "agent": agent.agent,
        "name": agent.name or "",
        "score": agent.score,
        "grade": agent.grade,
        "points_deducted": agent.points_deducted,
        "bonus": agent.bonus,
        "adjustment": agent.adjustment,
        "pay_adjustment": json_number(agent.pay_adjustment),
        "fines": json_number(agent.fines),
        "violations": agent.violations,
        "inquiries": c.inquiries,
        "converted": c.converted,
        "conversion_rate": "" if rate is None else rate,
        "converted_sales": json_number(c.converted_sales),
        "commission": json_number(c.commission),
        "top_award": json_number(c.top_award),
        "conversion_status": "" if agent.conversion is None else _status(c),
        "flags": ";".join(agent.flags),
    }


def _render_csv(card: Scorecard) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["month", *CSV_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for agent in card.agents:
        writer.writerow({"month": str(card.month), **_csv_row(agent)})
    return out.getvalue()


# ---- the terminal table ----


def _width(text: str) -> int:
    """Terminal columns: CJK names take two each."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(_pad(str(cell), widths[i], i in right) for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _signed(value: int | float) -> str:
    return f"{value:+}" if value else "0"


def _table_row(agent: AgentScore) -> list[str]:
    c = agent.conversion
    rate = None if c is None else _rate(c)
    conv = "–" if c is None or rate is None else f"{rate:.0%} ({c.converted}/{c.inquiries})"
    award = json_number(c.top_award) if c else 0
    return [
        agent.agent,
        agent.name or "",
        str(agent.score),
        agent.grade,
        str(agent.points_deducted),
        str(agent.bonus),
        _signed(agent.adjustment),
        _signed(json_number(agent.pay_adjustment)),
        str(json_number(agent.fines)),
        conv,
        str(json_number(c.commission) if c else 0),
        str(award) if award else "",
        ", ".join(agent.flags),
    ]


def _render_table(card: Scorecard) -> str:
    headers = ["agent", "name", "score", "grade", "−pts", "+bonus", "adj", "pay", "fines"]
    headers += ["conv", "commission", "top", "flags"]
    rows = [_table_row(agent) for agent in card.agents]
    title = f"Scorecard {card.month}"
    if card.timezone:
        title += f" ({card.timezone})"
    if card.conversion_final is False:
        title += " — conversion provisional: not every payment window has closed"
    footer = f"team level (no agent): {card.team_violations} violation(s), "
    footer += f"{card.team_points} point(s)"
    body = table(headers, rows, right={2, 4, 5, 6, 7, 8, 10, 11}) if rows else "(no agents)"
    return f"{title}\n\n{body}\n\n{footer}"


def render(card: Scorecard, fmt: str) -> str:
    """The scorecard for tools (``json``: :func:`scorecard_json`), a spreadsheet (``csv``)
    or the terminal (``table``)."""
    if fmt == "json":
        return json.dumps(scorecard_json(card), ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _render_csv(card)
    if fmt == "table":
        return _render_table(card)
    raise ValueError(f"format must be table, csv or json, not {fmt!r}")
