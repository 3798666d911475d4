"""A real Prometheus scrapes the project's metrics and evaluates the project's rules; PromQL answers.

The target is an in-process HTTP server exposing a registry built the way streams/pipeline/app.py builds the
worker's (streams.pipeline.metrics.ALL, the open-incident gauges, Faust's sensor metrics named "crucial_faust"),
observed with known values. Every dashboard query and every rule expression is sent to the server:
a parse error, or a metric name that nothing exposes or records, fails the test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry, Counter, start_http_server

from alerts.model import IncidentStatus, Priority
from streams.pipeline import metrics
from streams.web.api import OUTCOMES as INGEST_OUTCOMES
from tests.integration.prometheus_peer import PrometheusPeer, PromQLError, prometheus_binary
from tests.support import REPO, free_port

DASHBOARD = REPO / "ops/grafana/crucial-hour.json"
RULE_FILES = (REPO / "ops/prometheus/rules/recording.yml", REPO / "ops/prometheus/rules/alerts.yml")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# What Grafana substitutes in the dashboard's queries, with values that suit a 1 s scrape.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1s", "$__range": "5m"}


@dataclass(frozen=True)
class Seen:
    """The fields the open-incident gauges read (alerts.model.Incident has them too)."""

    status: IncidentStatus
    priority: Priority
    received_at: datetime
    deadline: datetime


INCIDENTS = [
    Seen(IncidentStatus.OPEN, Priority.HIGH, NOW - timedelta(minutes=11), NOW + timedelta(minutes=15)),
    Seen(IncidentStatus.ACKNOWLEDGED, Priority.MEDIUM, NOW - timedelta(minutes=30), NOW + timedelta(minutes=25)),
    Seen(IncidentStatus.ESCALATED, Priority.LOW, NOW - timedelta(minutes=5), NOW + timedelta(minutes=40)),
    Seen(IncidentStatus.RESOLVED, Priority.HIGH, NOW - timedelta(hours=2), NOW - timedelta(hours=1)),
]


@dataclass
class Target:
    address: str
    registry: CollectorRegistry
    faust: FaustMetrics


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    # The metrics are module-level: start from zero, whatever tests ran before in this process.
    for collector in metrics.ALL:
        collector.clear()
    metrics.prime()
    metrics.set_build_info()  # as streams/pipeline/app.py does at start
    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    registry.register(metrics.IncidentGauges(lambda: INCIDENTS, lambda: NOW))
    registry.register(metrics.ProfileIndexGauges(lambda: 2, lambda: True))
    # What streams/web/api.py registers per app, primed the same way.
    ingest = Counter("crucial_ingest_requests_total", "Reports received over HTTP.", ["route", "outcome"], registry=registry)
    for route in ("api", "form"):
        for outcome in INGEST_OUTCOMES:
            ingest.labels(route, outcome)
    faust = FaustMetrics.create(registry, "crucial_faust")
    # Series the test will increase from a first scrape on: created at 0 now, or increase() misses them.
    metrics.NOTIFICATIONS.labels("sms", "failed", "timeout")
    metrics.RETRIES.labels("sms", "timeout")
    metrics.FALLBACKS.labels("sms", "invalid_number")
    faust.messages_received_per_topics.labels(topic="placement-events")
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield Target(f"127.0.0.1:{port}", registry, faust)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def prom(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusPeer]:
    prometheus_binary()  # skip (or fail in CI) before doing anything when the server is missing
    with PrometheusPeer.running([target.address], tmp_path_factory.mktemp("prometheus"), rule_files=RULE_FILES) as peer:
        peer.wait_for_scrape()
        yield peer


@pytest.fixture(scope="module")
def observed(target: Target, prom: PrometheusPeer) -> dict[str, float]:
    """Observe known values after Prometheus has scraped the baseline; returns the bucket counts before."""
    get = target.registry.get_sample_value
    sms_high = {"channel": "sms", "priority": "high"}
    before = {
        le: get("crucial_dispatch_latency_seconds_bucket", {**sms_high, "le": le}) or 0.0
        for le in ("0.25", "0.5", "10.0", "30.0", "+Inf")
    }

    for _ in range(10):
        metrics.DISPATCH_LATENCY.labels("sms", "high").observe(0.3)
    metrics.DISPATCH_LATENCY.labels("sms", "high").observe(20.0)
    for _ in range(5):
        metrics.DELIVERY_LATENCY.labels("sms", "high").observe(2.0)
    metrics.WINDOW_LATENCY.labels("high").observe(1500.0)
    metrics.ACK_LATENCY.labels("medium").observe(240.0)
    metrics.EVENTS.labels("opened").inc(5)
    metrics.EVENTS.labels("rejected").inc(3)
    metrics.PROFILES.labels("rejected").inc()
    metrics.NOTIFICATIONS.labels("sms", "accepted", "").inc(10)
    metrics.NOTIFICATIONS.labels("sms", "failed", "timeout").inc(4)
    metrics.RETRIES.labels("sms", "timeout").inc(2)
    metrics.FALLBACKS.labels("sms", "invalid_number").inc()
    metrics.ESCALATIONS.labels("low").inc()
    metrics.WINDOW_BREACHES.labels("medium").inc()
    metrics.ACKNOWLEDGEMENTS.labels("sms", "accepted").inc()
    metrics.STAGE_IN_HAND.labels("triage").set(2)
    metrics.STAGE_WORK_FAILURES.labels("triage").inc()
    target.faust.topic_partition_end_offset.labels(topic="placement-events", partition=0).set(100)
    target.faust.topic_partition_offset_commited.labels(topic="placement-events", partition=0).set(85)
    target.faust.messages_received_per_topics.labels(topic="placement-events").inc(5)
    target.faust.total_events.inc(5)

    # until Prometheus has scraped the new values
    rejected = get("crucial_events_total", {"outcome": "rejected"})
    prom.wait_for(f'crucial_events_total{{outcome="rejected"}} == {rejected}')
    return before


# --- the scrape and the PromQL answers ------------------------------------------------------------


def test_a_parse_error_fails(prom: PrometheusPeer) -> None:
    with pytest.raises(PromQLError, match="parse error"):
        prom.query("sum(crucial_events_total")


def test_counters_and_histograms_arrive_as_observed(target: Target, prom: PrometheusPeer, observed: dict[str, float]) -> None:
    get = target.registry.get_sample_value
    assert prom.value('crucial_events_total{outcome="rejected"}') == get("crucial_events_total", {"outcome": "rejected"})
    for labels in (
        {"channel": "sms", "outcome": "failed", "reason": "timeout"},
        {"channel": "sms", "outcome": "accepted", "reason": ""},
    ):
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        assert prom.value(f"crucial_notifications_total{{{selector}}}") == get("crucial_notifications_total", labels)

    # the dispatch histogram counted the 11 notifications into the right buckets
    bucket = 'crucial_dispatch_latency_seconds_bucket{channel="sms",priority="high",le="%s"}'
    expected = {"0.25": 0, "0.5": 10, "10.0": 10, "30.0": 11, "+Inf": 11}
    for le, count in expected.items():
        assert prom.value(bucket % le) - observed[le] == count, le

    # p50 from the recording rule: rank 5.5 of 11, in (0.25, 0.5] which holds 10 → 0.25 + 0.25 × 5.5/10
    p50 = prom.wait_for('channel:crucial_dispatch_latency_seconds:p50_5m{channel="sms"} > 0')
    assert float(p50[0]["value"][1]) == pytest.approx(0.3875, rel=1e-6)
    p99 = prom.value('channel:crucial_dispatch_latency_seconds:p99_5m{channel="sms"}')
    assert 10 < p99 <= 30  # the one slow notification is the top 1 %

    window = prom.wait_for('priority:crucial_window_latency_seconds:p50_1h{priority="high"} > 0')
    assert 1200 < float(window[0]["value"][1]) <= 1800
    ack = prom.wait_for('priority:crucial_acknowledgement_latency_seconds:p50_1h{priority="medium"} > 0')
    assert 120 < float(ack[0]["value"][1]) <= 300


def test_open_incident_gauges(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    counts = {(s["metric"]["state"], s["metric"]["priority"]): float(s["value"][1]) for s in prom.query("crucial_open_incidents")}
    assert len(counts) == 9 and sum(counts.values()) == 3
    assert counts[("open", "high")] == counts[("acknowledged", "medium")] == counts[("escalated", "low")] == 1
    assert prom.value('sum(crucial_open_incidents{state=~"open|escalated"})') == 2

    ages = {
        s["metric"]["priority"]: float(s["value"][1]) for s in prom.query("crucial_oldest_unacknowledged_incident_age_seconds")
    }
    assert ages == {"high": 660.0, "low": 300.0}
    left = {
        (s["metric"]["state"], s["metric"]["priority"]): float(s["value"][1])
        for s in prom.query("crucial_incident_least_time_left_seconds")
    }
    assert left == {("open", "high"): 900.0, ("acknowledged", "medium"): 1500.0, ("escalated", "low"): 2400.0}


def test_recorded_consumer_lag_and_failure_ratio(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    lag = prom.wait_for('topic:crucial_faust_consumer_lag:sum{topic="placement-events"}')
    assert float(lag[0]["value"][1]) == 15
    ratio = prom.wait_for('channel:crucial_notifications_failure_ratio:rate10m{channel="sms"} > 0')
    assert float(ratio[0]["value"][1]) == pytest.approx(4 / 14, rel=0.05)


def test_the_rules_load_and_evaluate(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    def health() -> dict[str, tuple[str, str]]:
        groups = prom.api("rules")["groups"]
        return {rule["name"]: (rule["health"], rule.get("lastError", "")) for group in groups for rule in group["rules"]}

    prom.wait_for("vector(1)", lambda _: all(h == "ok" for h, _ in health().values()), timeout_s=15)
    assert len(health()) == len(rule_expressions()), "every rule in the files is loaded"


def test_alerts_fire_on_the_scraped_state(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    def alerts(result: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(a["metric"]["alertname"], a["metric"].get("priority", ""), a["metric"]["alertstate"]) for a in result}

    want = {
        ("CrucialIncidentUnacknowledged", "high", "firing"),  # received 11 minutes ago; low: 5 minutes, no
        ("CrucialWindowAtRisk", "high", "firing"),  # 15 minutes left
        ("CrucialWindowBreached", "medium", "firing"),  # the breach counter went up
        ("CrucialRejectedEventsRising", "", "firing"),
        ("CrucialRejectedProfilesRising", "", "firing"),
        ("CrucialDeliveryFailuresRising", "", "pending"),  # 4 of 14 attempts failed; fires after 2 minutes
    }
    result = prom.wait_for("ALERTS", lambda result: want <= alerts(result), timeout_s=20)
    # p99 dispatch is over 10 s, but not for 5 minutes yet; lag is 15 but not rising; the worker is up
    assert alerts(result) - want <= {("CrucialDispatchP99TooSlow", "", "pending")}


# --- every dashboard query and every rule expression ----------------------------------------------


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title / refId, expr) for every target of every panel, rows' nested panels included."""
    board = json.loads(DASHBOARD.read_text())
    out = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                out.append((f"{panel['title']} / {target['refId']}", target["expr"]))

    walk(board["panels"])
    return out


