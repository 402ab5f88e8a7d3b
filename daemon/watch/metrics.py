"""Every metric shopwatch exports, on its own registry (never the global one).

Names are the SPEC §6 contract plus what an on-call engineer needs. Labels stay bounded:
shop and stream come from the config, rule from the registry, agent from the roster
(``unknown`` for an id the roster lacks, ``team`` for a team-level violation). No order or
buyer id is ever a label. Ledger totals are served from an in-memory cache, so a scrape
never touches the database.

An agency watches hundreds of shops in one process (and spreads them over several): the
per-shop series are what a scrape costs, so each is worth its place. A process exports the
series of the shops it holds (SPEC §9), besides ``shopwatch_shop_held`` for every shop; a
shop it gives up loses its series there (:meth:`Metrics.forget_shop`). Per shop only the
streams' health is declared up front; a series that counts what may never happen in that
shop (a reason, an agent, a rule's open items) appears when it first does, and gauges that
drop back to zero are removed. Violation totals appear at zero for one scrape before their
first value, so Prometheus's ``increase()`` counts a shop's first violation of a rule by an
agent too. Histograms per shop keep a few buckets at the thresholds that matter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from checks.rule import Rule
from connectors.errors import ConnectorError
from connectors.model import Stream

TEAM = "team"
UNKNOWN_AGENT = "unknown"
POLL_ERROR_REASONS = ("unavailable", "rate_limited", "auth", "bad_response", "storage", "error")
HTTP_AUTH_FAILURE_REASONS = ("missing", "invalid", "read_only")
REPLY_BUCKETS = (60, 180, 600, 1800)
"""A minute; CS104's 3 minutes; CS102's 10; half an hour (per shop and agent)."""
POLL_BUCKETS = (1, 5, 30)
"""Quick, slow, as long as a poll interval (per shop and stream)."""
EVALUATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class LedgerTotals(Collector):
    """Violation counts per (shop, rule, agent) and points per (shop, agent), loaded from
    the ledger at start (and for a shop taken over) and kept current by the evaluator:
    monotonic across restarts and handovers, free to scrape. Only what happened is
    exported; a key the evaluator adds shows 0 at its first scrape (see the module)."""

    def __init__(self) -> None:
        self.count: dict[tuple[str, str, str], int] = defaultdict(int)
        self.points: dict[tuple[str, str], int] = defaultdict(int)
        self.fresh: set[tuple[str, ...]] = set()
        """Series added since the last scrape that were not there before: shown as 0 once."""

    def add(self, key: tuple[str, str, str], *, count: int, points: int) -> None:
        shop, _, agent = key
        if count and not self.count.get(key):
            self.fresh.add(key)
        if points and not self.points.get((shop, agent)):
            self.fresh.add((shop, agent))
        self.count[key] += count
        self.points[(shop, agent)] += points

    def load(self, rows: Iterable[tuple[tuple[str, str, str], int, int]]) -> None:
        """Totals read from the ledger: shown at their value at once (their history is the
        ledger's, not new)."""
        for (shop, rule, agent), count, points in rows:
            self.count[(shop, rule, agent)] += count
            self.points[(shop, agent)] += points

    def forget_shop(self, shop: str) -> None:
        for key in [key for key in self.count if key[0] == shop]:
            del self.count[key]
        for pair in [pair for pair in self.points if pair[0] == shop]:
            del self.points[pair]
        self.fresh = {key for key in self.fresh if key[0] != shop}

    def collect(self) -> Iterator[Metric]:
        violations = CounterMetricFamily(
            "shopwatch_violations",
            "Violations recorded in the ledger (from the ledger; survives restarts).",
            labels=["shop", "rule", "agent"],
        )
        points = CounterMetricFamily(
            "shopwatch_violation_points",
            "Penalty points recorded in the ledger, escalations included, per shop and agent.",
            labels=["shop", "agent"],
        )
        fresh, self.fresh = self.fresh, set()
        for key, value in sorted(self.count.items()):
            if value:
                violations.add_metric(list(key), 0 if key in fresh else value)
        for pair, value in sorted(self.points.items()):
            if value:
                points.add_metric(list(pair), 0 if pair in fresh else value)
        yield violations
        yield points


class Metrics:
    def __init__(self, *, version: str, roster: Iterable[str] = ()) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.roster = frozenset(roster)
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        Gauge(
            "shopwatch_build_info", "Build of the running daemon.", ["version"], registry=r
        ).labels(version).set(1)
        self.ledger = LedgerTotals()
        r.register(self.ledger)
        self.open_items = Gauge(
            "shopwatch_open_items",
            "Subjects whose deadline has not passed yet.",
            ["shop", "rule"],
            registry=r,
        )
        self.at_risk_items = Gauge(
            "shopwatch_at_risk_items",
            "Open subjects due within the rule's warn_before.",
            ["shop", "rule"],
            registry=r,
        )
        self.orders_unidentified = Counter(
            "shopwatch_orders_buyer_unidentified",
            "Order versions stored whose buyer the platform did not identify (e.g. Shopify "
            "without protected customer data access): the rules that pair an order with its "
            "buyer's chat count them undecidable (buyer_unidentified).",
            ["shop"],
            registry=r,
        )
        self.shop_held = Gauge(
            "shopwatch_shop_held",
            "1 for each shop this process watches under its lease, 0 for the others it knows.",
            ["shop", "instance"],
            registry=r,
        )
        self.lease_changes = Counter(
            "shopwatch_lease_changes",
            "Shop leases this process acquired, released (rebalancing) or lost.",
            ["change"],
            registry=r,
        )
        for change in ("acquired", "released", "lost"):
            self.lease_changes.labels(change)
        self.presence_known = Gauge(
            "shopwatch_presence_known",
            "1 while the shop's agent presence is known now (its chat connector reports it and "
            "the latest poll read it), else 0: then the rules about people at their posts count "
            "their subjects undecidable (presence_unknown).",
            ["shop"],
            registry=r,
        )
        self.agents_online = Gauge(
            "shopwatch_agents_online",
            "Agents on duty in the shift's current occurrence (not on leave) who are online "
            "now; 0 while the shift does not run or presence is not known.",
            ["shop", "shift"],
            registry=r,
        )
        self.agents_on_duty = Gauge(
            "shopwatch_agents_on_duty",
            "Agents on duty in the shift's current occurrence and not on leave (0 while the "
            "shift does not run): those expected online.",
            ["shop", "shift"],
            registry=r,
        )
        self.shift_names: tuple[str, ...] = ()
        self.in_review = Gauge(
            "shopwatch_violations_in_review",
            "Violations of rules that judge wording, awaiting a supervisor's review (they "
            "count nowhere until confirmed).",
            ["shop", "rule"],
            registry=r,
        )
        self.appeals_pending = Gauge(
            "shopwatch_appeals_pending",
            "Violations appealed by their agent, awaiting a supervisor's decision.",
            ["shop"],
            registry=r,
        )
        self.undecidable = Counter(
            "shopwatch_undecidable",
            "Subjects the evidence could not decide (never recorded as violations).",
            ["shop", "rule", "reason"],
            registry=r,
        )
        self.polls = Counter(
            "shopwatch_polls", "Poll attempts per stream.", ["shop", "stream"], registry=r
        )
        self.poll_errors = Counter(
            "shopwatch_poll_errors",
            "Failed polls per stream, by reason.",
            ["shop", "stream", "reason"],
            registry=r,
        )
        self.poll_duration = Histogram(
            "shopwatch_poll_duration_seconds",
            "Duration of one poll of a stream, all pages.",
            ["shop", "stream"],
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.stream_up = Gauge(
            "shopwatch_stream_up", "1 if the last poll succeeded.", ["shop", "stream"], registry=r
        )
        self.auth_failed = Gauge(
            "shopwatch_stream_auth_failed",
            "1 while the platform refuses the stream's credentials.",
            ["shop", "stream"],
            registry=r,
        )
        self.paused_until = Gauge(
            "shopwatch_stream_paused_until_timestamp_seconds",
            "When a platform's ban on the stream ends (0: not paused); no poll before then.",
            ["shop", "stream"],
            registry=r,
        )
        self.last_success = Gauge(
            "shopwatch_last_success_timestamp_seconds",
            "Unix time of the last successful poll.",
            ["shop", "stream"],
            registry=r,
        )
        self.watermark = Gauge(
            "shopwatch_watermark_timestamp_seconds",
            "Unix time up to which the stream's data is complete.",
            ["shop", "stream"],
            registry=r,
        )
        self.pages_rejected = Counter(
            "shopwatch_pages_rejected",
            "Pages rejected whole because they failed validation.",
            ["shop", "stream"],
            registry=r,
        )
        self.records_rejected = Counter(
            "shopwatch_records_rejected",
            "Records refused one by one while the rest of their page was kept (an order with "
            "a status the connector does not know), by the field at fault; no rule decides "
            "against their buyers.",
            ["shop", "stream", "reason"],
            registry=r,
        )
        self.evaluation_seconds = Histogram(
            "shopwatch_rule_evaluation_seconds",
            "Time spent evaluating one rule over one tick's buyers.",
            ["rule"],
            buckets=EVALUATION_BUCKETS,
            registry=r,
        )
        self.rule_errors = Counter(
            "shopwatch_rule_errors", "Rule evaluations that raised.", ["rule"], registry=r
        )
        self.reply_seconds = Histogram(
            "shopwatch_reply_seconds",
            "First-reply time to a buyer, in business seconds.",
            ["shop", "agent"],
            buckets=REPLY_BUCKETS,
            registry=r,
        )
        self.conversations = Counter(
            "shopwatch_conversations",
            "Conversations an agent answered.",
            ["shop", "agent"],
            registry=r,
        )
        self.agent_conversion = Gauge(
            "shopwatch_agent_conversion_ratio",
            "Month-to-date inquiry conversion per agent (provisional until its window closes).",
            ["agent"],
            registry=r,
        )
        self.agent_commission = Gauge(
            "shopwatch_agent_commission_cny",
            "Month-to-date commission on converted sales per agent, in CNY.",
            ["agent"],
            registry=r,
        )
        self.http_auth_failures = Counter(
            "shopwatch_http_auth_failures",
            "API requests refused for their credentials: missing (no bearer token), invalid "
            "(a wrong token), read_only (a read token used to write).",
            ["reason"],
            registry=r,
        )
        for reason in HTTP_AUTH_FAILURE_REASONS:
            self.http_auth_failures.labels(reason)
        self.jobs_skipped = Counter(
            "shopwatch_jobs_skipped",
            "Scheduled runs skipped because the previous run of the job was still going.",
            ["task"],
            registry=r,
        )
        for task in ("poll", "evaluate"):
            self.jobs_skipped.labels(task)
        self.agent_score = Gauge(
            "shopwatch_agent_score", "Month-to-date score per agent.", ["agent"], registry=r
        )
        self.alerts_sent = Counter(
            "shopwatch_alerts_sent", "Alerts delivered.", ["receiver"], registry=r
        )
        self.alert_failures = Counter(
            "shopwatch_alert_send_failures",
            "Alert deliveries that failed after retries.",
            ["receiver"],
            registry=r,
        )

    def declare_receivers(self, receivers: Iterable[str]) -> None:
        for receiver in receivers:
            self.alerts_sent.labels(receiver)
            self.alert_failures.labels(receiver)

    def agent_label(self, agent: str | None) -> str:
        if agent is None:
            return TEAM
        return agent if agent in self.roster else UNKNOWN_AGENT

    def declare(self, *, shops: Iterable[str], rules: Iterable[Rule]) -> None:
        """Export what exists from the start: each shop's streams (see :meth:`declare_shop`)
        and the rules' own series."""
        rules = list(rules)
        for shop in shops:
            self.declare_shop(shop)
        for rule in rules:
            self.evaluation_seconds.labels(rule.code)
            self.rule_errors.labels(rule.code)
        for agent in self.roster:
            self.agent_score.labels(agent)

    def declare_shop(self, shop: str) -> None:
        """A shop's series that exist whatever happens in it: its streams' polls, health
        and poll durations (the rest appears with what it counts)."""
        for stream in Stream:
            s = stream.value
            self.polls.labels(shop, s)
            self.stream_up.labels(shop, s)
            self.poll_duration.labels(shop, s)
        self.orders_unidentified.labels(shop)
        self.presence_known.labels(shop)

    def forget_shop(self, shop: str) -> None:
        """This process no longer watches ``shop``: drop its series (its new holder exports
        them), all but ``shopwatch_shop_held``."""
        for collector in list(self.registry._collector_to_names):  # the registry's own list
            if not isinstance(collector, MetricWrapperBase) or collector is self.shop_held:
                continue
            names = collector._labelnames
            if "shop" not in names:
                continue
            at = names.index("shop")
            for values in list(collector._metrics):  # prometheus_client keeps children here
                if values[at] == shop:
                    collector.remove(*values)
        self.ledger.forget_shop(shop)

    def open_counts(self, shop: str, rule: str, *, open_count: int, at_risk: int) -> None:
        """A rule's open and at-risk subjects in a shop; a gauge back at zero is removed."""
        for gauge, value in ((self.open_items, open_count), (self.at_risk_items, at_risk)):
            if value:
                gauge.labels(shop, rule).set(value)
            elif (shop, rule) in gauge._metrics:  # prometheus_client keeps children here
                gauge.remove(shop, rule)

    def declare_shifts(self, shop: str, shifts: Iterable[str]) -> None:
        """The shifts whose agents online (and on duty) are counted for ``shop``."""
        self.shift_names = tuple(shifts)
        for shift in self.shift_names:
            self.agents_online.labels(shop, shift)
            self.agents_on_duty.labels(shop, shift)

    def poll_error(self, shop: str, stream: Stream, error: BaseException) -> None:
        reason = error.reason if isinstance(error, ConnectorError) else "error"
        if reason not in POLL_ERROR_REASONS:
            reason = "error"
        self.poll_errors.labels(shop, stream.value, reason).inc()

    def awaiting_decision(self, counts: Iterable[tuple[str | None, str, str, int]]) -> None:
        """Set the in-review and appeals-pending gauges from ``(shop, rule, status, count)``;
        series no longer in ``counts`` drop to zero (team-level rows have shop ``""``)."""
        review: dict[tuple[str, str], int] = defaultdict(int)
        appealed: dict[str, int] = defaultdict(int)
        for shop, rule, status, count in counts:
            if status == "review":
                review[(shop or "", rule)] += count
            elif status == "appealed":
                appealed[shop or ""] += count
        for labels in _known_labels(self.in_review):
            review.setdefault((labels["shop"], labels["rule"]), 0)
        for labels in _known_labels(self.appeals_pending):
            appealed.setdefault(labels["shop"], 0)
        for (shop, rule), count in review.items():
            self.in_review.labels(shop, rule).set(count)
        for shop, count in appealed.items():
            self.appeals_pending.labels(shop).set(count)


def _known_labels(gauge: Gauge) -> list[dict[str, str]]:
    return [sample.labels for metric in gauge.collect() for sample in metric.samples]
