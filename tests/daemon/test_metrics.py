"""Metric labels stay bounded: agents from the roster, everything else folded (SPEC §6); a
shop's series cost a scrape only for what exists (issue 16)."""

from __future__ import annotations

from checks.registry import BY_CODE
from daemon.watch.metrics import TEAM, UNKNOWN_AGENT, Metrics


def test_agent_labels_are_the_roster_unknown_or_team() -> None:
    metrics = Metrics(version="test", roster=["a1", "a2"])
    assert metrics.agent_label("a1") == "a1"
    assert metrics.agent_label("someone-else") == UNKNOWN_AGENT == "unknown"
    assert metrics.agent_label(None) == TEAM == "team"


def test_a_shop_exports_its_streams_from_the_start_and_the_rest_when_it_happens() -> None:
    metrics = Metrics(version="test", roster=["a1"])
    metrics.declare(shops=["s"], rules=[BY_CODE["CS101"]])
    value = metrics.registry.get_sample_value
    assert value("shopwatch_polls_total", {"shop": "s", "stream": "chat"}) == 0
    assert value("shopwatch_poll_duration_seconds_count", {"shop": "s", "stream": "orders"}) == 0
    assert value("shopwatch_build_info", {"version": "test"}) == 1
    # What may never happen in a shop costs nothing until it does (an agency's shops × agents
    # × rules × reasons would be most of a scrape).
    violation = {"shop": "s", "rule": "CS101", "agent": "a1"}
    assert value("shopwatch_violations_total", violation) is None
    assert (
        value("shopwatch_poll_errors_total", {"shop": "s", "stream": "chat", "reason": "auth"})
        is None
    )
    assert value("shopwatch_open_items", {"shop": "s", "rule": "CS101"}) is None
    assert value("shopwatch_violations_created", violation) is None


def test_a_first_violation_shows_zero_once_so_increase_counts_it() -> None:
    metrics = Metrics(version="test", roster=["a1"])
    value = metrics.registry.get_sample_value
    violation = {"shop": "s", "rule": "CS101", "agent": "a1"}
    metrics.ledger.add(("s", "CS101", "a1"), count=1, points=2)
    assert value("shopwatch_violations_total", violation) == 0  # the first scrape …
    assert value("shopwatch_violations_total", violation) == 1  # … then the count
    assert value("shopwatch_violation_points_total", {"shop": "s", "agent": "a1"}) == 2
    # Totals read from the ledger (a restart, a shop taken over) are history: shown at once.
    metrics.ledger.load([(("s2", "CS101", "a1"), 4, 8)])
    assert value("shopwatch_violations_total", {**violation, "shop": "s2"}) == 4


def test_open_items_back_at_zero_are_removed_and_a_shop_given_up_loses_its_series() -> None:
    metrics = Metrics(version="test", roster=["a1"])
    metrics.declare(shops=["s", "t"], rules=[BY_CODE["CS101"]])
    value = metrics.registry.get_sample_value
    metrics.open_counts("s", "CS101", open_count=2, at_risk=1)
    assert value("shopwatch_open_items", {"shop": "s", "rule": "CS101"}) == 2
    metrics.open_counts("s", "CS101", open_count=1, at_risk=0)
    assert value("shopwatch_at_risk_items", {"shop": "s", "rule": "CS101"}) is None
    metrics.shop_held.labels("s", "p1").set(1)
    metrics.ledger.load([(("s", "CS101", "a1"), 4, 8)])
    metrics.forget_shop("s")
    assert value("shopwatch_open_items", {"shop": "s", "rule": "CS101"}) is None
    assert value("shopwatch_polls_total", {"shop": "s", "stream": "chat"}) is None
    assert (
        value("shopwatch_violations_total", {"shop": "s", "rule": "CS101", "agent": "a1"}) is None
    )
    assert value("shopwatch_shop_held", {"shop": "s", "instance": "p1"}) == 1
    assert value("shopwatch_polls_total", {"shop": "t", "stream": "chat"}) == 0
