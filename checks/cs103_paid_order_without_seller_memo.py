"""CS103 paid order without seller memo (已付款订单未备注).

What:
    A paid order whose buyer left a message must get a seller memo within ``within`` of
    business time after payment. A starred (flagged) order may wait until the end of the
    shift.

Why:
    Daily routine step 3: "for paid orders check whether the buyer left a message that
    needs a memo"; step 7: "write the memo after the buyer orders; when too busy, flag
    (star) the order first and write the memo when free".

Reading:
    Subject: an order with ``paid_at`` set and a non-blank ``buyer_message``.
    ``D = business_deadline(paid_at, within)``. The order's *state at D* is the newest
    observed version with ``updated_at ≤ D``; it is satisfied if that state has a
    non-blank ``seller_memo``. If that state has a blank memo but ``seller_flag ≠ 0``,
    the deadline moves once, to the end of the shift that contains D, and the state is
    read again there. A violation if the state has a blank memo, or if no version up to D
    was observed and the earliest observed version still has a blank memo; undecidable
    (``no_version_before_deadline``) if the earliest observed version already has one.

Example timeline (day shift 08:30–17:30, within = 30 min):
    14:00 order O7 paid, buyer_message "please send the blue one", D = 14:30
    14:20 agent stars O7 (seller_flag 1), memo still blank
    14:30 state at D: starred, blank → deadline moves to 17:30
    17:30 state at 17:30 still blank → CS103 violation on O7 with deadline 17:30.

Options:
    within [30m], points [2], fine [0], warn_before [15m].

Known limits:
    With no shifts configured (24/7) the "end of the shift" is the end of the local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.attribution import attributed_breach
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, Clock, Fact, OrderVersionRecord, instant
from checks.options import RuleOptions
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Pending, Satisfied, Subject, Undecidable
from connectors.model import Order

CODE = "CS103"
NO_VERSION_BEFORE_DEADLINE = "no_version_before_deadline"
QUOTE_LIMIT = 40


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(minutes=30)
    points: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class PaidOrder:
    id: str
    paid_at: str | None
    buyer_message: str | None
    versions: tuple[OrderVersionRecord, ...]


@dataclass(frozen=True, kw_only=True)
class MissingMemoEvidence(BreachEvidence):
    """The paid order with the buyer's message, and its state when the memo was due."""

    order: PaidOrder | None = None
    first_deadline: str | None = None
    extended_to_shift_end: bool = False
    state_at_deadline: OrderVersionRecord | None = None

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = []
        order = self.order
        if order is not None:
            found.append(
                (
                    f"订单 {order.id} {at(order.paid_at)} 付款",
                    f"order {order.id} paid {at(order.paid_at)}",
                )
            )
            if order.buyer_message:
                quote = order.buyer_message[:QUOTE_LIMIT]
                found.append((f"买家留言「{quote}」", f"buyer note “{quote}”"))
            versions = len(order.versions)
            found.append((f"观察到 {versions} 个订单版本", f"{versions} order version(s) observed"))
        state = self.state_at_deadline
        if state is not None:
            found.append(
                (
                    f"截止时卖家备注：{state.seller_memo or '空'}，旗标 {state.seller_flag}",
                    f"at the deadline: seller memo {state.seller_memo or 'empty'}, "
                    f"flag {state.seller_flag}",
                )
            )
        return found


def state_at(versions: list[Order], moment: datetime) -> Order | None:
    """The newest observed version written at or before ``moment``."""
    upto = [v for v in versions if v.updated_at <= moment]
    return upto[-1] if upto else None


def _shift_end(evidence: Evidence, deadline: datetime) -> datetime:
    shift = evidence.calendar.shift_at(deadline)
    return shift.end if shift is not None and shift.end > deadline else deadline


def _decide(
    versions: list[Order], deadline: datetime, evidence: Evidence, *, may_extend: bool
) -> tuple[str, datetime, Order | None]:
    """``(verdict, deadline, state)`` with verdict satisfied, breach, undecidable or pending."""
    if evidence.watermarks.complete_until < deadline:
        return "pending", deadline, None
    state = state_at(versions, deadline)
    observed_after = state is None
    if state is None:
        state = versions[0]
        if state.has_seller_memo:
            return "undecidable", deadline, state
    if state.has_seller_memo:
        return "satisfied", deadline, state
    if may_extend and state.seller_flag != 0:
        extended = _shift_end(evidence, deadline)
        if extended > deadline and not (observed_after and state.updated_at > extended):
            return _decide(versions, extended, evidence, may_extend=False)
    return "breach", deadline, state


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for order_id, versions in evidence.versions_by_order().items():
        trigger = next((v for v in versions if v.paid_at and v.has_buyer_message), None)
        if trigger is None or trigger.paid_at is None:
            continue
        subject = Subject(rule=CODE, type="order", id=order_id, buyer_id=evidence.buyer_id)
        first_deadline = evidence.calendar.business_deadline(trigger.paid_at, options.within)
        verdict, deadline, state = _decide(versions, first_deadline, evidence, may_extend=True)
        if verdict == "pending":
            outcomes.append(Pending(subject=subject, deadline=deadline))
        elif verdict == "satisfied":
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
        elif verdict == "undecidable":
            outcomes.append(
                Undecidable(subject=subject, deadline=deadline, reason=NO_VERSION_BEFORE_DEADLINE)
            )
        else:
            outcomes.append(
                attributed_breach(
                    subject,
                    deadline,
                    evidence,
                    points=options.points,
                    fine=options.fine,
                    record=MissingMemoEvidence(
                        order=PaidOrder(
                            id=order_id,
                            paid_at=instant(trigger.paid_at),
                            buyer_message=trigger.buyer_message,
                            versions=tuple(OrderVersionRecord.of(v) for v in versions),
                        ),
                        first_deadline=instant(first_deadline),
                        extended_to_shift_end=deadline != first_deadline,
                        state_at_deadline=OrderVersionRecord.of(state) if state else None,
                    ),
                )
            )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="paid-order-without-seller-memo",
    name_zh="已付款订单未备注",
    name_en="Paid order without seller memo",
    subject_type="order",
    options_type=Options,
    evidence_type=MissingMemoEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    action=("请填写卖家备注（忙时可先插旗）", "write the seller memo (or star the order first)"),
    undecidable_reasons=(NO_VERSION_BEFORE_DEADLINE,),
)
