"""The monitoring artefacts: Prometheus rules and configs, Alertmanager config, Grafana dashboards.

Runs Debian's promtool/amtool where installed (skipped otherwise) and checks, without any
tool, that dashboards and rules only use metrics the daemon exports (``METRICS`` below is
the single list of them) with the labels it exports.

The rule and promtool test files are YAML; to need nothing beyond the standard library they
are read with a few regular expressions that rely on their plain layout (``- alert:`` /
``- record:`` items with an ``expr:`` key; ``- eval_time:`` first in each
``alert_rule_test`` item). promtool validates the real YAML structure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
RECORDING_RULES = PROMETHEUS_DIR / "recording_rules.yml"
ALERTING_RULES = PROMETHEUS_DIR / "alerting_rules.yml"
RULE_FILES = (RECORDING_RULES, ALERTING_RULES)
RULE_TESTS = tuple(sorted((PROMETHEUS_DIR / "tests").glob("*.yml")))
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
DASHBOARDS = {
    "customer-service.json": "客服监控 · Customer service",
    "shopwatch-health.json": "shopwatch 运行状态 · shopwatch health",
}
DATASOURCE_UID = "shopwatch-prometheus"
CJK = re.compile(r"[\u4e00-\u9fff]")
MONITORING_DOC = REPO / "docs" / "monitoring.md"

# --- The metric contract ----------------------------------------------------------------
# Every metric shopwatch exports: name -> (type, label names). Counter names include
# `_total` as exposed; histograms also expose `_bucket` (with `le`), `_sum` and `_count`.
# The daemon's own metrics test compares this with what GET /metrics really serves.
# Counters should be exported at 0 for every known label combination from startup (shops x
# rules x roster agents + "team" + "unknown", the fixed streams and reasons, the configured
# receivers): increase() cannot see the increment that creates a series, so the dashboards'
# counts would miss each series' first violation.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "shopwatch_build_info": ("gauge", ("version",)),
    "shopwatch_violations_total": ("counter", ("shop", "rule", "agent")),
    "shopwatch_violation_points_total": ("counter", ("shop", "agent")),
    "shopwatch_open_items": ("gauge", ("shop", "rule")),
    "shopwatch_at_risk_items": ("gauge", ("shop", "rule")),
    "shopwatch_violations_in_review": ("gauge", ("shop", "rule")),
    "shopwatch_appeals_pending": ("gauge", ("shop",)),
    "shopwatch_stream_paused_until_timestamp_seconds": ("gauge", ("shop", "stream")),
    "shopwatch_shop_held": ("gauge", ("shop", "instance")),
    "shopwatch_orders_buyer_unidentified_total": ("counter", ("shop",)),
    "shopwatch_lease_changes_total": ("counter", ("change",)),
    "shopwatch_undecidable_total": ("counter", ("shop", "rule", "reason")),
    "shopwatch_polls_total": ("counter", ("shop", "stream")),
    "shopwatch_poll_errors_total": ("counter", ("shop", "stream", "reason")),
    "shopwatch_poll_duration_seconds": ("histogram", ("shop", "stream")),
    "shopwatch_stream_up": ("gauge", ("shop", "stream")),
    "shopwatch_stream_auth_failed": ("gauge", ("shop", "stream")),
    "shopwatch_last_success_timestamp_seconds": ("gauge", ("shop", "stream")),
    "shopwatch_watermark_timestamp_seconds": ("gauge", ("shop", "stream")),
    "shopwatch_rule_evaluation_seconds": ("histogram", ("rule",)),
    "shopwatch_rule_errors_total": ("counter", ("rule",)),
    "shopwatch_reply_seconds": ("histogram", ("shop", "agent")),
    "shopwatch_conversations_total": ("counter", ("shop", "agent")),
    "shopwatch_agent_score": ("gauge", ("agent",)),
    "shopwatch_alerts_sent_total": ("counter", ("receiver",)),
    "shopwatch_alert_send_failures_total": ("counter", ("receiver",)),
    # beyond the list, exported by daemon/watch/metrics.py
    "shopwatch_pages_rejected_total": ("counter", ("shop", "stream")),
    "shopwatch_records_rejected_total": ("counter", ("shop", "stream", "reason")),
    "shopwatch_jobs_skipped_total": ("counter", ("task",)),
    "shopwatch_http_auth_failures_total": ("counter", ("reason",)),
    "shopwatch_agent_conversion_ratio": ("gauge", ("agent",)),
    "shopwatch_agent_commission_cny": ("gauge", ("agent",)),
    # people at their posts (CS109–CS112): presence, per shop and shift
    "shopwatch_agents_online": ("gauge", ("shop", "shift")),
    "shopwatch_agents_on_duty": ("gauge", ("shop", "shift")),
    "shopwatch_presence_known": ("gauge", ("shop",)),
}
#: Label values the daemon uses where the set is fixed.
STREAMS = ("orders", "chat")
POLL_ERROR_REASONS = ("unavailable", "rate_limited", "auth", "bad_response", "error")
#: prometheus_client's ProcessCollector (Linux), exported without labels.
PROCESS_METRICS = (
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
)
#: prometheus_client's PlatformCollector.
PLATFORM_METRICS = {"python_info": ("implementation", "major", "minor", "patchlevel", "version")}
#: Added by Prometheus to every scraped series.
TARGET_LABELS = ("job", "instance")
#: Synthesized by Prometheus for each scrape.
PROMETHEUS_METRICS = {"up": ()}


def series_labels() -> dict[str, set[str]]:
    """Every series name a query may select, with the labels it carries."""
    out: dict[str, set[str]] = {}
    for name, (kind, labels) in METRICS.items():
        if kind == "histogram":
            out[f"{name}_bucket"] = {*labels, "le"}
            out[f"{name}_sum"] = set(labels)
            out[f"{name}_count"] = set(labels)
        else:
            out[name] = set(labels)
    out.update({name: set() for name in PROCESS_METRICS})
    out.update({name: set(labels) for name, labels in PLATFORM_METRICS.items()})
    out.update({name: set(labels) for name, labels in PROMETHEUS_METRICS.items()})
    return {name: labels | set(TARGET_LABELS) for name, labels in out.items()}


# --- Reading the rule files -------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    kind: str  # "alert" | "record"
    name: str
    expr: str
    block: str  # the rule's YAML text, for label and annotation checks
    path: Path


_RULE_START = re.compile(r"^\s*-\s+(alert|record):\s*(\S+)\s*$", re.MULTILINE)
_EXPR = re.compile(r"^(\s*)expr:\s*(.*?)\s*$")
_BLOCK_SCALAR = {"|", "|-", "|+", ">", ">-", ">+"}


def _expr_of(block: str) -> str:
    lines = block.splitlines()
    for index, line in enumerate(lines):
        match = _EXPR.match(line)
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2)
        if value not in _BLOCK_SCALAR:
            if value[:1] in "'\"" and value[-1:] == value[:1]:
                value = value[1:-1]
            return value
        body = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following.strip())
        return "\n".join(body).strip()
    raise AssertionError(f"no expr in rule:\n{block}")


def read_rules(path: Path) -> list[Rule]:
    text = path.read_text(encoding="utf-8")
    starts = list(_RULE_START.finditer(text))
    rules = []
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        block = text[match.start() : following.start() if following else len(text)]
        rules.append(Rule(match.group(1), match.group(2), _expr_of(block), block, path))
    return rules


ALERTS = [rule for rule in read_rules(ALERTING_RULES) if rule.kind == "alert"]
RECORDS = [rule for rule in read_rules(RECORDING_RULES) if rule.kind == "record"]


def recorded_labels() -> dict[str, set[str]]:
    """Labels of each recorded series: everything its expression aggregates `by`."""
    out = {}
    for rule in RECORDS:
        labels = set()
        for group in re.findall(r"\bby\s*\(([^)]*)\)", rule.expr):
            labels.update(label.strip() for label in group.split(",") if label.strip())
        out[rule.name] = labels - {"le"}
    return out


# --- Reading the dashboards -------------------------------------------------------------
def load_dashboard(filename: str) -> dict[str, Any]:
    with (DASHBOARD_DIR / filename).open(encoding="utf-8") as f:
        dashboard: dict[str, Any] = json.load(f)
    return dashboard


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


@dataclass(frozen=True)
class Query:
    where: str
    expr: str  # PromQL with Grafana variables substituted


# Grafana's built-in interval variables become a duration, our template variables a value.
GRAFANA_SUBSTITUTES = {
    "__rate_interval": "5m",
    "__interval": "5m",
    "__range": "5m",
    "shop": "shop-1",
}
_GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute_variables(expr: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        assert name in GRAFANA_SUBSTITUTES, (
            f"dashboard variable ${name} has no test substitute; add it to GRAFANA_SUBSTITUTES"
        )
        return GRAFANA_SUBSTITUTES[name]

    return _GRAFANA_VARIABLE.sub(replace, expr)


def dashboard_queries() -> list[Query]:
    queries = []
    for filename in DASHBOARDS:
        dashboard = load_dashboard(filename)
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            # label_values(<selector>, <label>): the selector is PromQL
            match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", text, re.DOTALL)
            assert match, f"{filename}: variable {variable['name']}: unexpected query {text!r}"
            queries.append(Query(f"{filename} ${variable['name']}", match.group(1)))
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" in target:
                    where = f"{filename} panel {panel['id']} {panel['title']!r} {target['refId']}"
                    queries.append(Query(where, substitute_variables(target["expr"])))
    return queries


# --- A small PromQL reader: selectors and metric names -----------------------------------
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "sum", "min", "max", "avg", "group", "stddev", "stdvar",
    "count", "count_values", "bottomk", "topk", "quantile",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*,?")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])")


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name or "", {label: matcher text}) for each `{...}` selector."""
    out = []
    for match in _SELECTOR.finditer(expr):
        matchers = {m.group(1): m.group(2) + m.group(3) for m in _MATCHER.finditer(match[2])}
        out.append((match.group(1) or "", matchers))
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (everything that is not a function or keyword)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges and subquery steps
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # grouping labels
    text = re.sub(r"#[^\n]*", "", text)  # comments
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function call or a keyword
        names.add(name)
    return names


