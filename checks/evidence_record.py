"""How a rule writes down its evidence: plain JSON a supervisor can read next to the ledger.

Every deduction carries the order versions and message ids and times it rests on (SPEC §7).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from checks.evidence import Watermarks
from connectors.model import Message, Order


def instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def order_version(version: Order) -> dict[str, Any]:
    return {
        "updated_at": instant(version.updated_at),
        "status": version.status.value,
        "paid_at": instant(version.paid_at),
        "closed_at": instant(version.closed_at),
        "seller_memo": version.seller_memo,
        "seller_flag": version.seller_flag,
    }


def message(msg: Message | None) -> dict[str, Any] | None:
    if msg is None:
        return None
    return {
        "id": msg.id,
        "direction": msg.direction.value,
        "agent_id": msg.agent_id,
        "is_auto": msg.is_auto,
        "sent_at": instant(msg.sent_at),
    }


def messages(msgs: Iterable[Message]) -> list[dict[str, Any] | None]:
    return [message(m) for m in msgs]


def watermarks(marks: Watermarks) -> dict[str, Any]:
    return {"orders": instant(marks.orders.watermark), "chat": instant(marks.chat.watermark)}
