"""Prometheus metrics: the pipeline's own latency, outcomes and the state of open incidents.

Conventions: names carry base units (`_seconds`) and counters end in `_total` as exposed; labels are
bounded — channel, outcome, reason, priority, state, realm (report, board) — never a child, an incident,
a phone number or a username.
Every histogram has a bucket boundary at each threshold that ops/prometheus/rules/alerts.yml uses (see
RULE_THRESHOLDS, which tests/ops checks against the rule files).

Two kinds of collector live here:

* Module-level counters and histograms (in `ALL`), registered by streams/pipeline/app.py into each app's
  registry and updated by the agents where the event happens. Label combinations that are known in
  advance are created at import with value 0, so `increase()` sees the first event (a series that
  is born at 1 looks like no increase to Prometheus).
* `IncidentGauges`, a callback collector created per app: at each scrape it reads the open incidents
  from a source the app supplies and computes the counts, the oldest unacknowledged age and the least
  time left. Nothing needs to set them, and time left is exact at scrape time without a timer.

Faust's own sensor (its PrometheusMonitor, metrics prefixed `crucial_faust`) keeps consumer and
producer metrics on a registry of its own, served beside ours through `FaustInSeconds` (`faust_monitor`): faust observes
its latencies in milliseconds under names without a unit (`crucial_faust_producer_send_latency`) or
with `_ms`, which `promtool check metrics` refuses; the collector serves them as `..._seconds`, values
and bucket bounds divided by 1000, and everything else as it is. Faust has no lag metric, so the rules derive lag as
`crucial_faust_topic_partition_end_offset - crucial_faust_topic_partition_offset_commited`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from prometheus_client import PLATFORM_COLLECTOR, PROCESS_COLLECTOR, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    import faust

from alerts import channels as _channels
from alerts.model import IncidentStatus, Priority

log = logging.getLogger("crucial.metrics")

# --- thresholds the alert rules use (seconds); buckets below include each of them ------------------

DISPATCH_P99_SLOW_S = 10.0  # CrucialDispatchP99TooSlow: p99 received → provider accepted, per channel
UNACKNOWLEDGED_AFTER_S = 600.0  # CrucialIncidentUnacknowledged: oldest unacknowledged incident older than this
WINDOW_AT_RISK_S = 1200.0  # CrucialWindowAtRisk: an unacknowledged incident with less than this left
WINDOW_S = 3600.0  # the crucial hour (config window_minutes, default 60): deadline = last seen + window

RULE_THRESHOLDS = {
    "dispatch": DISPATCH_P99_SLOW_S,
    "acknowledgement": UNACKNOWLEDGED_AFTER_S,
    # time left < WINDOW_AT_RISK_S  ⇔  time since last seen > WINDOW_S - WINDOW_AT_RISK_S
    "window": WINDOW_S - WINDOW_AT_RISK_S,
}

# The pipeline's own stages, received → provider: sub-second normally, minutes when a provider is slow.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Last seen → first delivery: minutes to hours (a report may come in long after the child was last seen).
WINDOW_BUCKETS = (60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2400.0, 3000.0, 3600.0, 5400.0, 7200.0, 14400.0, 43200.0)
# Received → acknowledged by a person: a minute to an hour or more.
ACK_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 7200.0)

# --- counters ---------------------------------------------------------------------------------------

EVENTS = Counter(
    "crucial_events_total",
    "Placement events processed, by outcome: opened, repeat_report, updated, resolved, no_match, no_open_incident, "
    "rejected (invalid; kept whole on the rejected topic), rekeyed (keyed otherwise than by the child's reference: "
    "written again under it, to be triaged there).",
    ["outcome"],
    registry=None,
)
PROFILES = Counter(
    "crucial_profile_changes_total",
    "Risk-profile changes applied to the in-memory index, by outcome (upserted, removed, rejected).",
    ["outcome"],
    registry=None,
)
PROFILE_SNAPSHOTS = Counter(
    "crucial_profile_snapshot_total",
    "Profile index snapshots at start-up and after: loaded, written, write_failed, or ignored with the "
    "reason (missing, checksum, format, fingerprint, offsets_ahead, offsets_behind, stale, last_record...).",
    ["outcome", "reason"],
    registry=None,
)
FEED_SNAPSHOTS = Counter(
    "crucial_feed_snapshot_total",
    "Snapshots of a followed feed (the incident directory) at start-up and after: loaded, written, "
    "write_failed, or ignored with the reason (missing, checksum, format, fingerprint, offsets_ahead...).",
    ["feed", "outcome", "reason"],
    registry=None,
)
PROFILE_INDICATORS_UNMAPPED = Counter(
    "crucial_profile_indicators_unmapped_total",
    "Free-text indicators on profiles loaded that map to no indicator of indicators.yaml (so count for "
    "neither grading nor routing); `crucial indicators --profiles` lists them.",
    registry=None,
)
PLACEMENTS = Counter(
    "crucial_placement_changes_total",
    "Placement-register changes applied in memory, by outcome (upserted, removed, rejected).",
    ["outcome"],
    registry=None,
)
NOTIFICATIONS = Counter(
    "crucial_notifications_total",
    "Notification attempts, by channel, outcome (accepted: the provider took it; delivered: the provider "
    "reported delivery; failed: the provider refused it or reported it undelivered; duplicate: already "
    "accepted, not sent again) and reason (empty unless failed or duplicate; a short bounded word).",
    ["channel", "outcome", "reason"],
    registry=None,
)
RETRIES = Counter(
    "crucial_notification_retries_total",
    "Notifications sent again after a retryable failure, by channel and the reason of the failure.",
    ["channel", "reason"],
    registry=None,
)
FALLBACKS = Counter(
    "crucial_notification_fallbacks_total",
    "Notifications re-routed to another channel after failing on `channel`, by the reason of the failure.",
    ["channel", "reason"],
    registry=None,
)
ESCALATIONS = Counter(
    "crucial_escalations_total",
    "Escalations to the next tier after an incident went unacknowledged, by incident priority.",
    ["priority"],
    registry=None,
)
WINDOW_BREACHES = Counter(
    "crucial_window_breaches_total",
    "Incidents whose deadline (last seen + the window) passed while still unacknowledged, counted once "
    "per incident, by priority.",
    ["priority"],
    registry=None,
)
ACKNOWLEDGEMENTS = Counter(
    "crucial_acknowledgements_total",
    "Acknowledgements received, by channel (sms, link) and outcome (accepted; duplicate: already "
    "acknowledged; rejected: bad signature, expired link or unknown reference).",
    ["channel", "outcome"],
    registry=None,
)

# --- histograms -------------------------------------------------------------------------------------

DISPATCH_LATENCY = Histogram(
    "crucial_dispatch_latency_seconds",
    "From the report's receipt to the provider accepting the notification.",
    ["channel", "priority"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
LANE_DISPATCH_LATENCY = Histogram(
    "crucial_lane_dispatch_latency_seconds",
    "From the report's receipt to the provider accepting the notification, by delivery lane "
    "(alerts/lanes.py; first_alert: the first alert of a high-priority incident by SMS or voice).",
    ["lane"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
LANE_WAITING = Gauge(
    "crucial_delivery_waiting",
    "Notifications read and waiting for a send worker, by delivery lane (alerts/lanes.py).",
    ["lane"],
    registry=None,
)
DELIVERY_LATENCY = Histogram(
    "crucial_delivery_latency_seconds",
    "From the report's receipt to the provider's delivered callback (SMS status callback).",
    ["channel", "priority"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
WINDOW_LATENCY = Histogram(
    "crucial_window_latency_seconds",
    "From the child's last-seen time to the incident's first delivery (the first notification a provider "
    "accepted); observed once per incident.",
    ["priority"],
    buckets=WINDOW_BUCKETS,
    registry=None,
)
ACK_LATENCY = Histogram(
    "crucial_acknowledgement_latency_seconds",
    "From the report's receipt to the incident's first acknowledgement; observed once per incident.",
    ["priority"],
    buckets=ACK_BUCKETS,
    registry=None,
)

STAGE_WORK_FAILURES = Counter(
    "crucial_stage_work_failures_total",
    "Records whose work failed outside the stage guard (the dead-letter write itself failed), left "
    "unacknowledged so a restart reads them again (streams/pipeline/keyed.py), by stage.",
    ["stage"],
    registry=None,
)
STAGE_IN_HAND = Gauge(
    "crucial_stage_in_hand",
    "Records a stage has read and not yet finished, running or waiting behind their key "
    "(streams/pipeline/keyed.py); at kafka.triage_concurrency the stage's reader waits.",
    ["stage"],
    registry=None,
)
ACKS_HELD = Gauge(
    "crucial_stage_acks_held",
    "Records a stage has finished whose acknowledgement waits for an earlier record of their partition "
    "(streams/pipeline/acks.py): the partition's commits wait with it.",
    ["stage"],
    registry=None,
)
DEAD_LETTERS = Counter(
    "crucial_dead_letters_total",
    "Consumed records a stage could not process, quarantined on the dead-letter topic, by stage and reason "
    "class (too_large, not_utf8, not_json, schema, processing).",
    ["stage", "reason"],
    registry=None,
)
MANUAL_CHECKS = Counter(
    "crucial_manual_checks_total",
    "Accepted reports that failed after intake and were sent to people to check by hand (fail open).",
    registry=None,
)

# --- the running worker: build, config reloads, agent crashes (streams/web/health.py) -------------------

BUILD_INFO = Gauge(
    "crucial_build_info", "Always 1; the labels say which build is running.", ["version", "python", "faust"], registry=None
)
WORKER_ROLE = Gauge(
    "crucial_worker_role_info",
    "Always 1; the label says which stages this process runs (all, triage, deliver: `crucial worker --role`).",
    ["role"],
    registry=None,
)
CONFIG_RELOADS = Counter(
    "crucial_config_reload", "Config reloads (SIGHUP, POST /-/reload) by outcome (success, failure).", ["outcome"], registry=None
)
CONFIG_RELOAD_SUCCESS = Gauge(
    "crucial_config_last_reload_successful", "1 when the last reload was applied, 0 when it was refused.", registry=None
)
CONFIG_RELOAD_LAST_SUCCESS = Gauge(
    "crucial_config_last_reload_success_timestamp_seconds", "When the config was last loaded successfully.", registry=None
)
AGENT_CRASHES = Counter(
    "crucial_agent_crashes", "Agent crashes (faust restarts the actor), by agent (triage, deliver).", ["agent"], registry=None
)


class ProfileIndexGauges:
    """At each scrape: the profiles in this worker's index and whether the index has caught up."""

    def __init__(self, size: Callable[[], int], loaded: Callable[[], bool]) -> None:
        self.size, self.loaded = size, loaded

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        count = GaugeMetricFamily("crucial_profile_index_profiles", "Risk profiles held in this worker's matching index.")
        count.add_metric([], float(self.size()))
        loaded = GaugeMetricFamily("crucial_profile_index_loaded", "1 once the index has read the profiles topic to its end.")
        loaded.add_metric([], 1.0 if self.loaded() else 0.0)
        yield count
        yield loaded


