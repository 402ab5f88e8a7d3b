"""What an evaluation tells whoever listens (the alerting side): the violations it recorded
and the subjects still open. A module of its own so listeners depend on these types, not on
the evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from checks.subject import Breach
from daemon.store.ledger import Recorded


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenItem:
    rule: str
    subject_id: str
    buyer_id: str
    deadline: datetime
    warn_before: timedelta

    def at_risk(self, now: datetime) -> bool:
        return now < self.deadline <= now + self.warn_before


class EvaluationListener(Protocol):
    """Told what a tick found: the alerting side listens here."""

    async def violations_recorded(
        self, shop: str, recorded: Sequence[tuple[Breach, Recorded]], now: datetime
    ) -> None:
        """The new or escalated violations of one batch of buyers, all at once."""
        ...

    async def open_items(self, shop: str, items: Sequence[OpenItem], now: datetime) -> None: ...
