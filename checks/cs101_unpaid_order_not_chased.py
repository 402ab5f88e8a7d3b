"""CS101 unpaid order not chased (未及时催付).

What:
    An order seen awaiting payment must be chased: an agent writes to the buyer within
    ``within`` of business time after the order was placed.

Why:
    Policy 1: "an unpaid order not chased within one hour of being placed: 5 yuan per spot
    check". Daily routine step 2: "for orders awaiting payment first check whether the
    buyer has another, paid order; if not, chase".

Satisfied when any of these holds, with ``D = business_deadline(created_at, within)``:
    - an agent message (not an auto-reply) to the same buyer with created_at ≤ sent_at ≤ D;
    - the order was paid (``paid_at ≤ D``) or closed (``closed_at ≤ D``) by D;
    - another order of the buyer was paid in ``[created_at − sibling_window, D]``.
    Otherwise, once both streams' watermarks have reached D, it is a violation.

Example timeline (day shift 08:30–17:30, within = 60 min):
    10:00 order O1 placed, awaiting payment, D = 11:00
    10:40 buyer asks about shipping; 10:41 auto-reply (does not count)
    11:00 watermarks pass D with no agent message → CS101 violation on O1,
          attributed to the agent who last wrote to the buyer, if on duty at 11:00.
    An order placed at 17:10 has D = 09:10 the next morning: the clock pauses overnight.

Options:
    within [60m], points [2], fine [5 CNY], warn_before [15m], sibling_window [24h].

Known limits:
    An order created before the chat history starts (the daemon was started later, with a
    shorter backfill) cannot be judged and is counted undecidable (``history_incomplete``).
    An order whose buyer could not be identified (the order lacks the value the connector
    pairs buyers by, e.g. Shopify withholding e-mail addresses from an app without protected
    customer data access) cannot be paired with any chat or sibling order: unless it was paid
    or closed in time it is counted undecidable (``buyer_unidentified``), never a violation.
    A sibling order paid before the order history starts is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from checks.attribution import attributed_breach
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, Clock, Fact, OrderVersionRecord, instant
from checks.options import RuleOptions
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Satisfied, Subject
from checks.verdicts import BUYER_UNIDENTIFIED, HISTORY_INCOMPLETE, chat_not_conclusive
from connectors.model import Order, OrderStatus

CODE = "CS101"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(minutes=60)
    points: int = 2
    fine: Decimal = Decimal(5)
    sibling_window: timedelta = timedelta(hours=24)
    """A payment on another order of the buyer this long before the order counts as paid."""

    def lookback(self) -> timedelta:
        return self.sibling_window


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpaidOrder:
    id: str
    created_at: str | None
    versions: tuple[OrderVersionRecord, ...]


@dataclass(frozen=True, kw_only=True)
class UnchasedEvidence(BreachEvidence):
    """The unpaid order with every observed version, and the time allowed."""

    order: UnpaidOrder | None = None
    within_seconds: float = 0

    def facts(self, at: Clock) -> list[Fact]:
        if self.order is None:
            return []
        order = self.order
        return [
            (
                f"订单 {order.id} {at(order.created_at)} 下单",
                f"order {order.id} placed {at(order.created_at)}",
            ),
            (
                f"观察到 {len(order.versions)} 个订单版本",
                f"{len(order.versions)} order version(s) observed",
            ),
        ]


def _paid_time(version: Order) -> datetime | None:
    if version.paid_at is not None:
        return version.paid_at
    # A version that says "paid" without a paid_at was paid by the time it was written.
    if version.status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED):
        return version.updated_at
    return None


def _closed_time(version: Order) -> datetime | None:
    if version.closed_at is not None:
        return version.closed_at
    return version.updated_at if version.status is OrderStatus.CLOSED else None


def _settled_by(versions: list[Order], deadline: datetime) -> str | None:
    """Why the order itself needs no chase by the deadline, if it doesn't."""
    for version in versions:
        paid = _paid_time(version)
        if paid is not None and paid <= deadline:
            return "paid"
        closed = _closed_time(version)
        if closed is not None and closed <= deadline:
            return "closed"
    return None


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    by_order = evidence.versions_by_order()
    conversation = evidence.conversation()
    for order_id, versions in by_order.items():
        if not any(v.status is OrderStatus.AWAITING_PAYMENT for v in versions):
            continue
        subject = Subject(rule=CODE, type="order", id=order_id, buyer_id=evidence.buyer_id)
        created_at = versions[0].created_at
        deadline = evidence.calendar.business_deadline(created_at, options.within)

        if _settled_by(versions, deadline) is not None:
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
            continue
        if any(m.is_agent_message and created_at <= m.sent_at <= deadline for m in conversation):
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
            continue
        window_start = created_at - options.sibling_window
        if any(
            (paid := _paid_time(v)) is not None and window_start <= paid <= deadline
            for other_id, other in by_order.items()
            if other_id != order_id
            for v in other
        ):
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
            continue

        undecided = chat_not_conclusive(
            subject, deadline, since=created_at, versions=versions, evidence=evidence
        )
        if undecided is not None:
            outcomes.append(undecided)
            continue

        outcomes.append(
            attributed_breach(
                subject,
                deadline,
                evidence,
                points=options.points,
                fine=options.fine,
                record=UnchasedEvidence(
                    order=UnpaidOrder(
                        id=order_id,
                        created_at=instant(created_at),
                        versions=tuple(OrderVersionRecord.of(v) for v in versions),
                    ),
                    within_seconds=options.within.total_seconds(),
                ),
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="unpaid-order-not-chased",
    name_zh="未及时催付",
    name_en="Unpaid order not chased",
    subject_type="order",
    options_type=Options,
    evidence_type=UnchasedEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    action=("请联系买家催付", "chase the buyer for payment"),
    undecidable_reasons=(HISTORY_INCOMPLETE, BUYER_UNIDENTIFIED),
)
