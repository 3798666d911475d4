"""The metric definitions (streams/pipeline/metrics.py) against Prometheus conventions and the rules, the
open-incident gauges' arithmetic, and the dashboard's shape. Pure: no server needed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import Metric

from alerts.model import IncidentStatus, Priority
from streams.pipeline import metrics
from tests.support import REPO

# agent: triage or deliver; version, python, faust: crucial_build_info's, one value per process; realm: report, board;
# lane: the four delivery lanes (alerts/lanes.py).
ALLOWED_LABELS = {
    "channel",
    "outcome",
    "reason",
    "priority",
    "state",
    "stage",
    "agent",
    "version",
    "python",
    "faust",
    "realm",
    "lane",
    "role",  # crucial_worker_role_info: all, triage, deliver
    "feed",  # crucial_feed_snapshot_total: incident directory, shared registers
}
ALERTS = REPO / "ops/prometheus/rules/alerts.yml"
DASHBOARD = REPO / "ops/grafana/crucial-hour.json"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def exposed() -> list[Metric]:
    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    registry.register(metrics.IncidentGauges(lambda: [], lambda: NOW))
    return list(registry.collect())


def test_names_units_and_labels_follow_the_conventions() -> None:
    families = exposed()
    assert len({family.name for family in families}) == len(families)
    for family in families:
        assert family.name.startswith("crucial_"), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        labels = {key for s in family.samples for key in s.labels} - {"le"}
        assert labels <= ALLOWED_LABELS, (family.name, labels)
    for collector in metrics.ALL:
        assert set(collector._labelnames) <= ALLOWED_LABELS, collector._name


def test_existing_names_are_kept() -> None:
    names = {family.name for family in exposed()}
    assert {"crucial_events", "crucial_profile_changes", "crucial_notifications", "crucial_dispatch_latency_seconds"} <= names


def alert_threshold(alert: str, pattern: str) -> float:
    rules = {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"] if "alert" in r}
    found = re.search(pattern, rules[alert]["expr"])
    assert found, (alert, rules[alert]["expr"])
    return float(found.group(1))


def buckets(histogram: Histogram) -> tuple[float, ...]:
    return tuple(histogram._upper_bounds)


def test_the_rules_thresholds_are_the_ones_metrics_py_names() -> None:
    assert alert_threshold("CrucialDispatchP99TooSlow", r"p99_5m\s*>\s*([\d.]+)") == metrics.DISPATCH_P99_SLOW_S
    assert alert_threshold("CrucialIncidentUnacknowledged", r"\)\s*>\s*([\d.]+)") == metrics.UNACKNOWLEDGED_AFTER_S
    assert alert_threshold("CrucialWindowAtRisk", r"\)\s*<\s*([\d.]+)") == metrics.WINDOW_AT_RISK_S
    settings = yaml.safe_load((REPO / "config/settings.yaml").read_text())
    assert settings.get("window_minutes", 60) * 60 == metrics.WINDOW_S


def test_every_histogram_has_a_boundary_at_every_threshold() -> None:
    stages = {"dispatch": metrics.DISPATCH_LATENCY, "acknowledgement": metrics.ACK_LATENCY, "window": metrics.WINDOW_LATENCY}
    assert set(metrics.RULE_THRESHOLDS) == set(stages)
    for stage, threshold in metrics.RULE_THRESHOLDS.items():
        assert threshold in buckets(stages[stage]), stage
    assert metrics.WINDOW_S in buckets(metrics.WINDOW_LATENCY)
    assert metrics.WINDOW_S in buckets(metrics.ACK_LATENCY)
    for histogram in (metrics.DISPATCH_LATENCY, metrics.DELIVERY_LATENCY, metrics.WINDOW_LATENCY, metrics.ACK_LATENCY):
        assert list(buckets(histogram)) == sorted(buckets(histogram)) and buckets(histogram)[-1] == float("inf")


def test_known_label_combinations_exist_before_the_first_event() -> None:
    """A series born at 1 shows no increase: the rules' counters must exist at 0 from the start."""
    registry = CollectorRegistry()
    for collector in metrics.ALL:
        registry.register(collector)
    get = registry.get_sample_value
    assert get("crucial_events_total", {"outcome": "rejected"}) is not None
    assert get("crucial_profile_changes_total", {"outcome": "rejected"}) is not None
    for priority in Priority:
        assert get("crucial_window_breaches_total", {"priority": priority.value}) is not None
        assert get("crucial_dispatch_latency_seconds_count", {"channel": "sms", "priority": priority.value}) is not None


