"""The explicit table of rules. Codes are stable and never reused (like a linter's).

Each rule module declares everything about its rule in one :class:`~checks.rule.Rule`
record, ``RULE``; its docstring is the user documentation printed by ``shopwatch rules``.
Adding a rule is its module, one line here and its tests.
"""

from __future__ import annotations

from checks import (
    cs101_unpaid_order_not_chased,
    cs102_offline_message_not_answered_first,
    cs103_paid_order_without_seller_memo,
)
from checks.evidence_record import BreachEvidence, GenericEvidence
from checks.rule import Rule

RULES: tuple[Rule, ...] = (
    cs101_unpaid_order_not_chased.RULE,
    cs102_offline_message_not_answered_first.RULE,
    cs103_paid_order_without_seller_memo.RULE,
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def evidence_type(code: str) -> type[BreachEvidence]:
    """How to read back a stored violation's evidence; a retired rule's is shown as is."""
    rule = BY_CODE.get(code)
    return rule.evidence_type if rule is not None else GenericEvidence
