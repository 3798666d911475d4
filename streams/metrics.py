"""Prometheus metrics. Labels are bounded: channel, outcome, reason, priority — never a child,
an incident or a phone number. Buckets have a boundary at every threshold the alert rules use."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

EVENTS = Counter(
    "crucial_events_total",
    "Placement events processed, by outcome (opened, no_match, resolved, updated, rejected…).",
    ["outcome"],
    registry=None,
)
PROFILES = Counter(
    "crucial_profile_changes_total",
    "Risk-profile changes applied to the in-memory index, by outcome (upserted, removed, rejected).",
    ["outcome"],
    registry=None,
)
NOTIFICATIONS = Counter(
    "crucial_notifications_total",
    "Notifications handled, by channel, outcome (accepted, failed, duplicate) and reason.",
    ["channel", "outcome", "reason"],
    registry=None,
)
DISPATCH_LATENCY = Histogram(
    "crucial_dispatch_latency_seconds",
    "From the report's receipt to the provider accepting the notification.",
    ["channel", "priority"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)

ALL = (EVENTS, PROFILES, NOTIFICATIONS, DISPATCH_LATENCY)