def all_queries() -> list[Query]:
    rules = [Query(f"{rule.path.name} {rule.name}", rule.expr) for rule in [*RECORDS, *ALERTS]]
    return rules + dashboard_queries()


# --- Tools ------------------------------------------------------------------------------
def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed (Debian: apt install prometheus / prometheus-alertmanager)"
        )
    return path


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


@pytest.mark.integration
def test_promtool_check_rules() -> None:
    run(tool("promtool"), "check", "rules", "--lint-fatal", *RULE_FILES)


@pytest.mark.integration
def test_promtool_test_rules() -> None:
    assert RULE_TESTS, "no promtool unit tests in prometheus/tests/"
    result = run(tool("promtool"), "test", "rules", *RULE_TESTS)
    assert "FAILED" not in result.stdout + result.stderr


@pytest.mark.integration
def test_promtool_check_config() -> None:
    # rule_files in prometheus.yml are relative to the config file, so this also loads them.
    run(tool("promtool"), "check", "config", "--lint-fatal", PROMETHEUS_DIR / "prometheus.yml")


@pytest.mark.integration
def test_amtool_check_config() -> None:
    run(tool("amtool"), "check-config", PROMETHEUS_DIR / "alertmanager.yml")


@pytest.mark.integration
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool 2.42 has no query-parse command; as recording rules it parses every query."""
    queries = dashboard_queries()
    rules = [
        {"record": f"dashboard:query_{index}", "expr": query.expr}
        for index, query in enumerate(queries)
    ]
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        index = {f"dashboard:query_{i}": q for i, q in enumerate(queries)}
        named = re.sub(r"dashboard:query_\d+", lambda m: index[m[0]].where, result.stderr)
        pytest.fail(f"promtool rejected dashboard queries:\n{named}\n{result.stdout}")
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


# --- Metrics and labels ------------------------------------------------------------------
def test_every_metric_used_is_exported_or_recorded() -> None:
    known = set(series_labels()) | set(recorded_labels())
    unknown = {
        (query.where, name)
        for query in all_queries()
        for name in metric_names(query.expr)
        if name not in known
    }
    assert not unknown, f"metrics neither in METRICS nor recorded: {sorted(unknown)}"


def test_metric_reader_finds_names() -> None:
    """Guards the regular expressions above against finding nothing at all."""
    expr = (
        "histogram_quantile(0.9, sum by (shop, le) (rate(shopwatch_reply_seconds_bucket"
        '{shop=~"a|b"}[5m]))) / on (shop) group_left sum without (x) (up) > bool 1e3'
    )
    assert metric_names(expr) == {"shopwatch_reply_seconds_bucket", "up"}
    assert selectors(expr) == [("shopwatch_reply_seconds_bucket", {"shop": '=~"a|b"'})]
    names = set().union(*(metric_names(query.expr) for query in all_queries()))
    assert "shopwatch_violations_total" in names
    assert "shopwatch:violations:increase1d" in names


def test_selectors_use_existing_labels() -> None:
    labels = series_labels() | recorded_labels()
    wrong = []
    for query in all_queries():
        for name, matchers in selectors(query.expr):
            if name in labels:
                wrong += [
                    (query.where, name, label) for label in matchers if label not in labels[name]
                ]
    assert not wrong, f"selectors on labels the series does not have: {wrong}"


SHOP_FILTERS = ('=~"$shop"', '=~"$shop|"')
"""The selected shops; the second also the team's series (an empty shop label: CS108)."""


