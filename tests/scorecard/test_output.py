"""The scorecard's outputs are contracts, pinned byte for byte: the JSON the API answers
(``GET /api/scorecard``) and ``shopwatch scorecard --format json|csv|table`` print.

The golden files were written by the code before the scoring package was restructured; a
change to them is a change of the API or of the CLI's output, never a side effect.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.scoring.conversion import (
    AgentConversion,
    AgentReply,
    MonthConversion,
    Payment,
    award_top,
    monthly_conversion,
)
from daemon.scoring.month import Month
from daemon.scoring.render import render, scorecard_json
from daemon.scoring.scorecard import AgentRecord, MonthRecords, Scorecard, compute_scorecard

from .support import NOVEMBER, POLICY, TZ, adjustment, at, bonus, violation

GOLDEN = Path(__file__).resolve().parent / "golden"


def _conversion() -> MonthConversion:
    """a1: 3 inquiries, 2 converted (rate 2/3, cents in the commission); a2: top two months
    running; provisional (the last day's window is still open)."""
    replies = [
        AgentReply(shop="s", buyer_id=buyer, agent=agent, sent_at=at(when))
        for agent, buyer, when in [
            ("a1", "b1", "2026-11-02 10:00"),
            ("a1", "b2", "2026-11-02 11:00"),
            ("a1", "b3", "2026-11-03 09:00"),
            ("a2", "b4", "2026-11-04 15:00"),
        ]
    ]
    payments = [
        Payment(shop="s", buyer_id=buyer, order_id=order, paid_at=at(when), amount=Decimal(amount))
        for buyer, order, when, amount in [
            ("b1", "o-1", "2026-11-02 12:00", "123.45"),
            ("b2", "o-2", "2026-11-03 10:00", "80"),
            ("b4", "o-4", "2026-11-04 16:00", "300"),
        ]
    ]
    november = monthly_conversion(
        month=NOVEMBER,
        timezone=TZ,
        replies=replies,
        payments=payments,
        policy=POLICY.conversion,
        complete_until=at("2026-11-30 12:00"),
    )
    october = MonthConversion(
        month=Month(2026, 10),
        final=True,
        agents={
            "a2": AgentConversion(agent="a2", inquiries=1, converted=1, converted_sales=Decimal(9))
        },
    )
    return award_top([october, november], POLICY.conversion)


def full_card() -> Scorecard:
    """Every kind of row: a CJK name, fines with cents and a ladder, an adjustment, a capped
    score on probation, a low score last two months running, a departed agent, a team row."""
    handovers = [
        violation("a3", rule="CS108", points=0, deadline=f"2026-11-{day:02d} 23:59", id=day)
        for day in range(1, 5)
    ]
    return compute_scorecard(
        month=NOVEMBER,
        timezone=TZ,
        policy=POLICY,
        agents=[
            AgentRecord(id="a1", name="李娜"),
            AgentRecord(id="a2", name="Wang Wei", hired=date(2026, 10, 15)),
            AgentRecord(id="a3"),
        ],
        records=MonthRecords(
            violations=(
                violation("a1", points=2, fine="5.5"),
                violation("a1", rule="M204", points=3, deadline="2026-11-05 08:45"),
                violation("a1", rule="M403", points=0, deadline="2026-11-06 12:00"),
                violation("a1", rule="M403", points=0, deadline="2026-11-07 12:00"),
                violation("a3", points=25, fine="12.25"),
                *handovers,
                violation("gone", points=2, fine="5"),
                violation(None, points=2, fine="5"),
                violation("a1", points=20, status="waived"),
            ),
            bonuses=tuple(bonus("a2") for _ in range(7)),
            adjustments=(
                adjustment("a1", value=-2, reason="late reports"),
                adjustment("a2", value=3, reason="covered the night"),
            ),
        ),
        previous=[{"a1": 80, "a2": 75, "a3": 62}],
        conversion=_conversion(),
    )


def bare_card() -> Scorecard:
    """No conversion computed (``conversion_status`` null), one agent with nothing."""
    return compute_scorecard(
        month=NOVEMBER,
        timezone=TZ,
        policy=POLICY,
        agents=[AgentRecord(id="a1")],
        records=MonthRecords(),
    )


CARDS = {"full": full_card, "bare": bare_card}


def api_json(card: Scorecard) -> dict[str, Any]:
    return scorecard_json(card)


def cli(card: Scorecard, fmt: str) -> str:
    return render(card, fmt)


def _golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CARDS)
def test_the_api_answers_the_same_json_bytes(name: str) -> None:
    # aiohttp's json_response is json.dumps with its defaults.
    assert json.dumps(api_json(CARDS[name]())) + "\n" == _golden(f"{name}.api.json")


@pytest.mark.parametrize("name", CARDS)
@pytest.mark.parametrize(("fmt", "suffix"), [("json", "json"), ("csv", "csv"), ("table", "txt")])
def test_the_cli_prints_the_same_bytes(name: str, fmt: str, suffix: str) -> None:
    assert cli(CARDS[name](), fmt) + ("" if fmt == "csv" else "\n") == _golden(
        f"{name}.cli.{suffix}"
    )


def test_the_cli_json_is_the_api_json() -> None:
    card = full_card()
    assert json.loads(cli(card, "json")) == api_json(card)
