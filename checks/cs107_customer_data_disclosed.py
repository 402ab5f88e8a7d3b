"""CS107 customer data disclosed (泄露客户信息).

What:
    An agent message must not disclose customer data: a mainland mobile number, a resident
    ID number or an e-mail address that is neither the shop's own (``allow``) nor the
    recipient buyer's. Each such message is recorded for a supervisor's review.

Why:
    Policy 4 §13: "keep the company's secrets; never disclose the company's customer
    information to others: 150 yuan fine each time" (不得将公司客户信息随意透露给他人).

Reading:
    Subject: an agent message (auto-replies and buyer messages never count) whose text,
    after Unicode NFKC, contains a mobile number (``1[3-9]\\d{9}``, also with spaces or
    dashes between digit groups, or after ``+86``), an ID number (17 digits and a digit or
    X) or an e-mail address, unless every such value is in ``allow`` or belongs to the
    recipient buyer: equal to its ``buyer_id``, or found in the ``buyer_message`` or
    ``seller_memo`` of any observed version of one of its orders. Numbers compare digit for
    digit (spaces and dashes between digits ignored), e-mail addresses case-insensitively.
    A number never starts or ends inside a run of adjacent digits: ``13812345678`` inside
    the order number ``202611021381234567890`` is not a phone number (see
    ``checks.personal_data``). Subject id = the message id; ``D = sent_at``; decided once
    both streams' watermarks have reached D (the buyer's orders decide whose a value is),
    pending before. Attributed to the message's own ``agent_id``, in the shift D belongs
    to, and recorded for review: it counts only once a supervisor confirms it. Evidence
    shows every value masked, never in full: phones ``138****5678``, e-mail addresses
    ``a***@example.com``, ID numbers the first 6 and the last 4 characters.

Example timeline (day shift 08:30–17:30):
    10:00 buyer b1: "我的订单发货了吗？"
    10:02 agent bob pastes the wrong buyer's note to b1: "收件人 138 1234 5678，已发货"
          (13812345678 is not b1's id and not in any of b1's orders) → subject m-2
    10:03 the watermarks pass 10:02 → CS107 violation on m-2, attributed to bob, status
          review, 150 CNY once confirmed; evidence "收件人 138****5678，已发货".
    Had bob written the shop's service number listed in ``allow``, or b1's own number
    from b1's order note, nothing would be recorded.

Options:
    allow [], points [0], fine [150 CNY].
    within [0m] and warn_before [15m] are unused: a message is judged the moment it is sent.

Known limits:
    It sees only digits and addresses written as text: numbers in Chinese characters
    (一三八…), spelt out or split across messages, pictures and screenshots of an order,
    names, street addresses, landlines and bank card numbers pass unseen. Whose a value is
    is judged from the buyer's orders the daemon observed within its evaluation horizon:
    an old order holding the buyer's own number, or one placed before the history start,
    is not seen, so the buyer's own number may be recorded (a supervisor waives it). Any
    17 digits followed by a digit or X read as an ID number, and whole digit groups that
    happen to spell a mobile number (``2026-1381-2345-678``) as a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from checks.agent_message import MessageEvidence, agent_messages, message_breach, message_subject
from checks.evidence import Evidence
from checks.evidence_record import Clock, Fact
from checks.options import RuleOptions
from checks.personal_data import (
    Kind,
    PersonalValue,
    appears_in,
    find_personal_data,
    is_value_of,
)
from checks.rule import Rule, Severity, rule_doc
from checks.subject import Outcome, Pending

CODE = "CS107"


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    points: int = 0
    fine: Decimal = Decimal(150)
    allow: tuple[str, ...] = ()
    """The shop's own service numbers and addresses: never a disclosure."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisclosedValue:
    kind: str
    """``phone``, ``id_number`` or ``email``."""
    masked: str


@dataclass(frozen=True, kw_only=True)
class DisclosureEvidence(MessageEvidence):
    """The message (masked) and each value it disclosed, masked."""

    disclosed: tuple[DisclosedValue, ...] = ()

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = []
        if self.disclosed:
            zh = "、".join(f"{_words(v.kind)[0]} {v.masked}" for v in self.disclosed)
            en = ", ".join(f"{_words(v.kind)[1]} {v.masked}" for v in self.disclosed)
            found.append((f"发送客户信息：{zh}", f"customer data sent: {en}"))
        if self.message is not None:
            quote = self.message.short_text
            found.append((f"原文「{quote}」", f"text “{quote}”"))
        return found


def _words(kind: str) -> tuple[str, str]:
    try:
        return Kind(kind).words
    except ValueError:
        return kind, kind


def _buyer_texts(evidence: Evidence) -> list[str]:
    """The buyer's own words and the shop's notes about the buyer: every observed version's
    buyer message and seller memo."""
    return [
        text
        for versions in evidence.versions_by_order().values()
        for version in versions
        for text in (version.buyer_message, version.seller_memo)
        if text
    ]


def _excused(
    value: PersonalValue, options: Options, buyer_id: str, buyer_texts: Sequence[str]
) -> bool:
    if any(is_value_of(entry, value) for entry in options.allow):
        return True
    if is_value_of(buyer_id, value):
        return True
    return any(appears_in(value, text) for text in buyer_texts)


def disclosed_values(
    values: Sequence[PersonalValue], options: Options, buyer_id: str, buyer_texts: Sequence[str]
) -> list[PersonalValue]:
    """Those of ``values`` that are neither allowed nor the buyer's, each once."""
    seen: set[tuple[Kind, str]] = set()
    found: list[PersonalValue] = []
    for value in values:
        key = (value.kind, value.canonical)
        if key in seen or _excused(value, options, buyer_id, buyer_texts):
            continue
        seen.add(key)
        found.append(value)
    return found


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    buyer_texts: list[str] | None = None
    for msg in agent_messages(evidence):
        values = find_personal_data(msg.text)
        if not values:
            continue
        if buyer_texts is None:
            buyer_texts = _buyer_texts(evidence)
        disclosed = disclosed_values(values, options, evidence.buyer_id, buyer_texts)
        if not disclosed:
            continue
        subject = message_subject(CODE, msg, evidence)
        if evidence.watermarks.complete_until < msg.sent_at:
            outcomes.append(Pending(subject=subject, deadline=msg.sent_at))
            continue
        outcomes.append(
            message_breach(
                subject,
                msg,
                evidence,
                points=options.points,
                fine=options.fine,
                record=DisclosureEvidence(
                    disclosed=tuple(
                        DisclosedValue(kind=v.kind.value, masked=v.masked) for v in disclosed
                    )
                ),
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="customer-data-disclosed",
    name_zh="泄露客户信息",
    name_en="Customer data disclosed",
    subject_type="message",
    options_type=Options,
    evidence_type=DisclosureEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    severity=Severity.CRITICAL,
    review=True,
    action=(
        "请核实是否泄露客户信息，必要时联系相关买家",
        "check whether customer data was disclosed; contact the buyers concerned if so",
    ),
    undecidable_reasons=(),
)