def set_build_info(role: str = "all") -> None:
    import platform
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    BUILD_INFO.labels(version("crucial-hour"), platform.python_version(), version("faust-streaming")).set(1)
    WORKER_ROLE.labels(role).set(1)


SIGNIN_FAILURES = Counter(
    "crucial_signin_failures_total",
    "Refused sign-ins, by realm (report, board) and outcome (wrong: bad username or password; "
    "throttled: asked to wait after repeated failures from one client for one username).",
    ["realm", "outcome"],
    registry=None,
)
SIGNIN_CEILING = Counter(
    "crucial_signin_ceiling_total",
    "Times one username's failed sign-ins from all clients passed the hourly ceiling "
    "(sessions.user_failures_alert_per_hour): someone is guessing; the person is not locked out.",
    ["realm"],
    registry=None,
)

ALL = (
    DEAD_LETTERS,
    STAGE_WORK_FAILURES,
    STAGE_IN_HAND,
    ACKS_HELD,
    MANUAL_CHECKS,
    EVENTS,
    PROFILES,
    PROFILE_SNAPSHOTS,
    FEED_SNAPSHOTS,
    PROFILE_INDICATORS_UNMAPPED,
    PLACEMENTS,
    NOTIFICATIONS,
    RETRIES,
    FALLBACKS,
    ESCALATIONS,
    WINDOW_BREACHES,
    ACKNOWLEDGEMENTS,
    DISPATCH_LATENCY,
    LANE_DISPATCH_LATENCY,
    LANE_WAITING,
    DELIVERY_LATENCY,
    WINDOW_LATENCY,
    ACK_LATENCY,
    BUILD_INFO,
    WORKER_ROLE,
    CONFIG_RELOADS,
    CONFIG_RELOAD_SUCCESS,
    CONFIG_RELOAD_LAST_SUCCESS,
    AGENT_CRASHES,
    SIGNIN_FAILURES,
    SIGNIN_CEILING,
)
# process_* (CPU, memory, open files, start time) and python_info, as every Prometheus client exports;
# registered beside ALL (they keep the client's own names, not crucial_*).
PROCESS = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR)