def rule_expressions() -> list[tuple[str, str]]:
    out = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                out.append((rule.get("record") or rule["alert"], rule["expr"]))
    return out


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


NAME = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+|\bcrucial_[a-zA-Z0-9_]+")


def test_every_dashboard_query_answers_with_data(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    recorded = {name for name, _ in rule_expressions() if ":" in name}
    prom.wait_for("vector(1)", lambda _: recorded <= prom.name_values(), timeout_s=15)
    empty, failed = [], []
    for where, expr in queries:
        try:
            if not prom.query(grafana_to_promql(expr)):
                empty.append(f"{where}: {expr}")
        except PromQLError as exc:
            failed.append(f"{where}: {exc}")
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    assert not empty, "queries with no data although every metric was observed:\n" + "\n".join(empty)


def test_every_rule_expression_parses(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    failed = []
    for name, expr in rule_expressions():
        try:
            prom.query(expr)
        except PromQLError as exc:
            failed.append(f"{name}: {exc}")
    assert not failed, "\n".join(failed)


def test_every_metric_name_used_is_exposed_or_recorded(prom: PrometheusPeer, observed: dict[str, float]) -> None:
    """A misspelt name parses and silently gives nothing: compare with what the server holds."""
    used = {name for _, expr in [*rule_expressions(), *dashboard_queries()] for name in NAME.findall(expr)}
    assert {"crucial_dispatch_latency_seconds_bucket", "topic:crucial_faust_consumer_lag:sum"} <= used
    deadline = time.monotonic() + 15  # recorded names appear after the rules' first evaluation
    while not used <= (held := prom.name_values()) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not used - held, f"used but neither exposed nor recorded: {sorted(used - held)}"
