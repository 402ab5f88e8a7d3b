"""Pure translation of GraphQL Admin API orders and abandoned checkouts into model records.

Shopify keeps payment, cancellation and fulfilment apart; an order's status is derived::

    cancelledAt set                                  → closed (closed_at = cancelledAt)
    displayFinancialStatus REFUNDED|VOIDED|EXPIRED   → closed (closed_at = closedAt or updatedAt)
    displayFinancialStatus PENDING                   → awaiting_payment
    AUTHORIZED|PARTIALLY_PAID|PAID|PARTIALLY_REFUNDED, or null, then by displayFulfillmentStatus:
        FULFILLED and archived (closedAt set)        → completed
        FULFILLED or PARTIALLY_FULFILLED             → shipped
        anything else                                → paid

``AUTHORIZED`` counts as paid: with manual capture every order stays authorized until the shop
captures it, and the buyer has nothing left to do — chasing them for payment (CS101) would be
wrong. The field is nullable in the schema; null (no payment state shown) is read as nothing
owed. A value outside the enum rejects that order alone (it cannot happen on the pinned
version: a GraphQL enum changes only with a new version); an unknown fulfilment status reads
as not shipped, which no rule depends on.

Shopify has no paid-at time: :func:`paid_at` takes the earliest successful sale, capture or
authorization among the order's transactions, which the orders query selects with the order.
It is read only where the buyer paid (:data:`PAID_AT_READ`, or no payment state at all): a
voided authorization or an expired one is no payment.

An **abandoned checkout** (a buyer who gave contact details and did not pay) becomes an order
version whose id is ``checkout:<id>`` — never equal to an order id, which is all digits —
awaiting payment until ``completedAt``, then closed at that time.
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

CLOSING_FINANCIAL = frozenset({"REFUNDED", "VOIDED", "EXPIRED"})
UNPAID_FINANCIAL = frozenset({"PENDING"})
PAYMENT_TAKEN = frozenset({"AUTHORIZED", "PARTIALLY_PAID", "PAID", "PARTIALLY_REFUNDED"})
KNOWN_FINANCIAL = CLOSING_FINANCIAL | UNPAID_FINANCIAL | PAYMENT_TAKEN
"""``OrderDisplayFinancialStatus`` of the pinned version."""
PAID_AT_READ = PAYMENT_TAKEN | {"REFUNDED"}
"""States in which the buyer did pay, so the order has a paid-at time (a refund comes later);
with null (no payment state) the transactions alone decide."""
PAYING_TRANSACTIONS = frozenset({"SALE", "CAPTURE", "AUTHORIZATION"})
CHECKOUT_GID = "gid://shopify/AbandonedCheckout/"
CHECKOUT_PREFIX = "checkout:"


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
    is memo text. ``memo_source = note_attributes``: the value of the note attribute (GraphQL
    ``customAttributes``) named ``memo_attribute`` is. ``flag_tag``, when set, marks a flagged
    order (seller_flag 1). ``message_attributes`` names note attributes that are buyer
    requirements, read into the buyer message after the checkout ``note``.
    """

    memo_source: MemoSource
    memo_tag_prefix: str = ""
    memo_attribute: str = ""
    flag_tag: str | None = None
    buyer_key: BuyerKey = BuyerKey.EMAIL
    message_attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    nodes: list[Any]
    end_cursor: str | None
    """The cursor of the next page; ``None`` on the last page."""


def connection(data: Mapping[str, Any], root: str) -> Connection:
    """``data.<root>``: its ``nodes`` and, when ``pageInfo.hasNextPage``, the cursor."""
    value = wire.field(data, root, "data")
    if not isinstance(value, Mapping):
        raise BadResponse("expected an object", field=root)
    nodes = wire.field(value, "nodes", root)
    if not isinstance(nodes, list):
        raise BadResponse("expected a list", field=f"{root}.nodes")
    page_info = wire.field(value, "pageInfo", root)
    has_next = wire.boolean(page_info, "hasNextPage", f"{root}.pageInfo")
    cursor = wire.string(page_info, "endCursor", f"{root}.pageInfo", nullable=True)
    if has_next and not cursor:
        raise BadResponse("hasNextPage without an endCursor", field=f"{root}.pageInfo.endCursor")
    return Connection(nodes=nodes, end_cursor=cursor if has_next else None)


def _object(raw: Any, key: str, where: str) -> Mapping[str, Any] | None:
    value = wire.field(raw, key, where)
    if value is not None and not isinstance(value, Mapping):
        raise BadResponse("expected an object or null", field=f"{where}.{key}")
    return value