def test_dashboards_filter_every_shop_metric_by_the_shop_variable() -> None:
    labels = series_labels() | recorded_labels()
    unfiltered = []
    for filename in DASHBOARDS:
        for panel in all_panels(load_dashboard(filename)):
            for target in panel.get("targets", []):
                names = metric_names(substitute_variables(target["expr"]))
                selected = {name: m for name, m in selectors(target["expr"]) if name}
                for name in names:
                    if "shop" in labels.get(name, set()) and (
                        selected.get(name, {}).get("shop") not in SHOP_FILTERS
                    ):
                        unfiltered.append((filename, panel["title"], name))
    assert not unfiltered, f'queries without shop=~"$shop": {unfiltered}'


def test_the_teams_handover_book_shows_whichever_shop_is_selected() -> None:
    """CS108 is recorded with an empty shop label (the team's): a supervisor who picks a
    shop still sees the handover book."""
    found = [
        matchers.get("shop")
        for filename in DASHBOARDS
        for panel in all_panels(load_dashboard(filename))
        for target in panel.get("targets", [])
        for name, matchers in selectors(target["expr"])
        if matchers.get("rule") == '="CS108"'
    ]
    assert found and set(found) == {'=~"$shop|"'}, found


def test_every_recording_rule_is_used() -> None:
    used = set().union(*(metric_names(query.expr) for query in all_queries()))
    assert {rule.name for rule in RECORDS} <= used


