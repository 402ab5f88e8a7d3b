"""Every rule's record is complete and its documentation says what its code does.

The docstring is the user documentation (``shopwatch rules``): every rule has the same
headings in the same order, and its "Options" block names exactly the options its dataclass
has, with the dataclass's defaults. README's rules table is generated from the records.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from checks.evidence_record import GenericEvidence
from checks.registry import BY_CODE, RULES, evidence_type, rules_table
from checks.rule import DOC_SECTIONS, SUBJECT_WORDS, Rule

README = Path(__file__).resolve().parents[2] / "README.md"
IDS = [rule.code for rule in RULES]


def _default_text(value: Any) -> set[str]:
    """The ways a docstring may write a default value."""
    if isinstance(value, timedelta):
        minutes = value.total_seconds() / 60
        forms = {f"{minutes:g}m"}
        if minutes % 60 == 0:
            forms.add(f"{minutes / 60:g}h")
        return forms
    if isinstance(value, Decimal):
        return {f"{value.normalize():f}", f"{value.normalize():f} CNY"}
    if isinstance(value, tuple):
        parts = [sorted(_default_text(v))[0] for v in value]
        return {", ".join(parts)}
    return {str(value)}


def options_block(rule: Rule) -> dict[str, str]:
    """``name [default]`` pairs of the Options block."""
    text = rule.section("Options:")
    return dict(re.findall(r"(\w+) \[([^\]]*)\]", text))


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_the_docstring_has_every_heading_in_order(rule: Rule) -> None:
    positions = [rule.doc.find(heading) for heading in DOC_SECTIONS]
    assert -1 not in positions, f"{rule.code} lacks {DOC_SECTIONS[positions.index(-1)]}"
    assert positions == sorted(positions)


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_the_options_block_matches_the_options_dataclass(rule: Rule) -> None:
    documented = options_block(rule)
    defaults = rule.options_type()
    # an option is documented as its config key (CS112's field break_ is the key "break")
    names = {f.metadata.get("key", f.name): f.name for f in dataclasses.fields(defaults)}
    fields = set(names) - {"enabled"}
    mentioned = set(re.findall(r"\w+", rule.section("Options:")))
    assert fields <= mentioned, f"undocumented options: {sorted(fields - mentioned)}"
    for name, text in documented.items():
        assert name in fields, f"{rule.code} documents {name!r}, which it does not have"
        assert text in _default_text(getattr(defaults, names[name])), (name, text)


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_the_record_is_complete(rule: Rule) -> None:
    assert re.fullmatch(r"CS\d{3}", rule.code)
    assert rule.slug and rule.name_en and rule.name_zh
    assert rule.name_zh in rule.doc.splitlines()[0]
    assert rule.subject_type in SUBJECT_WORDS
    assert all(zh and en for zh, en in [rule.action, rule.title])
    assert BY_CODE[rule.code] is rule
    assert evidence_type(rule.code) is rule.evidence_type


def test_codes_and_slugs_are_unique() -> None:
    assert len({r.code for r in RULES}) == len({r.slug for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_an_empty_record_of_each_rule_reads_back_and_summarizes(rule: Rule) -> None:
    record = rule.evidence_type()
    assert rule.evidence_type.from_json(record.to_json()) == record
    lines = record.summarize(ZoneInfo("Asia/Shanghai")).split("\n")
    assert len(lines) == 2 and all(lines)


def test_evidence_of_a_rule_no_longer_registered_is_kept_and_named() -> None:
    stored = {"shouted": True, "order": {"id": "o1"}}
    record = evidence_type("CS999").from_json(stored)
    assert isinstance(record, GenericEvidence)
    assert record.to_json() == stored
    assert "shouted: True" in record.summarize(ZoneInfo("UTC"))


def test_readme_rules_table_is_the_generated_one() -> None:
    assert rules_table() in README.read_text(encoding="utf-8")
