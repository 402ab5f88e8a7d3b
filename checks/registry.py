"""The explicit table of rules. Codes are stable and never reused (like a linter's).

Each rule module provides CODE, SLUG, NAME, an ``Options`` dataclass and a pure
``evaluate(evidence, options)``; its docstring is the user documentation printed by
``shopwatch rules``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from checks import (
    cs101_unpaid_order_not_chased,
    cs102_offline_message_not_answered_first,
    cs103_paid_order_without_seller_memo,
)
from checks.evidence import Evidence
from checks.options import RuleOptions
from checks.subject import Outcome


@dataclass(frozen=True, kw_only=True)
class Rule:
    code: str
    slug: str
    name: str
    options_type: type[RuleOptions]
    evaluate: Callable[[Evidence, Any], list[Outcome]]
    doc: str

    @classmethod
    def from_module(cls, module: ModuleType) -> Rule:
        return cls(
            code=module.CODE,
            slug=module.SLUG,
            name=module.NAME,
            options_type=module.Options,
            evaluate=module.evaluate,
            doc=inspect.cleandoc(module.__doc__ or ""),
        )


RULES: tuple[Rule, ...] = tuple(
    Rule.from_module(module)
    for module in (
        cs101_unpaid_order_not_chased,
        cs102_offline_message_not_answered_first,
        cs103_paid_order_without_seller_memo,
    )
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
