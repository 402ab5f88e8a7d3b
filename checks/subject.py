"""What a rule decides about and what it can conclude.

A rule is a pure function from a buyer's evidence to a list of outcomes, one per subject.
The daemon records :class:`Breach` outcomes in the ledger, counts :class:`Undecidable`
ones, and keeps :class:`Pending` subjects open until the watermarks pass their deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from checks.evidence_record import BreachEvidence, GenericEvidence


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """The thing a rule judges: one per (shop, rule, subject id), never recorded twice."""

    rule: str
    type: str
    id: str
    buyer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """Not decidable yet: the deadline, or the evidence up to it, lies in the future."""

    subject: Subject
    deadline: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Satisfied:
    subject: Subject
    deadline: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Undecidable:
    """The evidence cannot prove a breach either way; counted, never recorded as one."""

    subject: Subject
    deadline: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """A proven violation. ``final`` is False while it may still escalate in place (CS102)."""

    subject: Subject
    deadline: datetime
    agent: str | None
    shift: str | None
    tier: int | None
    points: int
    fine: Decimal
    final: bool
    evidence: BreachEvidence = field(default_factory=GenericEvidence)
    recheck_at: datetime | None = None
    """When a non-final breach should be looked at again even if no new data arrives."""
    ended_at: datetime | None = None
    """For a rule whose breach is a lasting situation (nobody reachable): when it ended, once
    it has; its alert resolves then. None while it lasts, and for every other rule."""


Outcome = Pending | Satisfied | Undecidable | Breach
