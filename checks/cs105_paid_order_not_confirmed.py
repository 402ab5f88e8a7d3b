"""CS105 paid order not confirmed with the buyer (未发核对订单信息).

What:
    Every paid order must be confirmed with the buyer: an outgoing message to the buyer,
    by an agent or an automatic template, within ``within`` of business time after payment.

Why:
    Daily routine step 3: "…then send the order check message and invite the buyer to
    favourite the shop" (发送核对订单信息并说明收藏店铺和宝贝话语).

Reading:
    Subject: an order with ``paid_at`` set (the first observed version that has one), keyed
    by the order id. ``D = business_deadline(paid_at, within)``. Satisfied by an outgoing
    message to the buyer — an agent message or an automatic one, since shops usually send
    this as a template — with paid_at ≤ sent_at ≤ D whose text (Unicode NFKC,
    case-insensitive) matches one of ``patterns``; in any conversation with the buyer, and
    one message may confirm several orders paid together. Otherwise, once both watermarks
    have passed D, a violation, attributed (SPEC §3 Attribution) at D; undecidable
    (``history_incomplete``) if ``paid_at`` is before the chat history start, or
    (``buyer_unidentified``) if the order's buyer could not be identified.

Example timeline (day shift 08:30–17:30, within = 30 min):
    14:00 order O7 paid, D = 14:30
    14:00 auto-reply template "亲，您的订单已付款，请核对收货地址…" → satisfied.
    Order O8 paid 17:20 with no message: D = 08:50 next day (the clock pauses overnight);
    at 08:50 the watermarks pass D → CS105 violation on O8, 1 point.

Options:
    within [30m], patterns [.+] (any text, so every outgoing message counts; to require
    the check wording, write for instance patterns = ["核对", "地址"]), points [1],
    fine [0], warn_before [15m].

Known limits:
    It cannot read images: an order summary sent as a picture, or a message with no text,
    does not match the default pattern. An automatic message that failed to send is, on
    most platforms, reported like any other automatic message and counts. A payment made
    before the chat history start cannot be judged (``history_incomplete``), nor can an
    order whose buyer the connector could not identify (it lacks the value buyers are paired
    by, so its chat is never found): unless confirmed, it is ``buyer_unidentified``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from checks.attribution import attributed_breach
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, Clock, Fact, MessageRecord, instant
from checks.options import RuleOptions
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Satisfied, Subject
from checks.text import TextMatcher, check_patterns
from checks.verdicts import BUYER_UNIDENTIFIED, HISTORY_INCOMPLETE, chat_not_conclusive
from connectors.model import Direction, Message

CODE = "CS105"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(minutes=30)
    points: int = 1
    patterns: tuple[str, ...] = (".+",)
    """Regular expressions searched in the message (NFKC, case-insensitive): the check
    message is one that matches any of them."""

    def __post_init__(self) -> None:
        if not self.patterns:
            raise ValueError("patterns: no pattern would let any message confirm an order")
        check_patterns(self.patterns)

    def confirms(self, msg: Message) -> bool:
        return TextMatcher(patterns=self.patterns).first_match(msg.text) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnconfirmedOrder:
    id: str
    paid_at: str | None
    status: str | None


@dataclass(frozen=True, kw_only=True)
class UnconfirmedEvidence(BreachEvidence):
    """The paid order, and the outgoing messages of the window that did not match."""

    order: UnconfirmedOrder | None = None
    within_seconds: float = 0
    unmatched: tuple[MessageRecord, ...] = ()
    """Outgoing messages to the buyer in [paid_at, D] whose text matched no pattern."""

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
        if self.unmatched:
            count = len(self.unmatched)
            found.append(
                (
                    f"期间 {count} 条发给买家的消息均不是核对订单信息",
                    f"{count} message(s) to the buyer in time, none of them the order check",
                )
            )
        else:
            found.append(("期间未给买家发送任何消息", "no message to the buyer in time"))
        return found


def outgoing(msg: Message) -> bool:
    """Sent by the shop: a person's message or an automatic one."""
    return msg.direction is Direction.AGENT


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    sent = [m for m in evidence.conversation() if outgoing(m)]
    for order_id, versions in evidence.versions_by_order().items():
        paid = next((v for v in versions if v.paid_at is not None), None)
        if paid is None or paid.paid_at is None:
            continue
        paid_at = paid.paid_at
        subject = Subject(rule=CODE, type="order", id=order_id, buyer_id=evidence.buyer_id)
        deadline = evidence.calendar.business_deadline(paid_at, options.within)
        window = [m for m in sent if paid_at <= m.sent_at <= deadline]
        if any(options.confirms(m) for m in window):
            outcomes.append(Satisfied(subject=subject, deadline=deadline))
            continue
        undecided = chat_not_conclusive(
            subject, deadline, since=paid_at, versions=versions, evidence=evidence
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
                record=UnconfirmedEvidence(
                    order=UnconfirmedOrder(
                        id=order_id, paid_at=instant(paid_at), status=versions[-1].status.value
                    ),
                    within_seconds=options.within.total_seconds(),
                    unmatched=MessageRecord.many(window),
                ),
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="paid-order-not-confirmed",
    name_zh="未发核对订单信息",
    name_en="Paid order not confirmed with the buyer",
    subject_type="order",
    options_type=Options,
    evidence_type=UnconfirmedEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    action=("请给买家发送核对订单信息", "send the buyer the order check message"),
    undecidable_reasons=(HISTORY_INCOMPLETE, BUYER_UNIDENTIFIED),
)