EVENT_OUTCOMES = (
    "opened",
    "repeat_report",
    "updated",
    "resolved",
    "no_match",
    "no_open_incident",
    "rejected",
    "claim",
    "conflict",
    "rekeyed",
)
PROFILE_OUTCOMES = ("upserted", "removed", "rejected")
CHANNELS = _channels.CHANNELS.names
# Acknowledgements come by reply on a channel that takes them, or by link (the board's are by link too).
ACK_CHANNELS = (*sorted(_channels.CHANNELS.acknowledged_by_reply()), "link")
# Channels whose provider reports delivery: only they have a delivery latency.
DELIVERED_CHANNELS = tuple(c.name for c in _channels.CHANNELS if c.delivered_callback)
ACK_OUTCOMES = ("accepted", "duplicate", "rejected")
STAGES = ("triage", "deliver", "profiles", "directory", "placements", "registers")
DEAD_LETTER_REASONS = ("too_large", "not_utf8", "not_json", "schema", "processing")


def prime() -> None:
    """Create the label combinations known in advance at 0. Failure reasons are not primed: a closed set
    (alerts.channels.reasons) but ~30 of them per channel, mostly never seen; the rules sum over them."""
    _prime_stages()
    _prime_deliveries()
    _prime_signin()


def _prime_stages() -> None:
    for stage in STAGES:
        for reason in DEAD_LETTER_REASONS:
            DEAD_LETTERS.labels(stage, reason)
    for outcome in ("success", "failure"):
        CONFIG_RELOADS.labels(outcome)
    CONFIG_RELOAD_SUCCESS.set(1)  # a process runs only on a config that loaded
    for agent in ("triage", "deliver"):
        AGENT_CRASHES.labels(agent)
        ACKS_HELD.labels(agent)
    for outcome in EVENT_OUTCOMES:
        EVENTS.labels(outcome)
    for outcome in PROFILE_OUTCOMES:
        PROFILES.labels(outcome)
        PLACEMENTS.labels(outcome)