def _financial_status(raw: Any, where: str) -> str | None:
    value = wire.string(raw, "displayFinancialStatus", where, nullable=True)
    if value is not None and value not in KNOWN_FINANCIAL:
        known = ", ".join(sorted(KNOWN_FINANCIAL))
        raise BadResponse(
            f"{value!r} is not one of {known}", field=f"{where}.displayFinancialStatus"
        )
    return value


def paid_at(raw: Any, where: str) -> datetime | None:
    """When the buyer's payment was first accepted: the earliest successful sale, capture or
    authorization. ``None`` when there is none (the order then has no paid-at time)."""
    transactions = wire.field(raw, "transactions", where)
    if not isinstance(transactions, list):
        raise BadResponse("expected a list", field=f"{where}.transactions")
    times = []
    for i, item in enumerate(transactions):
        at = f"{where}.transactions[{i}]"
        kind = wire.string(item, "kind", at)
        status = wire.string(item, "status", at)
        if kind in PAYING_TRANSACTIONS and status == "SUCCESS":
            processed = wire.optional_instant(item, "processedAt", at)
            times.append(processed or wire.instant(item, "createdAt", at))
    return min(times, default=None)


def _status(raw: Any, where: str) -> tuple[OrderStatus, datetime | None]:
    """The order's status and, for a closed order, when it closed."""
    financial = _financial_status(raw, where)
    cancelled_at = wire.optional_instant(raw, "cancelledAt", where)
    archived_at = wire.optional_instant(raw, "closedAt", where)
    if cancelled_at is not None:
        return OrderStatus.CLOSED, cancelled_at
    if financial in CLOSING_FINANCIAL:
        return OrderStatus.CLOSED, archived_at or wire.instant(raw, "updatedAt", where)
    if financial in UNPAID_FINANCIAL:
        return OrderStatus.AWAITING_PAYMENT, None
    fulfillment = wire.string(raw, "displayFulfillmentStatus", where, nullable=True)
    if fulfillment == "FULFILLED":
        return (OrderStatus.COMPLETED if archived_at else OrderStatus.SHIPPED), None
    if fulfillment == "PARTIALLY_FULFILLED":
        return OrderStatus.SHIPPED, None
    return OrderStatus.PAID, None


def tags(raw: Any, where: str) -> list[str]:
    value = wire.field(raw, "tags", where)
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise BadResponse("expected a list of strings", field=f"{where}.tags")
    return [tag.strip() for tag in value if tag.strip()]


def note_attributes(raw: Any, where: str) -> list[tuple[str, str]]:
    """The order's note attributes (``customAttributes``: cart attributes) as (key, value)."""
    value = wire.field(raw, "customAttributes", where)
    if not isinstance(value, list):
        raise BadResponse("expected a list", field=f"{where}.customAttributes")
    pairs = []
    for i, item in enumerate(value):
        at = f"{where}.customAttributes[{i}]"
        pairs.append(
            (
                wire.required_string(item, "key", at),
                wire.string(item, "value", at, nullable=True) or "",
            )
        )
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


