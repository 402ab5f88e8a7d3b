"""Metric labels stay bounded: agents from the roster, everything else folded (SPEC §6)."""

from __future__ import annotations

from checks.registry import BY_CODE
from daemon.watch.metrics import TEAM, UNKNOWN_AGENT, Metrics


def test_agent_labels_are_the_roster_unknown_or_team() -> None:
    metrics = Metrics(version="test", roster=["a1", "a2"])
    assert metrics.agent_label("a1") == "a1"
    assert metrics.agent_label("someone-else") == UNKNOWN_AGENT == "unknown"
    assert metrics.agent_label(None) == TEAM == "team"


def test_known_label_combinations_are_exported_at_zero_from_the_start() -> None:
    metrics = Metrics(version="test", roster=["a1"])
    metrics.declare(shops=["s"], rules=[BY_CODE["CS101"]])
    value = metrics.registry.get_sample_value
    assert value("shopwatch_violations_total", {"shop": "s", "rule": "CS101", "agent": "a1"}) == 0
    assert value("shopwatch_violations_total", {"shop": "s", "rule": "CS101", "agent": "team"}) == 0
    labels = {"shop": "s", "stream": "chat", "reason": "auth"}
    assert value("shopwatch_poll_errors_total", labels) == 0
    labels = {"shop": "s", "rule": "CS101", "reason": "history_incomplete"}
    assert value("shopwatch_undecidable_total", labels) == 0
    assert value("shopwatch_build_info", {"version": "test"}) == 1
    assert (
        value("shopwatch_violations_created", {"shop": "s", "rule": "CS101", "agent": "a1"}) is None
    )
