"""What ``shopwatch replay`` prints, pinned byte for byte: the comparison of two scorecards
is pure, so it is built here from records, without a store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from daemon.scoring.replay import compare, render_replay
from daemon.scoring.scorecard import (
    AgentRecord,
    MonthRecords,
    Scorecard,
    ViolationRecord,
    compute_scorecard,
)

from .support import NOVEMBER, POLICY, TZ, violation

GOLDEN = Path(__file__).resolve().parent / "golden"
AGENTS = [AgentRecord(id="a1", name="李娜"), AgentRecord(id="a2", name="Wang Wei")]


def _card(violations: Sequence[ViolationRecord]) -> Scorecard:
    return compute_scorecard(
        month=NOVEMBER,
        timezone=TZ,
        policy=POLICY,
        agents=AGENTS,
        records=MonthRecords(violations=tuple(violations)),
    )


def test_the_replay_table_is_unchanged() -> None:
    ledger = [
        violation("a1", rule="M204", points=3, deadline="2026-11-05 08:45"),
        violation(None, points=2, fine="5"),
        violation("a2", points=2, fine="5", status="waived"),
    ]
    merged = [
        *ledger,
        violation("a1", points=2, fine="5.5", deadline="2026-11-02 10:30"),
        violation(None, points=2, fine="5", deadline="2026-11-03 10:30"),
        violation("gone", points=2, fine="5", deadline="2026-11-04 10:30"),
    ]
    result = replace(
        compare(_card(ledger), _card(merged), ledger, merged),
        current_config="shopwatch.toml",
        other_config="stricter.toml",
        undecidable={"CS102": 2},
        skipped_shops=("b",),
    )
    expected = (GOLDEN / "replay.txt").read_text(encoding="utf-8")
    assert render_replay(result) + "\n" == expected


def test_a_replay_that_changes_nothing_says_so() -> None:
    rows = [violation("a1", points=2)]
    result = compare(_card(rows), _card(rows), rows, rows)
    assert render_replay(result).endswith("no agent's scorecard would change")