# --- Rules --------------------------------------------------------------------------------
def test_rule_files_read_completely() -> None:
    for path in RULE_FILES:
        text = path.read_text(encoding="utf-8")
        assert len(read_rules(path)) == len(re.findall(r"^\s*expr:", text, re.MULTILINE))
    assert {rule.name for rule in ALERTS} >= {
        "ShopwatchViolationsBurst",
        "ShopwatchItemsAtRisk",
        "ShopwatchStreamStale",
        "ShopwatchConnectorDown",
        "ShopwatchAuthFailed",
        "ShopwatchDown",
    }


@pytest.mark.parametrize("alert", ALERTS, ids=lambda rule: rule.name)
def test_alert_labels_and_annotations(alert: Rule) -> None:
    assert re.fullmatch(r"Shopwatch[A-Z][A-Za-z]+", alert.name)
    severity = re.search(r"^\s*severity:\s*(\S+)\s*$", alert.block, re.MULTILINE)
    assert severity and severity.group(1) in {"warning", "critical"}
    assert re.search(r"^\s*team:\s*customer-service\s*$", alert.block, re.MULTILINE)
    for key in ("summary", "description"):
        assert re.search(rf"^\s*{key}:\s*\S", alert.block, re.MULTILINE), key
    # Every alert reaches the team lead: Chinese first, the English beside it (the summary
    # as "中文 · English", the description as a Chinese paragraph, then the English one).
    summary = re.search(r'^\s*summary:\s*"(.*)"\s*$', alert.block, re.MULTILINE)
    assert summary and re.fullmatch(r"\S.*[\u4e00-\u9fff].* · [A-Za-z{].*", summary.group(1))
    description = re.search(
        r"^\s*description:\s*>-\n\s*(.*)\n\n((?:\s+\S.*\n?)+)", alert.block, re.MULTILINE
    )
    assert description, "description: a Chinese paragraph, a blank line, the English"
    assert CJK.search(description.group(1)) and not CJK.search(description.group(2))
    runbook = re.search(r'^\s*runbook_url:\s*"?([^"\s]+)"?\s*$', alert.block, re.MULTILINE)
    assert runbook and runbook.group(1) == f"docs/monitoring.md#{alert.name.lower()}"


