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

from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence
from checks.options import RuleOptions
from checks.subject import Outcome

DOC_SECTIONS = ("What:", "Why:", "Example timeline", "Options:", "Known limits:")
"""The headings every rule docstring has, in this order (a meta-test checks them)."""


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
    evaluate: Callable[[Evidence, Any], list[Outcome]]
    doc: str
    severity: Severity = Severity.WARNING
    review: bool = False
    """Its violations count only once a supervisor confirms them (rules judging wording)."""
    action: tuple[str, str] = ("请尽快处理", "handle it now")
    """What to do about a subject that is about to fall due (zh, en)."""
    undecidable_reasons: tuple[str, ...] = ()
    """Every reason its :class:`~checks.subject.Undecidable` outcomes may give."""

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
