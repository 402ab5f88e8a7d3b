"""Options every rule shares (SPEC §3, §6 ``[rules.CSxxx]``); each rule extends them.

Defaults are the SPEC's bracketed values. The daemon's config loader builds these from
TOML, so a field's type here is also its validation: ``timedelta`` fields take durations
like ``"30m"``, ``Decimal`` fields take numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class RuleOptions:
    enabled: bool = True
    within: timedelta = timedelta(minutes=60)
    """The allowed time, in business time (the clock pauses outside coverage)."""
    points: int = 2
    """Score points deducted per violation."""
    fine: Decimal = Decimal(0)
    """Fine in CNY per violation."""
    warn_before: timedelta = timedelta(minutes=15)
    """An open subject due within this long counts as at risk and may alert the team lead."""

    def lookback(self) -> timedelta:
        """How far before a subject's start the rule reads history (CS101's sibling window):
        a replay of a month reads this much more."""
        return timedelta(0)

    def penalty(self) -> str:
        """What one violation costs by default, as the rules table shows it."""
        text = f"{self.points} point{'' if self.points == 1 else 's'}"
        return f"{text}, {self.fine.normalize():f} CNY" if self.fine else text