# --- the open-incident gauges ---------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    status: IncidentStatus
    priority: Priority
    received_at: datetime
    deadline: datetime


def gauges(incidents: list[Seen]) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in metrics.IncidentGauges(lambda: incidents, lambda: NOW).collect():
        out[family.name] = {tuple(s.labels[k] for k in sorted(s.labels)): s.value for s in family.samples}
    return out


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_gauges_with_no_open_incident() -> None:
    got = gauges([Seen(IncidentStatus.RESOLVED, Priority.HIGH, at(-90), at(-30))])
    assert len(got[metrics.OPEN_INCIDENTS]) == 9 and set(got[metrics.OPEN_INCIDENTS].values()) == {0}
    assert got[metrics.OLDEST_UNACKNOWLEDGED] == {}
    assert got[metrics.LEAST_TIME_LEFT] == {}


def test_gauges_count_age_and_time_left() -> None:
    got = gauges(
        [
            Seen(IncidentStatus.OPEN, Priority.HIGH, at(-11), at(15)),
            Seen(IncidentStatus.OPEN, Priority.HIGH, at(-3), at(50)),
            Seen(IncidentStatus.ESCALATED, Priority.HIGH, at(-20), at(-2)),  # past its deadline
            Seen(IncidentStatus.ACKNOWLEDGED, Priority.HIGH, at(-40), at(5)),  # older, but acknowledged
            Seen(IncidentStatus.OPEN, Priority.LOW, at(-1), at(59)),
        ]
    )
    # labels in sorted key order: (priority, state)
    counts = {k: v for k, v in got[metrics.OPEN_INCIDENTS].items() if v}
    assert counts == {("high", "open"): 2, ("high", "escalated"): 1, ("high", "acknowledged"): 1, ("low", "open"): 1}
    assert got[metrics.OLDEST_UNACKNOWLEDGED] == {("high",): 20 * 60, ("low",): 60}
    assert got[metrics.LEAST_TIME_LEFT] == {
        ("high", "open"): 15 * 60,
        ("high", "escalated"): -2 * 60,
        ("high", "acknowledged"): 5 * 60,
        ("low", "open"): 59 * 60,
    }


def test_a_failing_source_does_not_fail_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[Seen]:
        raise RuntimeError("table not ready")

    registry = CollectorRegistry(auto_describe=True)
    registry.register(metrics.IncidentGauges(broken, lambda: NOW))  # describe() does not read the source
    assert list(registry.collect()) == []
    assert "cannot read open incidents" in caplog.text


# --- the dashboard --------------------------------------------------------------------------------


def test_the_dashboard_covers_the_crucial_hour() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] == "Crucial hour" and board["uid"] == "crucial-hour"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for needed in (
        "crucial_dispatch_latency_seconds",
        "crucial_delivery_latency_seconds",
        "crucial_window_latency_seconds",
        "crucial_acknowledgement_latency_seconds",
        "crucial_incident_least_time_left_seconds",
        "crucial_open_incidents",
        "crucial_oldest_unacknowledged_incident_age_seconds",
        'outcome="failed"',
        "consumer_lag",
        'outcome="rejected"',
        "crucial_dead_letters_total",
        "crucial_manual_checks_total",
    ):
        assert needed in exprs, needed
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["expr"].strip() and t["refId"] for t in panel["targets"]), panel["title"]


def test_faust_millisecond_histograms_are_served_in_seconds() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from streams.pipeline.metrics import FaustInSeconds

    faust_registry = CollectorRegistry()
    latency = Histogram(
        "crucial_faust_producer_send_latency", "Producer send latency in ms", buckets=[10, 250, 1000], registry=faust_registry
    )
    runtime = Histogram("crucial_faust_events_runtime_ms", "Events runtime in ms", registry=faust_registry)
    latency.observe(200)
    runtime.observe(5)
    served = CollectorRegistry()
    served.register(FaustInSeconds(faust_registry))
    text = generate_latest(served).decode()
    assert 'crucial_faust_producer_send_latency_seconds_bucket{le="0.25"} 1.0' in text
    assert 'crucial_faust_producer_send_latency_seconds_bucket{le="0.01"} 0.0' in text
    assert "crucial_faust_producer_send_latency_seconds_sum 0.2" in text
    assert "crucial_faust_events_runtime_seconds_count 1.0" in text
    assert "_ms" not in text.replace("in ms", "")
