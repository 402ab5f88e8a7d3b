"""Pure translation of WooCommerce orders and order notes into model records.

Status mapping (research §6), extendable per shop with ``status_map`` for the custom statuses
plugins add::

    pending, on-hold                       → awaiting_payment
    processing                             → paid
    completed                              → completed
    cancelled, failed, refunded, trash     → closed (closed_at = date_modified_gmt)

``checkout-draft`` (a block checkout still in progress) is not an order yet and is skipped. Any
other status rejects that order (the page's others are kept) with a message naming
``status_map``.

``_gmt`` times carry no offset although they are UTC; they are read as UTC.

**The seller memo** is read from the order's private notes, as WooCommerce records them
(``WC_Order::add_order_note`` and the v3 notes controller): a note written in the admin by a
person carries that person's display name as ``author``; a note WooCommerce or a plugin writes
on its own carries the author "system" (some versions send the raw "WooCommerce" instead; both
are read as the system). Two kinds of note break the simple "not system = memo" reading:

* WooCommerce logs some of a person's *actions* under that person's name: a manual status
  change ("Order status changed from On hold to Processing.", possibly after a note such as
  "Order status changed by bulk edit:"), "Order status set to …", "Added line items: …",
  "Deleted …", "Adjusted stock: …". These are records, not memos: :data:`ACTION_RECORDS`.
* A note written through the REST API is attributed to the system unless the writer sends
  ``added_by_user: true`` (then it carries the API key's user), so a memo written by another
  tool looks exactly like a payment gateway's note.

So a private note (``customer_note`` false) is the seller memo when

* ``memo_prefix`` is unset: its author is a person and it is not one of WooCommerce's action
  records (recognised in the English wording WooCommerce core writes);
* ``memo_prefix`` is set: its text starts with the prefix (compared without case), whoever the
  author — the way for memos written through the REST API without ``added_by_user``, and for
  stores whose admin language is not English. The prefix is not part of the memo text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from connectors import identity, wire
from connectors.errors import BadResponse
from connectors.model import Order, OrderStatus

STATUS = {
    "pending": OrderStatus.AWAITING_PAYMENT,
    "on-hold": OrderStatus.AWAITING_PAYMENT,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CLOSED,
    "failed": OrderStatus.CLOSED,
    "refunded": OrderStatus.CLOSED,
    "trash": OrderStatus.CLOSED,
}
DRAFT = "checkout-draft"
SYSTEM_AUTHORS = frozenset({"system", "woocommerce"})
"""``author`` of a note nobody wrote by hand, compared without case: the v3 controller maps the
stored author "WooCommerce" to "system" by comparing it with ``__( 'woocommerce' )``, which not
every version and locale matches."""
ACTION_RECORDS = (
    re.compile(r"Order status changed from .+ to .+\.\s*$", re.DOTALL),
    re.compile(r"Order status set to .+\.\s*$", re.DOTALL),
    re.compile(r"^Added line items: "),
    re.compile(r"^Deleted "),
    re.compile(r"^Adjusted stock: "),
)
"""What WooCommerce core writes under a person's name when that person acts on the order
(``WC_Order::status_transition`` with a manual change; the admin's item and stock edits)."""
FALSE_WORDS = frozenset({"", "0", "no", "false", "off"})


class BuyerKey(enum.StrEnum):
    EMAIL = "email"
    CUSTOMER_ID = "customer_id"
    PHONE = "phone"


@dataclass(frozen=True, slots=True, kw_only=True)
class WooRules:
    buyer_key: BuyerKey = BuyerKey.EMAIL
    status_map: Mapping[str, OrderStatus] = field(default_factory=dict)
    """Custom statuses (and overrides), e.g. ``{"shipped": OrderStatus.SHIPPED}``."""
    flag_meta_key: str | None = None
    """An order meta key whose truthy value marks the order flagged (WooCommerce has no flag)."""
    memo_prefix: str | None = None
    """When set, a private note is the memo exactly when it starts with this (any author)."""


@dataclass(frozen=True, slots=True)
class Note:
    """A private note that is the seller memo (see the module docstring)."""

    created_at: datetime
    text: str


def gmt_instant(raw: Any, key: str, where: str, *, nullable: bool = False) -> datetime | None:
    """A ``…_gmt`` time: ISO 8601 without an offset, meaning UTC. An offset, if WooCommerce
    ever sends one, is honoured."""
    value = wire.field(raw, key, where)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadResponse("expected an ISO 8601 string", field=f"{where}.{key}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadResponse(f"not ISO 8601: {value!r}", field=f"{where}.{key}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _required_gmt(raw: Any, key: str, where: str) -> datetime:
    value = gmt_instant(raw, key, where)
    assert value is not None
    return value


def order_rows(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise BadResponse("expected a JSON list of orders", field="orders")
    return body


def is_draft(raw: Any, where: str) -> bool:
    return wire.string(raw, "status", where) == DRAFT


def id_of(raw: Any, where: str) -> str:
    return str(wire.integer(raw, "id", where, low=1, high=2**63 - 1))


def order_key(raw: Any) -> str | None:
    """The order's id if it can be read, for an order refused for another field."""
    return wire.lenient(lambda: id_of(raw, "order"))


def order_buyer(raw: Any, rules: WooRules) -> str | None:
    """The order's buyer if it can be read, for an order refused for another field."""
    key = order_key(raw)
    return None if key is None else wire.lenient(lambda: _buyer_id(raw, "order", rules, key))


def _status(raw: Any, where: str, rules: WooRules) -> OrderStatus:
    value = wire.required_string(raw, "status", where)
    status = rules.status_map.get(value) or STATUS.get(value)
    if status is None:
        raise BadResponse(
            f"unknown order status {value!r}; map it with status_map, "
            f'e.g. status_map = {{ "{value}" = "paid" }}',
            field=f"{where}.status",
        )
    return status


def _billing(raw: Any, where: str) -> Mapping[str, Any]:
    billing = wire.field(raw, "billing", where)
    if not isinstance(billing, Mapping):
        raise BadResponse("expected an object", field=f"{where}.billing")
    return billing


def _buyer_id(raw: Any, where: str, rules: WooRules, order_id: str) -> str:
    customer_id = wire.integer(raw, "customer_id", where, low=0, high=2**63 - 1)
    billing = _billing(raw, where)
    if rules.buyer_key is BuyerKey.CUSTOMER_ID:
        found = str(customer_id) if customer_id else None  # 0 = guest checkout
    elif rules.buyer_key is BuyerKey.EMAIL:
        found = identity.email(billing.get("email"))
    else:
        found = identity.phone(billing.get("phone"))
    if found is not None:
        return found
    if customer_id:
        return identity.local("woocommerce", "customer", customer_id)
    return identity.local("woocommerce", "order", order_id)


def _seller_flag(raw: Any, where: str, rules: WooRules) -> int:
    if rules.flag_meta_key is None:
        return 0
    entries = wire.field(raw, "meta_data", where)
    if not isinstance(entries, list):
        raise BadResponse("expected a list", field=f"{where}.meta_data")
    for i, entry in enumerate(entries):
        if wire.string(entry, "key", f"{where}.meta_data[{i}]") == rules.flag_meta_key:
            value = entry.get("value")
            if value not in (None, False, 0) and str(value).strip().lower() not in FALSE_WORDS:
                return 1
    return 0


def order(raw: Any, where: str, rules: WooRules) -> Order:
    """One order as listed. ``seller_memo`` is ``None`` here: the memo lives in the order's
    notes, added by :func:`with_memo` where it matters."""
    order_id = id_of(raw, where)
    status = _status(raw, where, rules)
    updated_at = _required_gmt(raw, "date_modified_gmt", where)
    note = wire.string(raw, "customer_note", where, nullable=True)
    return Order(
        id=order_id,
        buyer_id=_buyer_id(raw, where, rules, order_id),
        status=status,
        created_at=_required_gmt(raw, "date_created_gmt", where),
        updated_at=updated_at,
        paid_at=gmt_instant(raw, "date_paid_gmt", where, nullable=True),
        # WooCommerce keeps no cancellation time; the modification that carried the status
        # is the latest moment the order is known to have been closed.
        closed_at=updated_at if status is OrderStatus.CLOSED else None,
        buyer_message=(note or "").strip() or None,
        seller_memo=None,
        seller_flag=_seller_flag(raw, where, rules),
        amount=wire.decimal(raw, "total", where),
        currency=wire.identifier(raw, "currency", where, longest=8),
    )


def needs_memo(order: Order) -> bool:
    """Only a paid order with a buyer message is a CS103 subject; only it is worth the extra
    notes request."""
    return order.paid_at is not None and order.has_buyer_message


def is_action_record(text: str) -> bool:
    return any(pattern.search(text) for pattern in ACTION_RECORDS)


def memo_text(author: str, text: str, rules: WooRules) -> str | None:
    """The memo a private note carries, or ``None`` when it is no memo (module docstring)."""
    if rules.memo_prefix is not None:
        prefix = rules.memo_prefix.casefold()
        if not text.casefold().startswith(prefix):
            return None
        return text[len(prefix) :].strip() or None
    if author.strip().casefold() in SYSTEM_AUTHORS or is_action_record(text):
        return None
    return text


def memo_notes(body: Any, where: str, rules: WooRules) -> list[Note]:
    """The order's notes that are the seller memo, oldest first.

    ``customer_note = true`` notes were e-mailed to the buyer and are never the memo.
    """
    if not isinstance(body, list):
        raise BadResponse("expected a JSON list of notes", field=f"{where}.notes")
    notes = []
    for i, raw in enumerate(body):
        at = f"{where}.notes[{i}]"
        if wire.boolean(raw, "customer_note", at):
            continue
        author = wire.string(raw, "author", at) or ""
        text = memo_text(author, (wire.string(raw, "note", at) or "").strip(), rules)
        if text:
            notes.append(Note(created_at=_required_gmt(raw, "date_created_gmt", at), text=text))
    return sorted(notes, key=lambda note: note.created_at)


def with_memo(order: Order, notes: list[Note]) -> list[Order]:
    """The listed version with the memo as it stood then, plus one later version per note
    written after it.

    Adding a note need not change the order's ``date_modified`` (unverified), so a note
    written after the listed version is its own observed change: it is never dated back onto
    the listed version, where it could wrongly satisfy CS103.
    """

    def memo_at(moment: datetime) -> str | None:
        return "\n".join(n.text for n in notes if n.created_at <= moment) or None

    versions = [replace(order, seller_memo=memo_at(order.updated_at))]
    for moment in sorted({n.created_at for n in notes if n.created_at > order.updated_at}):
        versions.append(replace(order, updated_at=moment, seller_memo=memo_at(moment)))
    return versions
