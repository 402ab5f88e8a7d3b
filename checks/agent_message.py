"""What the rules that judge one agent message's own words share (CS106, CS107).

Their subject is an agent message (auto-replies and buyer messages never count), keyed by
the message id, with ``D = sent_at``; the violation is attributed to the message's own
``agent_id`` (not the Attribution rule of SPEC §3), in the shift ``D`` belongs to. Evidence
quotes messages only through :class:`QuotedMessage`, whose text has every phone number, ID
number and e-mail address masked (:mod:`checks.personal_data`), so no such value reaches the
ledger, the API, the logs or an alert through a quote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from checks.business_time import BusinessCalendar
from checks.evidence import Evidence
from checks.evidence_record import (
    BreachEvidence,
    Clock,
    Fact,
    MessageRecord,
    WatermarkRecord,
    instant,
)
from checks.personal_data import mask
from checks.subject import Breach, Subject
from connectors.model import Message

QUOTE_LIMIT = 500
"""Characters of a message kept in evidence (cut after masking, so no value is half shown)."""
SUMMARY_QUOTE = 60
"""Characters of the message a summary quotes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotedMessage:
    """A message as evidence quotes it: its text with personal data masked."""

    id: str
    direction: str
    agent_id: str | None
    is_auto: bool
    sent_at: str | None
    text: str

    @classmethod
    def of(cls, msg: Message) -> QuotedMessage:
        text = mask(msg.text)
        if len(text) > QUOTE_LIMIT:
            text = text[: QUOTE_LIMIT - 1] + "…"
        return cls(
            id=msg.id,
            direction=msg.direction.value,
            agent_id=msg.agent_id,
            is_auto=msg.is_auto,
            sent_at=instant(msg.sent_at),
            text=text,
        )

    @property
    def short_text(self) -> str:
        one_line = " ".join(self.text.split())
        if len(one_line) <= SUMMARY_QUOTE:
            return one_line
        return one_line[: SUMMARY_QUOTE - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class MessageEvidence(BreachEvidence):
    """Evidence about one agent message: the message, quoted (masked).

    ``last_agent_message`` is that message itself (the last one its agent sent by D), and the
    summary names it as the message judged rather than as a last writer."""

    message: QuotedMessage | None = None

    def _last_agent_fact(self, at: Clock) -> Fact:
        msg = self.message
        if msg is None:
            return super()._last_agent_fact(at)
        return (
            f"消息 {msg.id}（{msg.agent_id}，{at(msg.sent_at)}）",
            f"message {msg.id} by {msg.agent_id} at {at(msg.sent_at)}",
        )


def agent_messages(evidence: Evidence) -> Iterator[Message]:
    """The buyer's agent messages, oldest first: auto-replies and buyer messages never count."""
    return (m for m in evidence.conversation() if m.is_agent_message)


def message_subject(code: str, msg: Message, evidence: Evidence) -> Subject:
    return Subject(rule=code, type="message", id=msg.id, buyer_id=evidence.buyer_id)


def shift_name(calendar: BusinessCalendar, moment: datetime) -> str | None:
    """The shift ``moment`` belongs to as a deadline (:meth:`BusinessCalendar.shift_at`); a
    message sent exactly at a shift's start, which no shift ran up to, is in that shift."""
    shift = calendar.shift_at(moment)
    if shift is None:
        shift = next(calendar.intervals(moment, moment + timedelta(microseconds=1)), None)
    return shift.shift if shift is not None else None


def message_breach(
    subject: Subject,
    msg: Message,
    evidence: Evidence,
    *,
    points: int,
    fine: Decimal,
    record: MessageEvidence,
) -> Breach:
    """The breach of a judged message: its own agent answers for it, final at once."""
    return Breach(
        subject=subject,
        deadline=msg.sent_at,
        agent=msg.agent_id,
        shift=shift_name(evidence.calendar, msg.sent_at),
        tier=None,
        points=points,
        fine=fine,
        final=True,
        evidence=dataclasses.replace(
            record,
            message=QuotedMessage.of(msg),
            last_agent_message=MessageRecord.of(msg),
            watermarks=WatermarkRecord.of(evidence.watermarks),
        ),
    )
