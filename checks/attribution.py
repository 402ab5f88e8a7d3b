"""Who answers for a violation (SPEC §3, "Attribution").

The agent who last sent an agent message to the buyer before the deadline, if that agent
is on duty at the deadline; else the only agent on duty then, if exactly one; else nobody:
the violation is recorded against the shift (team level).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from checks.business_time import BusinessCalendar
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, MessageRecord, WatermarkRecord
from checks.subject import Breach, Subject
from connectors.model import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    agent: str | None
    shift: str | None
    last_agent_message: Message | None


def attribute(
    messages: Iterable[Message], deadline: datetime, calendar: BusinessCalendar
) -> Attribution:
    """Attribute a violation whose deadline is ``deadline``.

    "On duty at the deadline" reads the instant just before it (see
    :meth:`BusinessCalendar.shift_at`), so a deadline that falls exactly at a shift's end
    belongs to the agents of the shift that just ran out.
    """
    shift = calendar.shift_at(deadline)
    shift_name = shift.shift if shift is not None else None
    last = max(
        (m for m in messages if m.is_agent_message and m.sent_at < deadline and m.agent_id),
        key=lambda m: (m.sent_at, m.id),
        default=None,
    )
    if (
        last is not None
        and last.agent_id is not None
        and calendar.on_duty_at_deadline(last.agent_id, deadline)
    ):
        return Attribution(agent=last.agent_id, shift=shift_name, last_agent_message=last)
    on_duty = calendar.agents_on_duty_at_deadline(deadline)
    if len(on_duty) == 1:
        return Attribution(agent=on_duty[0], shift=shift_name, last_agent_message=last)
    return Attribution(agent=None, shift=shift_name, last_agent_message=last)


def attributed_breach(
    subject: Subject,
    deadline: datetime,
    evidence: Evidence,
    *,
    points: int,
    fine: Decimal,
    record: BreachEvidence,
    tier: int | None = None,
    final: bool = True,
    recheck_at: datetime | None = None,
) -> Breach:
    """A breach with its responsible agent and the evidence every rule records: the rule's
    own ``record``, completed with the last agent message before the deadline and the
    watermarks."""
    who = attribute(evidence.conversation(), deadline, evidence.calendar)
    return Breach(
        subject=subject,
        deadline=deadline,
        agent=who.agent,
        shift=who.shift,
        tier=tier,
        points=points,
        fine=fine,
        final=final,
        recheck_at=recheck_at,
        evidence=dataclasses.replace(
            record,
            last_agent_message=MessageRecord.maybe(who.last_agent_message),
            watermarks=WatermarkRecord.of(evidence.watermarks),
        ),
    )
