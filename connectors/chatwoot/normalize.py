"""Pure translation of Chatwoot conversations, messages and agents into model records.

Messages (``message_type``): 0 incoming = the buyer; 1 outgoing = the shop; 2 activity (system
events) and private notes (``private: true``) are not chat between buyer and shop and are
dropped; 3 template is the shop's automation.

An outgoing message counts as a human reply only when a person wrote it *and* it reached the
buyer, which is Chatwoot's own test (``Message#human_response?``) plus delivery:

* its sender is a ``user`` (an agent) — one sent by an ``agent_bot``, by automation (no sender)
  or as a template is not;
* it is no automation: ``content_attributes.automation_rule_id`` is unset;
* it is no campaign: ``additional_attributes.campaign_id`` is unset. Campaigns post under their
  sender's name, so only this mark tells them apart. The messages index does not serialise
  ``additional_attributes``; the conversation list does, for the conversation's latest message
  and latest non-activity message (Chatwoot's full records), so a campaign message is known
  when it is one of those (an unanswered campaign, which is when it matters for CS101) or when
  the server includes ``additional_attributes`` in the index;
* its ``status`` is not ``failed`` (sent, delivered and read are fine; a server that sends no
  status is read as not failed).

Any other outgoing message is marked ``is_auto``, so it never satisfies a rule (SPEC §1).

Times are epoch seconds; Chatwoot serialises a missing time as 0, read here as "none".

A conversation's last activity is ``last_activity_at``, or ``timestamp`` on servers whose list
does not send that key yet: both are the same column (``json.timestamp
conversation.last_activity_at.to_i`` since September 2020, chatwoot/chatwoot#1281).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors import identity, wire
from connectors.errors import BadResponse
from connectors.model import Direction, Message, PresenceStatus, Rejected

INCOMING, OUTGOING, ACTIVITY, TEMPLATE = 0, 1, 2, 3
HUMAN_SENDER = "user"
FAILED = "failed"
AVAILABILITY = {
    "online": PresenceStatus.ONLINE,
    "available": PresenceStatus.ONLINE,  # the swagger spelling; the code says "online"
    "busy": PresenceStatus.AWAY,
    "offline": PresenceStatus.OFFLINE,
}


VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def server_version(body: Any) -> tuple[int, int, int]:
    """``GET /api``'s ``version`` (``Chatwoot.config[:version]``, e.g. ``"4.1.0"``)."""
    value = body.get("version") if isinstance(body, Mapping) else None
    match = VERSION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise BadResponse(f"expected a version such as 4.1.0, got {value!r}", field="version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


class BuyerKey(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    IDENTIFIER = "identifier"
    ID = "id"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    buyer_id: str
    last_activity_at: datetime | None
    campaign_message_ids: frozenset[int] = frozenset()
    """Messages the conversation list shows were sent by a campaign (see the module docs)."""


@dataclass(frozen=True, slots=True)
class ListedMessage:
    """Any entry of a conversation's message list, with what paging backwards needs.

    ``message`` is ``None`` for activity entries, private notes and refused messages.
    """

    id: int
    sent_at: datetime
    message: Message | None
    rejected: Rejected | None = None
    """Why the message was refused alone (its id and time, which paging needs, did read)."""


def epoch(raw: Any, key: str, where: str) -> datetime | None:
    """Epoch seconds; 0 (Chatwoot's "no time") is ``None``."""
    value = wire.field(raw, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadResponse("expected epoch seconds", field=f"{where}.{key}")
    return None if value == 0 else datetime.fromtimestamp(value, UTC)


def _contact_buyer_id(contact: Any, where: str, buyer_key: BuyerKey) -> str:
    contact_id = wire.integer(contact, "id", where, low=1, high=2**63 - 1)
    if buyer_key is BuyerKey.EMAIL:
        found = identity.email(contact.get("email"))
    elif buyer_key is BuyerKey.PHONE:
        found = identity.phone(contact.get("phone_number"))
    elif buyer_key is BuyerKey.IDENTIFIER:
        found = identity.shared_id(contact.get("identifier"))
    else:
        found = None
    return found or identity.local("chatwoot", "contact", contact_id)


def _marked(raw: Any, attributes: str, key: str, where: str) -> bool:
    """Whether ``raw[attributes][key]`` is set; the attributes object may be absent or null."""
    value = raw.get(attributes) if isinstance(raw, Mapping) else None
    if value is None:
        return False
    if not isinstance(value, Mapping):
        raise BadResponse("expected an object or null", field=f"{where}.{attributes}")
    return value.get(key) not in (None, "")


def _by_campaign(raw: Any, where: str) -> bool:
    return _marked(raw, "additional_attributes", "campaign_id", where)


def _campaign_message_ids(raw: Any, where: str) -> frozenset[int]:
    """Ids of the full message records the list embeds that a campaign sent."""
    embedded = raw.get("messages") or []
    if not isinstance(embedded, list):
        raise BadResponse("expected a list", field=f"{where}.messages")
    entries = [(f"{where}.messages[{i}]", entry) for i, entry in enumerate(embedded)]
    latest = raw.get("last_non_activity_message")
    if latest is not None:
        entries.append((f"{where}.last_non_activity_message", latest))
    return frozenset(
        wire.integer(entry, "id", at, low=1, high=2**63 - 1)
        for at, entry in entries
        if _by_campaign(entry, at)
    )


def conversations(body: Any, buyer_key: BuyerKey) -> list[Conversation]:
    data = wire.field(body, "data", "body")
    found = []
    for i, raw in enumerate(wire.items(data, "payload")):
        where = f"data.payload[{i}]"
        meta = wire.field(raw, "meta", where)
        contact = wire.field(meta, "sender", f"{where}.meta")
        found.append(
            Conversation(
                id=str(wire.integer(raw, "id", where, low=1, high=2**63 - 1)),
                buyer_id=_contact_buyer_id(contact, f"{where}.meta.sender", buyer_key),
                last_activity_at=epoch(raw, _activity_key(raw), where),
                campaign_message_ids=_campaign_message_ids(raw, where),
            )
        )
    return found


def _activity_key(raw: Any) -> str:
    return (
        "timestamp"
        if isinstance(raw, Mapping) and "last_activity_at" not in raw
        else ("last_activity_at")
    )


def _message(raw: Any, where: str, conversation: Conversation) -> Message | None:
    kind = wire.integer(raw, "message_type", where, low=INCOMING, high=TEMPLATE)
    if kind == ACTIVITY or wire.boolean(raw, "private", where):
        return None
    sender = raw.get("sender")
    if sender is not None and not isinstance(sender, Mapping):
        raise BadResponse("expected an object or null", field=f"{where}.sender")
    by_agent = sender is not None and sender.get("type") == HUMAN_SENDER
    agent_id = (
        str(wire.integer(sender, "id", f"{where}.sender", low=1, high=2**63 - 1))
        if sender is not None and by_agent
        else None
    )
    is_buyer = kind == INCOMING
    message_id = wire.integer(raw, "id", where, low=1, high=2**63 - 1)
    return Message(
        id=str(message_id),
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        direction=Direction.BUYER if is_buyer else Direction.AGENT,
        agent_id=None if is_buyer else agent_id,
        is_auto=not is_buyer
        and (
            kind == TEMPLATE
            or not by_agent
            or _marked(raw, "content_attributes", "automation_rule_id", where)
            or _by_campaign(raw, where)
            or message_id in conversation.campaign_message_ids
            or _failed(raw, where)
        ),
        sent_at=_sent_at(raw, where),
        text=wire.string(raw, "content", where, nullable=True) or "",
    )


def _failed(raw: Any, where: str) -> bool:
    """Chatwoot's ``status`` (sent, delivered, read, failed): a failed message never reached the
    buyer. Older servers leave it out of the messages index."""
    status = raw.get("status")
    if status is not None and not isinstance(status, str):
        raise BadResponse("expected a string or null", field=f"{where}.status")
    return status == FAILED


def _sent_at(raw: Any, where: str) -> datetime:
    sent_at = epoch(raw, "created_at", where)
    if sent_at is None:
        raise BadResponse("a message without a time", field=f"{where}.created_at")
    return sent_at


def messages(body: Any, conversation: Conversation) -> list[ListedMessage]:
    """The entries of one messages answer. An entry whose id or time does not read fails the
    answer (paging back depends on them); one that fails otherwise (an unknown
    ``message_type``, a sender without an id) is refused alone, keyed by its conversation."""
    listed = []
    for i, raw in enumerate(wire.items(body, "payload")):
        where = f"conversations[{conversation.id}].payload[{i}]"
        message_id = wire.integer(raw, "id", where, low=1, high=2**63 - 1)
        sent_at = _sent_at(raw, where)
        try:
            message, refused = _message(raw, where, conversation), None
        except BadResponse as error:
            refused = wire.rejected(error, where, conversation.id, conversation.buyer_id)
            message = None
        listed.append(
            ListedMessage(id=message_id, sent_at=sent_at, message=message, rejected=refused)
        )
    return listed


def agent_statuses(body: Any) -> list[tuple[str, PresenceStatus]]:
    if not isinstance(body, list):
        raise BadResponse("expected a JSON list of agents", field="agents")
    statuses = []
    for i, raw in enumerate(body):
        where = f"agents[{i}]"
        value = wire.string(raw, "availability_status", where)
        status = AVAILABILITY.get(value or "")
        if status is None:
            raise BadResponse(
                f"{value!r} is not one of {', '.join(AVAILABILITY)}",
                field=f"{where}.availability_status",
            )
        statuses.append((str(wire.integer(raw, "id", where, low=1, high=2**63 - 1)), status))
    return statuses