def _nested_string(raw: Any, key: str, inner: str, where: str) -> str | None:
    """``raw.<key>.<inner>``, where the object may be null (absent, or withheld)."""
    value = _object(raw, key, where)
    return None if value is None else wire.string(value, inner, f"{where}.{key}", nullable=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Buyer:
    id: str
    identified: bool
    """Whether the configured ``buyer_key`` was found; otherwise ``id`` is a local stand-in."""


def buyer(raw: Any, where: str, key: BuyerKey, record: str, record_id: str) -> Buyer:
    """The buyer of an order or checkout by the configured key, read from the fields the query
    selected for that key; a record lacking it gets a platform-local id that never pairs."""
    customer = _object(raw, "customer", where)
    at = f"{where}.customer"
    customer_id = None if customer is None else wire.string(customer, "legacyResourceId", at)
    found: str | None
    if key is BuyerKey.CUSTOMER_ID:
        found = identity.shared_id(customer_id)
    elif key is BuyerKey.EMAIL:
        own = (
            None
            if customer is None
            else _nested_string(customer, "defaultEmailAddress", "emailAddress", at)
        )
        found = identity.email(own) or (
            identity.email(wire.string(raw, "email", where, nullable=True))
            if record == "order"
            else None
        )
    else:
        own = (
            None
            if customer is None
            else _nested_string(customer, "defaultPhoneNumber", "phoneNumber", at)
        )
        found = identity.phone(own) or (
            identity.phone(wire.string(raw, "phone", where, nullable=True))
            if record == "order"
            else None
        )
    if found is not None:
        return Buyer(id=found, identified=True)
    if customer_id is not None:
        return Buyer(id=identity.local("shopify", "customer", customer_id), identified=False)
    return Buyer(id=identity.local("shopify", record, record_id), identified=False)


def _legacy_id(raw: Any, where: str) -> str:
    """``legacyResourceId``: the numeric id (the REST API's ``id``), sent as a string."""
    value = wire.required_string(raw, "legacyResourceId", where)
    if not value.isdigit() or not value.isascii():
        raise BadResponse(f"not a numeric id: {value!r}", field=f"{where}.legacyResourceId")
    return value


def _money(raw: Any, where: str) -> tuple[Any, str]:
    price = _object(raw, "totalPriceSet", where)
    if price is None:
        raise BadResponse("missing", field=f"{where}.totalPriceSet")
    money = _object(price, "shopMoney", f"{where}.totalPriceSet")
    at = f"{where}.totalPriceSet.shopMoney"
    if money is None:
        raise BadResponse("missing", field=at)
    return wire.decimal(money, "amount", at), wire.required_string(money, "currencyCode", at)


def order(raw: Any, where: str, rules: ShopifyRules) -> Order:
    """One order node of the orders query."""
    order_id = _legacy_id(raw, where)
    status, closed_at = _status(raw, where)
    financial = _financial_status(raw, where)
    paid = paid_at(raw, where) if financial is None or financial in PAID_AT_READ else None
    amount, currency = _money(raw, where)
    who = buyer(raw, where, rules.buyer_key, "order", order_id)
    return Order(
        id=order_id,
        buyer_id=who.id,
        status=status,
        created_at=wire.instant(raw, "createdAt", where),
        updated_at=wire.instant(raw, "updatedAt", where),
        paid_at=paid,
        closed_at=closed_at,
        buyer_message=_buyer_message(raw, where, rules),
        seller_memo=_seller_memo(raw, where, rules),
        seller_flag=_seller_flag(raw, where, rules),
        amount=amount,
        currency=currency,
        buyer_identified=who.identified,
    )


def order_key(raw: Any) -> str | None:
    """The order's id if it can be read, for a record refused for another field."""
    return wire.lenient(lambda: _legacy_id(raw, "order"))


def order_buyer(raw: Any, rules: ShopifyRules) -> str | None:
    """The order's buyer if it can be read, for a record refused for another field."""
    key = order_key(raw)
    if key is None:
        return None
    return wire.lenient(lambda: buyer(raw, "order", rules.buyer_key, "order", key).id)


def checkout_key(raw: Any) -> str | None:
    """The checkout's record id (``checkout:<id>``) if it can be read."""
    return wire.lenient(lambda: checkout_id(raw, "checkout"))


def checkout_buyer(raw: Any, rules: ShopifyRules) -> str | None:
    """The checkout's buyer if it can be read, for a record refused for another field."""
    key = checkout_key(raw)
    if key is None:
        return None
    record_id = key.removeprefix(CHECKOUT_PREFIX)
    return wire.lenient(lambda: buyer(raw, "checkout", rules.buyer_key, "checkout", record_id).id)


def checkout_id(raw: Any, where: str) -> str:
    """``gid://shopify/AbandonedCheckout/123`` → ``checkout:123``."""
    gid = wire.required_string(raw, "id", where)
    number = gid.removeprefix(CHECKOUT_GID)
    if number == gid or not number.isdigit() or not number.isascii():
        raise BadResponse(f"not an abandoned checkout id: {gid!r}", field=f"{where}.id")
    return CHECKOUT_PREFIX + number


def checkout(raw: Any, where: str, rules: ShopifyRules) -> Order:
    """One abandoned checkout as an order version: awaiting payment until completed."""
    record_id = checkout_id(raw, where)
    completed_at = wire.optional_instant(raw, "completedAt", where)
    amount, currency = _money(raw, where)
    who = buyer(raw, where, rules.buyer_key, "checkout", record_id.removeprefix(CHECKOUT_PREFIX))
    return Order(
        id=record_id,
        buyer_id=who.id,
        status=OrderStatus.AWAITING_PAYMENT if completed_at is None else OrderStatus.CLOSED,
        created_at=wire.instant(raw, "createdAt", where),
        updated_at=wire.instant(raw, "updatedAt", where),
        paid_at=None,
        closed_at=completed_at,
        buyer_message=None,
        seller_memo=None,
        seller_flag=0,
        amount=amount,
        currency=currency,
        buyer_identified=who.identified,
    )
