"""Everything about a rule, in one record its module declares as ``RULE``.

The daemon knows rules only through this record: the config reads ``options_type``, the
judge calls ``evaluate``, the ledger stores ``evidence_type`` records and reads them back,
metrics pre-declare ``undecidable_reasons``, alerts word a notice with the names,
``subject_type``, ``severity`` and ``action``, and ``shopwatch rules`` prints ``doc``.
So adding a rule is one module, its registry line and its tests; nothing else names a code.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checks.evidence_record import BreachEvidence
from checks.options import RuleOptions
from checks.subject import Outcome

DOC_SECTIONS = ("What:", "Why:", "Example timeline", "Options:", "Known limits:")
"""The headings every rule docstring has, in this order (a meta-test checks them)."""


class Scope(enum.StrEnum):
    """What one evaluation of a rule looks at."""

    BUYER = "buyer"
    """One buyer's orders and conversation (:class:`~checks.evidence.Evidence`)."""
    SHOP = "shop"
    """The shop's team at its posts, once per evaluation
    (:class:`~checks.shop_evidence.ShopEvidence`); recorded with the shop."""
    TEAM = "team"
    """Like ``shop``, but the team's across shops: judged once, recorded with no shop."""


class Severity(enum.StrEnum):
    """Fixed per rule: it is an alert label, and a label that changed on escalation would
    make Alertmanager see a second alert next to the first."""

    WARNING = "warning"
    CRITICAL = "critical"
    """Every violation needs the team lead now (SPEC §3: data secrecy, nobody online)."""


SUBJECT_WORDS: dict[str, tuple[str, str]] = {
    "order": ("订单", "order"),
    "episode": ("离线留言", "offline message"),
    "message": ("消息", "message"),
    "conversation": ("会话", "conversation"),
    "shift": ("班次", "shift"),
    "agent": ("客服", "agent"),
    "absence": ("脱岗", "absence from the post"),
    "outage": ("无人在线时段", "time with nobody online"),
    "attendance": ("出勤", "attendance"),
    "stint": ("连续在线", "stint online"),
}
"""What a subject is called, per subject type (zh, en)."""


@dataclass(frozen=True, kw_only=True)
class Rule:
    code: str
    """Stable and never reused, like a linter's (``CS101``)."""
    slug: str
    name_zh: str
    name_en: str
    subject_type: str
    """What one verdict is about: a key of :data:`SUBJECT_WORDS`."""
    subject_name: tuple[str, str] | None = None
    """What people call its subject (zh, en), where the type's word would mislead (CS104's
    episodes are not offline messages); the type's word otherwise."""
    options_type: type[RuleOptions]
    evidence_type: type[BreachEvidence]
    evaluate: Callable[[Any, Any], list[Outcome]]
    """``(evidence, options) → outcomes``: an :class:`~checks.evidence.Evidence` for a buyer
    rule, a :class:`~checks.shop_evidence.ShopEvidence` for a shop or team rule."""
    doc: str
    scope: Scope = Scope.BUYER
    severity: Severity = Severity.WARNING
    review: bool = False
    """Its violations count only once a supervisor confirms them (rules judging wording)."""
    action: tuple[str, str] = ("请尽快处理", "handle it now")
    """What to do about a subject that is about to fall due (zh, en)."""
    undecidable_reasons: tuple[str, ...] = ()
    """Every reason its :class:`~checks.subject.Undecidable` outcomes may give."""
    lasting: bool = False
    """A breach is a situation that lasts (nobody reachable): its alert fires until the rule
    says the situation ended (:attr:`~checks.subject.Breach.ended_at`), not for a while."""
    whole_evidence: bool = True
    """A breach rests on the buyer's whole evidence, so while a connector has refused one of
    the buyer's records it is undecidable (``record_rejected``) instead. False for a rule
    whose breach rests on one message alone (CS106's wording), which no missing record
    changes."""
    scorecard_flags: tuple[str, ...] = ()
    """Flags a counted violation of this rule puts on its agent's scorecard (CS110, once
    confirmed: ``dismissal_review``)."""

    def __post_init__(self) -> None:
        if self.subject_type not in SUBJECT_WORDS:
            raise ValueError(f"{self.code}: unknown subject type {self.subject_type!r}")

    @property
    def name(self) -> str:
        return self.name_en

    @property
    def title(self) -> tuple[str, str]:
        return self.name_zh, self.name_en

    @property
    def subject_words(self) -> tuple[str, str]:
        return self.subject_name or SUBJECT_WORDS[self.subject_type]

    def section(self, heading: str) -> str:
        """The text under one of the docstring's headings (up to the next heading)."""
        lines = self.doc.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(heading)]
        if not starts:
            return ""
        first = lines[starts[0]][len(heading) :].strip()
        body = [first] if first else []
        for line in lines[starts[0] + 1 :]:
            if line and not line.startswith(" "):
                break
            body.append(line.strip())
        return "\n".join(body).strip()


def rule_doc(module_doc: str | None) -> str:
    return inspect.cleandoc(module_doc or "")