def _prime_deliveries() -> None:
    for channel in CHANNELS:
        NOTIFICATIONS.labels(channel, "accepted", "")
        NOTIFICATIONS.labels(channel, "delivered", "")
    for priority in Priority:
        ESCALATIONS.labels(priority.value)
        WINDOW_BREACHES.labels(priority.value)
        WINDOW_LATENCY.labels(priority.value)
        ACK_LATENCY.labels(priority.value)
        for channel in CHANNELS:
            DISPATCH_LATENCY.labels(channel, priority.value)
        for channel in DELIVERED_CHANNELS:
            DELIVERY_LATENCY.labels(channel, priority.value)
    for channel in ACK_CHANNELS:
        for outcome in ACK_OUTCOMES:
            ACKNOWLEDGEMENTS.labels(channel, outcome)


def _prime_signin() -> None:
    for realm in ("report", "board"):
        SIGNIN_CEILING.labels(realm)
        for outcome in ("wrong", "throttled"):
            SIGNIN_FAILURES.labels(realm, outcome)


prime()

# --- gauges computed from the open incidents at scrape time -----------------------------------------

OPEN_INCIDENTS = "crucial_open_incidents"
OLDEST_UNACKNOWLEDGED = "crucial_oldest_unacknowledged_incident_age_seconds"
LEAST_TIME_LEFT = "crucial_incident_least_time_left_seconds"

UNACKNOWLEDGED = (IncidentStatus.OPEN, IncidentStatus.ESCALATED)
OPEN_STATES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.ESCALATED)


class IncidentFacts(Protocol):
    """What the gauges read from an incident; alerts.model.Incident satisfies it."""

    @property
    def status(self) -> IncidentStatus: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def deadline(self) -> datetime: ...