def markdown_anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_runbooks_exist() -> None:
    anchors = markdown_anchors(MONITORING_DOC.read_text(encoding="utf-8"))
    missing = [alert.name for alert in ALERTS if alert.name.lower() not in anchors]
    assert not missing, f"no runbook heading in docs/monitoring.md for {missing}"


def alert_test_cases() -> dict[str, set[str]]:
    """alertname -> {"firing", "quiet"} over all promtool test files."""
    cases: dict[str, set[str]] = {}
    for path in RULE_TESTS:
        text = path.read_text(encoding="utf-8")
        for item in re.split(r"^\s*-\s+eval_time:", text, flags=re.MULTILINE)[1:]:
            name = re.search(r"^\s*alertname:\s*(\w+)", item, re.MULTILINE)
            if not name:
                continue
            quiet = re.search(r"^\s*exp_alerts:\s*\[\]\s*$", item, re.MULTILINE)
            firing = re.search(r"^\s*exp_alerts:\s*\n\s*-\s+exp_labels:", item, re.MULTILINE)
            assert quiet or firing, f"{path.name}: cannot read the test case:\n{item}"
            cases.setdefault(name.group(1), set()).add("quiet" if quiet else "firing")
    return cases


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = alert_test_cases()
    incomplete = {
        alert.name: sorted(cases.get(alert.name, set()))
        for alert in ALERTS
        if cases.get(alert.name, set()) != {"firing", "quiet"}
    }
    assert not incomplete, f"alerts without a firing and a not-firing test: {incomplete}"
    assert set(cases) <= {alert.name for alert in ALERTS}, "tests for unknown alerts"


# --- Dashboards -----------------------------------------------------------------------------
MODERN_PANEL_TYPES = {"timeseries", "stat", "table", "bargauge"}


@pytest.mark.parametrize("filename", DASHBOARDS)
def test_dashboard_structure(filename: str) -> None:
    dashboard = load_dashboard(filename)
    text = (DASHBOARD_DIR / filename).read_text(encoding="utf-8")
    assert dashboard["title"] == DASHBOARDS[filename]
    assert dashboard["id"] is None
    assert 8 <= len(dashboard["uid"]) <= 40
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert "__inputs" not in dashboard and "${DS_" not in text  # import-only placeholders

    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["shop"]["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
    assert variables["shop"]["includeAll"] and variables["shop"]["multi"]

    panels = list(all_panels(dashboard))
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in panels:
        assert panel["type"] in MODERN_PANEL_TYPES, panel["title"]
        assert panel["title"] and panel.get("description"), panel["id"]
        # Supervisors read Chinese first: every title and description has Chinese beside
        # the English.
        assert CJK.search(panel["title"]) and CJK.search(panel["description"]), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh")
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["expr"].strip()

    def overlap(a: dict[str, int], b: dict[str, int]) -> bool:
        return (
            a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
        )  # fmt: skip

    for a, b in combinations(panels, 2):
        assert not overlap(a["gridPos"], b["gridPos"]), (a["title"], b["title"])


def test_dashboard_uids_are_unique() -> None:
    uids = [load_dashboard(filename)["uid"] for filename in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_datasource_provisioning_has_the_fixed_uid() -> None:
    text = (REPO / "grafana/provisioning/datasources/shopwatch.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s*uid:\s*{DATASOURCE_UID}\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*type:\s*prometheus\s*$", text, re.MULTILINE)
