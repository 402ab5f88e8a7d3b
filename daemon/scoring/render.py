"""The scorecard for people: a terminal table, CSV for spreadsheets, JSON for tools."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# ---- rendering: shopwatch scorecard --format table|csv|json ----

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


def _flat(agent: Mapping[str, Any]) -> dict[str, Any]:
    conversion = agent.get("conversion") or {}
    return {
        **{key: agent.get(key) for key in CSV_COLUMNS[:10]},
        "name": agent.get("name") or "",
        "inquiries": conversion.get("inquiries", 0),
        "converted": conversion.get("converted", 0),
        "conversion_rate": "" if conversion.get("rate") is None else conversion["rate"],
        "converted_sales": conversion.get("converted_sales", 0),
        "commission": conversion.get("commission", 0),
        "top_award": conversion.get("top_award", 0),
        "conversion_status": conversion.get("status", ""),
        "flags": ";".join(agent.get("flags", [])),
    }


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


def _signed(value: Any) -> str:
    return f"{value:+}" if value else "0"


def _render_table(card: Mapping[str, Any]) -> str:
    headers = ["agent", "name", "score", "grade", "−pts", "+bonus", "adj", "pay", "fines"]
    headers += ["conv", "commission", "top", "flags"]
    rows = []
    for a in card["agents"]:
        c = a.get("conversion") or {}
        rate = c.get("rate")
        conv = "–" if rate is None else f"{rate:.0%} ({c['converted']}/{c['inquiries']})"
        rows.append(
            [
                a["agent"],
                a.get("name") or "",
                str(a["score"]),
                a["grade"],
                str(a["points_deducted"]),
                str(a["bonus"]),
                _signed(a["adjustment"]),
                _signed(a["pay_adjustment"]),
                str(a["fines"]),
                conv,
                str(c.get("commission", 0)),
                str(c.get("top_award", 0)) if c.get("top_award") else "",
                ", ".join(a["flags"]),
            ]
        )
    title = f"Scorecard {card['month']}"
    if card.get("timezone"):
        title += f" ({card['timezone']})"
    if card.get("conversion_status") == "provisional":
        title += " — conversion provisional: not every payment window has closed"
    team = card.get("team") or {}
    footer = f"team level (no agent): {team.get('violations', 0)} violation(s), "
    footer += f"{team.get('points', 0)} point(s)"
    body = table(headers, rows, right={2, 4, 5, 6, 7, 8, 10, 11}) if rows else "(no agents)"
    return f"{title}\n\n{body}\n\n{footer}"


def _render_csv(card: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["month", *CSV_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for agent in card["agents"]:
        writer.writerow({"month": card["month"], **_flat(agent)})
    return out.getvalue()


def render(card: Mapping[str, Any], fmt: str) -> str:
    """The scorecard for the terminal (``table``), a spreadsheet (``csv``) or tools
    (``json``)."""
    if fmt == "json":
        return json.dumps(card, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _render_csv(card)
    if fmt == "table":
        return _render_table(card)
    raise ValueError(f"format must be table, csv or json, not {fmt!r}")
