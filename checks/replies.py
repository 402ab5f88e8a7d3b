"""First replies: how long a buyer waited for a human answer, in business time.

Not a rule, a measure: it feeds the per-agent reply-time histogram that supervisors read
next to the violations. A *first reply* is an agent message (auto-replies excluded) that
follows at least one buyer message since the previous agent message; the wait runs from
the first of those buyer messages.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from checks.business_time import BusinessCalendar
from connectors.model import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstReply:
    reply: Message
    asked: Message
    wait: timedelta
    opens_conversation: bool
    """The agent's first message in this conversation: a conversation answered."""


def first_replies(
    conversation: Sequence[Message],
    calendar: BusinessCalendar,
    *,
    only: Collection[str] | None = None,
) -> list[FirstReply]:
    """First replies in a time-ordered conversation; ``only`` limits them to these ids."""
    found: list[FirstReply] = []
    waiting: Message | None = None
    answered_conversations: set[str] = set()
    for msg in conversation:
        if msg.is_buyer_message:
            waiting = waiting or msg
        elif msg.is_agent_message:
            opens = msg.conversation_id not in answered_conversations
            answered_conversations.add(msg.conversation_id)
            if waiting is not None and (only is None or msg.id in only):
                wait = calendar.business_duration(waiting.sent_at, msg.sent_at)
                found.append(
                    FirstReply(reply=msg, asked=waiting, wait=wait, opens_conversation=opens)
                )
            waiting = None
    return found