class IncidentGauges:
    """Open-incident gauges, computed at each scrape from `source()` (the not-yet-resolved incidents).

    * crucial_open_incidents{state, priority}: how many; every state × priority is exposed, 0 when none.
    * crucial_oldest_unacknowledged_incident_age_seconds{priority}: now − received_at of the oldest
      incident still unacknowledged (state open or escalated); no sample for a priority with none.
    * crucial_incident_least_time_left_seconds{state, priority}: the least (deadline − now) among the
      incidents in that state; negative once the deadline has passed; no sample when there are none.

    Register one per app: `registry.register(IncidentGauges(source, clock))`. If `source` raises, the
    scrape still succeeds without these three families (and the error is logged), so a bug here does
    not look like the worker being down.

    Every worker reads every partition's incidents (alerts.directory), so each reports them all:
    aggregate across instances with max/min (as the rules and the dashboard do), never sum.
    """

    def __init__(self, source: Callable[[], Iterable[IncidentFacts]], clock: Callable[[], datetime]) -> None:
        self._source = source
        self._clock = clock

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        try:
            incidents = list(self._source())
            now = self._clock()
        except Exception:
            log.exception("cannot read open incidents for the metrics")
            return iter(())
        return iter(self._families(incidents, now))

    @staticmethod
    def _families(incidents: Iterable[IncidentFacts] = (), now: datetime | None = None) -> Iterator[Metric]:
        counts = {(state, priority): 0 for state in OPEN_STATES for priority in Priority}
        oldest: dict[Priority, datetime] = {}
        least: dict[tuple[IncidentStatus, Priority], datetime] = {}
        for incident in incidents:
            key = (incident.status, incident.priority)
            if key not in counts:  # resolved: not open
                continue
            counts[key] += 1
            if incident.status in UNACKNOWLEDGED:
                oldest[incident.priority] = min(oldest.get(incident.priority, incident.received_at), incident.received_at)
            least[key] = min(least.get(key, incident.deadline), incident.deadline)

        count = GaugeMetricFamily(
            OPEN_INCIDENTS,
            "Incidents not yet resolved, by state (open, acknowledged, escalated) and priority.",
            labels=["state", "priority"],
        )
        age = GaugeMetricFamily(
            OLDEST_UNACKNOWLEDGED,
            "Seconds since the receipt of the oldest incident still unacknowledged (open or escalated), by priority.",
            labels=["priority"],
        )
        left = GaugeMetricFamily(
            LEAST_TIME_LEFT,
            "Least seconds left to the deadline (last seen + the window) among open incidents, by state and "
            "priority; negative once passed.",
            labels=["state", "priority"],
        )
        if now is not None:
            for (state, priority), n in counts.items():
                count.add_metric([state.value, priority.value], n)
            for priority, received in oldest.items():
                age.add_metric([priority.value], (now - received).total_seconds())
            for (state, priority), deadline in least.items():
                left.add_metric([state.value, priority.value], (deadline - now).total_seconds())
        yield from (count, age, left)


class FaustInSeconds:
    """Faust's sensor metrics (on their own registry) with its millisecond histograms in seconds."""

    def __init__(self, faust_registry: CollectorRegistry) -> None:
        self.faust_registry = faust_registry

    @staticmethod
    def seconds_name(name: str) -> str:
        return name.removesuffix("_ms") + "_seconds"

    def collect(self) -> Iterator[Metric]:
        for family in self.faust_registry.collect():
            if family.type != "histogram" or family.name.endswith("_seconds"):
                yield family
                continue
            renamed = self.seconds_name(family.name)
            converted = Metric(renamed, f"{family.documentation} (seconds)", "histogram")
            for sample in family.samples:
                suffix = sample.name[len(family.name) :]
                labels, value = dict(sample.labels), sample.value
                if suffix == "_bucket" and labels.get("le") not in (None, "+Inf"):
                    labels["le"] = floatToGoString(float(labels["le"]) / 1000)  # type: ignore[no-untyped-call]
                if suffix == "_sum":
                    value = value / 1000
                converted.samples.append(Sample(renamed + suffix, labels, value, sample.timestamp, sample.exemplar))
            yield converted


def faust_monitor(registry: CollectorRegistry) -> Any:
    """Faust's Prometheus monitor on a registry of its own, served through `registry` in seconds.

    This is faust's setup_prometheus_sensors without its /metrics page, which would serve only the
    registry it is given: the worker's /metrics is `serve_metrics`, ours and faust's together."""
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    faust_registry = CollectorRegistry(auto_describe=True)
    monitor = PrometheusMonitor(metrics=FaustMetrics.create(faust_registry, "crucial_faust"))
    registry.register(FaustInSeconds(faust_registry))
    return monitor


def serve_metrics(app: faust.App, registry: CollectorRegistry) -> None:
    """GET /metrics on the worker's web port: the whole registry, in the Prometheus text format."""
    from aiohttp.web import Response as AiohttpResponse
    from faust.web import Request, Response, View
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # The aiohttp response itself, as faust's own page does: faust's bytes() refuses a charset.
            body = generate_latest(registry)
            return cast(Response, AiohttpResponse(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST}))
