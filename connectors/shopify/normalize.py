"""Pure translation of Shopify REST orders and transactions into model records.

Shopify keeps payment, cancellation and fulfilment apart; the status is derived from them::

    cancelled_at set                          → closed (closed_at = cancelled_at)
    financial_status refunded|voided|expired  → closed (closed_at = closed_at or updated_at)
    financial_status pending                  → awaiting_payment
    authorized|partially_paid|paid|partially_refunded, then by fulfillment_status:
        fulfilled and archived (closed_at set) → completed
        fulfilled or partial                   → shipped
        anything else                          → paid

``authorized`` counts as paid, unlike research §6: with manual capture every order stays
``authorized`` until the shop captures it, and the buyer has nothing left to do — chasing them
for payment (CS101) would be wrong. An unknown ``financial_status`` rejects the page; an
unknown ``fulfillment_status`` reads as not shipped, which no rule depends on.

Shopify has no paid-at time: :func:`paid_at` derives it from the order's transactions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import identity, wire
from connectors.errors import BadResponse
from connectors.model import Order, OrderStatus

CLOSING_FINANCIAL = frozenset({"refunded", "voided", "expired"})
UNPAID_FINANCIAL = frozenset({"pending"})
PAYMENT_TAKEN = frozenset(
    {"authorized", "partially_paid", "paid", "partially_refunded", "refunded"}
)
"""Financial states in which the buyer has paid (or the payment was authorised)."""
KNOWN_FINANCIAL = CLOSING_FINANCIAL | UNPAID_FINANCIAL | PAYMENT_TAKEN
PAYING_TRANSACTIONS = frozenset({"sale", "capture", "authorization"})


class BuyerKey(enum.StrEnum):
    EMAIL = "email"
    CUSTOMER_ID = "customer_id"
    PHONE = "phone"


class MemoSource(enum.StrEnum):
    TAGS = "tags"
    NOTE_ATTRIBUTES = "note_attributes"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopifyRules:
    """The shop's conventions for what Shopify lacks: a seller memo and a flag.

    ``memo_source = tags``: every tag starting with ``memo_tag_prefix`` ("memo:Call first")
    is memo text. ``memo_source = note_attributes``: the value of the note attribute named
    ``memo_attribute`` is. ``flag_tag``, when set, marks a flagged order (seller_flag 1).
    ``message_attributes`` names note attributes that are buyer requirements, read into the
    buyer message after the checkout ``note``.
    """

    memo_source: MemoSource
    memo_tag_prefix: str = ""
    memo_attribute: str = ""
    flag_tag: str | None = None
    buyer_key: BuyerKey = BuyerKey.EMAIL
    message_attributes: tuple[str, ...] = ()


def order_rows(body: Any) -> list[Any]:
    return wire.items(body, "orders")


def _financial_status(raw: Any, where: str) -> str:
    value = wire.string(raw, "financial_status", where)
    if value not in KNOWN_FINANCIAL:
        known = ", ".join(sorted(KNOWN_FINANCIAL))
        raise BadResponse(f"{value!r} is not one of {known}", field=f"{where}.financial_status")
    assert value is not None
    return value


def payment_taken(raw: Any, where: str) -> bool:
    """Whether the order has a paid-at time to derive from its transactions."""
    return _financial_status(raw, where) in PAYMENT_TAKEN


def paid_at(body: Any) -> datetime | None:
    """When the buyer's payment was first accepted: the earliest successful sale, capture or
    authorization. ``None`` when there is none (the order then has no paid-at time)."""
    times = []
    for i, raw in enumerate(wire.items(body, "transactions")):
        where = f"transactions[{i}]"
        kind = wire.string(raw, "kind", where)
        status = wire.string(raw, "status", where)
        if kind in PAYING_TRANSACTIONS and status == "success":
            processed = raw.get("processed_at")
            times.append(
                wire.parse_instant(processed, f"{where}.processed_at")
                if processed is not None
                else wire.instant(raw, "created_at", where)
            )
    return min(times, default=None)


def _status(raw: Any, where: str) -> tuple[OrderStatus, datetime | None]:
    """The order's status and, for a closed order, when it closed."""
    financial = _financial_status(raw, where)
    cancelled_at = wire.optional_instant(raw, "cancelled_at", where)
    archived_at = wire.optional_instant(raw, "closed_at", where)
    if cancelled_at is not None:
        return OrderStatus.CLOSED, cancelled_at
    if financial in CLOSING_FINANCIAL:
        return OrderStatus.CLOSED, archived_at or wire.instant(raw, "updated_at", where)
    if financial in UNPAID_FINANCIAL:
        return OrderStatus.AWAITING_PAYMENT, None
    fulfillment = raw.get("fulfillment_status")
    if fulfillment == "fulfilled":
        return (OrderStatus.COMPLETED if archived_at else OrderStatus.SHIPPED), None
    if fulfillment == "partial":
        return OrderStatus.SHIPPED, None
    return OrderStatus.PAID, None


