"""The verdicts every rule about an order and the buyer's chat reaches the same way.

Before deciding that nobody wrote to the buyer (CS101 chase, CS105 order check), a rule must
know the chat is complete up to the deadline, that the buyer is really known on the chat side,
and that the chat history reaches back to when the order needed its message (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from checks.evidence import Evidence
from checks.subject import Outcome, Pending, Subject, Undecidable
from connectors.model import Order

BUYER_UNIDENTIFIED = "buyer_unidentified"
HISTORY_INCOMPLETE = "history_incomplete"


def chat_not_conclusive(
    subject: Subject,
    deadline: datetime,
    *,
    since: datetime,
    versions: Sequence[Order],
    evidence: Evidence,
) -> Outcome | None:
    """``Pending`` while the data stops before ``deadline``; ``Undecidable`` when the
    platform withheld the buyer's identity (its buyer_id is a stand-in no message can carry)
    or the chat history starts after ``since``; else None: absence of a message is proof."""
    if evidence.watermarks.complete_until < deadline:
        return Pending(subject=subject, deadline=deadline)
    if not all(v.buyer_identified for v in versions):
        return Undecidable(subject=subject, deadline=deadline, reason=BUYER_UNIDENTIFIED)
    if since < evidence.watermarks.chat.history_start:
        return Undecidable(subject=subject, deadline=deadline, reason=HISTORY_INCOMPLETE)
    return None
