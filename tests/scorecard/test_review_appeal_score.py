"""SPEC §4 on the scorecard: a violation in review counts nowhere until confirmed; an appealed
one keeps counting and flags ``appeal_pending`` until a supervisor decides it."""

from __future__ import annotations

import pytest

from .support import card, violation


@pytest.mark.parametrize(
    ("status", "score", "counted"),
    [
        ("open", 78, 1),
        ("review", 80, 0),
        ("appealed", 78, 1),
        ("confirmed", 78, 1),
        ("waived", 80, 0),
    ],
)
def test_which_statuses_count(status: str, score: int, counted: int) -> None:
    (row,) = card(violations=[violation(status=status, points=2)]).agents
    assert row.score == score
    assert row.violations == counted
    assert ("appeal_pending" in row.flags) is (status == "appealed")


def test_the_flag_goes_once_the_appeal_is_decided() -> None:
    pending = card(violations=[violation(status="appealed"), violation(status="confirmed")])
    decided = card(violations=[violation(status="confirmed"), violation(status="confirmed")])
    assert "appeal_pending" in pending.agents[0].flags
    assert "appeal_pending" not in decided.agents[0].flags
    assert pending.agents[0].score == decided.agents[0].score == 76