def tags(raw: Any, where: str) -> list[str]:
    """``"vip, memo:Call first"`` → ``["vip", "memo:Call first"]``."""
    value = wire.string(raw, "tags", where, nullable=True) or ""
    return [tag.strip() for tag in value.split(",") if tag.strip()]


def note_attributes(raw: Any, where: str) -> list[tuple[str, str]]:
    value = wire.field(raw, "note_attributes", where)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadResponse("expected a list", field=f"{where}.note_attributes")
    pairs = []
    for i, item in enumerate(value):
        name = wire.required_string(item, "name", f"{where}.note_attributes[{i}]")
        text = wire.field(item, "value", f"{where}.note_attributes[{i}]")
        pairs.append((name, "" if text is None else str(text)))
    return pairs


def _joined(parts: list[str], separator: str) -> str | None:
    kept = [part.strip() for part in parts if part and part.strip()]
    return separator.join(kept) or None


def _buyer_message(raw: Any, where: str, rules: ShopifyRules) -> str | None:
    note = wire.string(raw, "note", where, nullable=True) or ""
    wanted = [
        f"{name}: {value}"
        for name, value in note_attributes(raw, where)
        if name in rules.message_attributes and value.strip()
    ]
    return _joined([note, *wanted], "\n")


def _seller_memo(raw: Any, where: str, rules: ShopifyRules) -> str | None:
    if rules.memo_source is MemoSource.TAGS:
        prefix = rules.memo_tag_prefix.casefold()
        memos = [t[len(prefix) :] for t in tags(raw, where) if t.casefold().startswith(prefix)]
        return _joined(memos, "; ")
    values = [value for name, value in note_attributes(raw, where) if name == rules.memo_attribute]
    return _joined(values, "; ")


def _seller_flag(raw: Any, where: str, rules: ShopifyRules) -> int:
    if rules.flag_tag is None:
        return 0
    wanted = rules.flag_tag.casefold()
    return 1 if any(tag.casefold() == wanted for tag in tags(raw, where)) else 0


def _buyer_id(raw: Any, where: str, rules: ShopifyRules, order_id: str) -> str:
    customer = raw.get("customer")
    if customer is not None and not isinstance(customer, Mapping):
        raise BadResponse("expected an object or null", field=f"{where}.customer")
    customer = customer or {}
    if rules.buyer_key is BuyerKey.CUSTOMER_ID:
        found = identity.shared_id(customer.get("id"))
    elif rules.buyer_key is BuyerKey.EMAIL:
        found = identity.email(customer.get("email")) or identity.email(raw.get("email"))
    else:
        found = identity.phone(customer.get("phone")) or identity.phone(raw.get("phone"))
    if found is not None:
        return found
    if customer.get("id") is not None:
        return identity.local("shopify", "customer", customer["id"])
    return identity.local("shopify", "order", order_id)


def id_of(raw: Any, where: str) -> str:
    return str(wire.integer(raw, "id", where, low=1, high=2**63 - 1))


def order(raw: Any, where: str, rules: ShopifyRules, *, paid_at: datetime | None) -> Order:
    order_id = id_of(raw, where)
    status, closed_at = _status(raw, where)
    return Order(
        id=order_id,
        buyer_id=_buyer_id(raw, where, rules, order_id),
        status=status,
        created_at=wire.instant(raw, "created_at", where),
        updated_at=wire.instant(raw, "updated_at", where),
        paid_at=paid_at,
        closed_at=closed_at,
        buyer_message=_buyer_message(raw, where, rules),
        seller_memo=_seller_memo(raw, where, rules),
        seller_flag=_seller_flag(raw, where, rules),
        amount=wire.decimal(raw, "total_price", where),
        currency=wire.required_string(raw, "currency", where),
    )
