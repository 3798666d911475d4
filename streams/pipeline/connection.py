"""Kafka connection settings, passed through to faust/aiokafka and kafka-python alike."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import time
from dataclasses import dataclass
from typing import Any

import faust
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from alerts.config import Config, KafkaSecurity
from alerts.errors import ConfigError
from streams.pipeline.profile_snapshot import MAX_AGE_S
from streams.pipeline.roles import PLANS, GroupMember, RolePlan, role_conflicts

log = logging.getLogger("crucial.topics")
# A worker that died is noticed in seconds, not the default minute: its partitions move on.
SESSION_TIMEOUT_S = 10.0


def _credentials(security: KafkaSecurity) -> tuple[str, str]:
    user, password = os.environ.get(security.username_env), os.environ.get(security.password_env)
    if not user or not password:
        raise ConfigError(
            "settings.yaml",
            "kafka.security.sasl_mechanism",
            f"SASL is configured but {security.username_env} / {security.password_env} are not set",
            "export both in the environment",
        )
    return user, password


def _ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(security.ca_file) if security.ca_file else None)


def kafka_python_kwargs(config: Config) -> dict[str, Any]:
    security = config.settings.kafka.security
    kwargs: dict[str, Any] = {"bootstrap_servers": config.settings.kafka.bootstrap.split(",")}
    if security.protocol != "PLAINTEXT":
        kwargs["security_protocol"] = security.protocol
    if security.protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = _ssl_context(security)
    if security.sasl_mechanism:
        user, password = _credentials(security)
        kwargs |= {"sasl_mechanism": security.sasl_mechanism, "sasl_plain_username": user, "sasl_plain_password": password}
    return kwargs


def aiokafka_kwargs(config: Config) -> dict[str, Any]:
    # aiokafka takes the same names as kafka-python for these settings.
    return kafka_python_kwargs(config)


def faust_broker_settings(config: Config) -> dict[str, Any]:
    security = config.settings.kafka.security
    urls = [f"kafka://{host}" for host in config.settings.kafka.bootstrap.split(",")]
    settings: dict[str, Any] = {"broker": urls}
    if security.sasl_mechanism:
        user, password = _credentials(security)
        settings["broker_credentials"] = faust.SASLCredentials(
            username=user,
            password=password,
            mechanism=security.sasl_mechanism,
            ssl_context=_ssl_context(security) if security.protocol == "SASL_SSL" else None,
        )
    elif security.protocol == "SSL":
        settings["broker_credentials"] = faust.SSLCredentials(_ssl_context(security))
    return settings


# The app's tables (streams/pipeline/app.py); their changelog topics are created here with the rest, so that
# Faust finds them complete at start rather than racing the broker's metadata for them.
# No ledger table: a delivery step is written once, to the deliveries topic (streams/pipeline/deliverer.py Ledger).
TABLES = ("open-incidents", "opening-events", "notifications-sent", "pending-claims")


def changelog_topic(config: Config, table: str) -> str:
    return f"{config.settings.kafka.app_id}-{table}-changelog"


DAY_MS = 24 * 60 * 60 * 1000
FOREVER = "-1"


@dataclass(frozen=True)
class TopicPolicy:
    """What one topic must be: its configs (cleanup, retention, min.insync.replicas) and why."""

    name: str
    kind: str  # audit, state, reports, quarantine (docs/operations.md: retention and durability)
    configs: dict[str, str]


@dataclass(frozen=True)
class TopicProblem:
    topic: str
    setting: str
    have: str
    want: str
    fix: str
    loses_data: bool  # else a privacy or layout difference: reported, not refused

    def __str__(self) -> str:
        if self.setting == "(topic)":
            return f"topic {self.topic}: {self.have} — {self.fix}"
        what = "can lose data" if self.loses_data else "differs from the policy"
        return f"topic {self.topic}: {self.setting} is {self.have}, policy {self.want} ({what}) — {self.fix}"


class TopicPolicyError(ConfigError):
    """Existing topics differ from the retention and durability policy in a way that can lose data."""

    def __init__(self, problems: list[TopicProblem]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"kafka topic {first.topic}", first.setting, f"is {first.have}, policy {first.want}{more}", first.fix)


def topic_policies(config: Config) -> list[TopicPolicy]:
    """Every topic the project owns, with the configs the policy in settings.yaml (kafka.retention) gives it."""
    kafka = config.settings.kafka
    names, retention = kafka.topics, kafka.retention
    insync = {"min.insync.replicas": str(kafka.min_insync_replicas)}
    audit_ms = FOREVER if retention.audit_years is None else str(int(retention.audit_years * 365.25) * DAY_MS)

    def kept(days_or_ms: int | str) -> dict[str, str]:
        ms = days_or_ms if isinstance(days_or_ms, str) else str(days_or_ms * DAY_MS)
        return {"cleanup.policy": "delete", "retention.ms": ms, "retention.bytes": "-1", **insync}

    compacted = {"cleanup.policy": "compact", "retention.ms": FOREVER, "retention.bytes": "-1", **insync}
    # A snapshot of the profile index may be MAX_AGE_S old when a worker loads it: the deletions it
    # has not seen must still be on the topic as tombstones then (with a margin).
    profiles = {**compacted, "delete.retention.ms": str(int(2 * MAX_AGE_S * 1000))}
    return [
        TopicPolicy(names.placement_events, "reports", kept(retention.placement_events_days)),
        # Rendered messages (full detail by email) waiting to be sent: personal data, kept like the reports.
        TopicPolicy(names.notifications, "reports", kept(retention.placement_events_days)),
        TopicPolicy(names.rejected, "quarantine", kept(retention.quarantine_days)),
        TopicPolicy(names.dead_letters, "quarantine", kept(retention.quarantine_days)),
        TopicPolicy(names.profiles, "state", profiles),
        TopicPolicy(names.incidents, "audit", kept(audit_ms)),
        TopicPolicy(names.deliveries, "audit", kept(audit_ms)),
        # Keyed by child reference like placement events, and read by the same agent: same partitions.
        TopicPolicy(names.incident_commands, "audit", kept(audit_ms)),
        # Keyed by idempotency key like notifications, and read by the same agent.
        TopicPolicy(names.delivery_status, "audit", kept(audit_ms)),
        TopicPolicy(names.placements, "state", compacted),  # the placement register: latest per placement id
        # First-writer-wins registers (streams.pipeline.register): not compacted, the first record of a key wins.
        # Event ids are kept as long as the incidents they name; a request signature only while a
        # replay of it could still be inside the signature window.
        TopicPolicy(names.event_ids, "audit", kept(audit_ms)),
        TopicPolicy(names.request_signatures, "quarantine", kept(1)),
        # Session revocations and upgraded password hashes (streams.web.sessions): the latest per key.
        TopicPolicy(names.auth_state, "state", compacted),
        *(TopicPolicy(changelog_topic(config, table), "state", compacted) for table in TABLES),
    ]


def ensure_topics(config: Config, timeout_s: float = 30.0) -> list[str]:
    """Create the project's missing topics with the configured partitions, replication and policy configs,
    wait until every partition has a leader, then refuse (TopicPolicyError) when an existing topic
    differs from the policy in a way that can lose data. Returns the topics created."""
    kafka = config.settings.kafka
    policies = topic_policies(config)
    admin = KafkaAdminClient(**kafka_python_kwargs(config))
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(p.name, kafka.partitions, kafka.replication_factor, topic_configs=p.configs)
            for p in policies
            if p.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                admin.create_topics(missing)
            _wait_for_leaders(admin, [t.name for t in missing], kafka.partitions, timeout_s)
        problems = compare_topics(admin, config, policies, timeout_s)
    finally:
        admin.close()
    for problem in problems:
        if not problem.loses_data:
            log.warning("%s", problem)
    if refused := [p for p in problems if p.loses_data]:
        raise TopicPolicyError(refused)
    return [t.name for t in missing]


def live_members(config: Config, groups: list[str]) -> list[GroupMember]:
    """The members the broker lists now in `groups` (consumer groups)."""
    admin = KafkaAdminClient(**kafka_python_kwargs(config))
    try:
        described = admin.describe_groups(groups)
    finally:
        admin.close()
    return [
        GroupMember(group, str(m.get("client_id") or ""), str(m.get("client_host") or "").lstrip("/"))
        for group, about in described.items()
        for m in about.get("members") or []
    ]


def wait_for_role_conflicts(config: Config, plan: RolePlan, patience_s: float = SESSION_TIMEOUT_S + 2) -> list[str]:
    """What stops a worker of `plan` from starting beside the deployment's live workers (roles.py
    `role_conflicts`), after waiting up to `patience_s` for them to clear: a worker just killed stays a
    member until its session times out. Empty when it may start."""
    base = config.settings.kafka.app_id
    groups = sorted({p.app_id(base) for p in PLANS.values()})
    deadline = time.monotonic() + patience_s
    while problems := role_conflicts(plan, _members_or_none(config, groups)):
        if time.monotonic() >= deadline:
            return problems
        log.info("waiting for the deployment's other workers to leave: %s", problems[0])
        time.sleep(1.0)
    return []


def _members_or_none(config: Config, groups: list[str]) -> list[GroupMember]:
    # A check that cannot run does not keep alerts from going: a repeat is better than silence.
    try:
        return live_members(config, groups)
    except Exception as exc:
        log.warning("could not list the deployment's other workers (%s): starting without the role check", type(exc).__name__)
        return []


def check_topics(config: Config) -> list[TopicProblem]:
    """Every difference between the broker's topics and the policy (`crucial check-config --kafka`)."""
    policies = topic_policies(config)
    admin = KafkaAdminClient(**kafka_python_kwargs(config))
    try:
        existing = set(admin.list_topics())
        missing = [p.name for p in policies if p.name not in existing]
        found = compare_topics(admin, config, [p for p in policies if p.name in existing])
    finally:
        admin.close()
    absent = [
        TopicProblem(name, "(topic)", "missing", "present", "the worker creates it at start with the policy", False)
        for name in missing
    ]
    return absent + found


def _describe(
    admin: KafkaAdminClient, policies: list[TopicPolicy], timeout_s: float
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(configs, layout) of the policies' topics. On a cluster the node that answers may not know a
    topic created a moment ago (its metadata is still on the way): ask again until every topic is
    described, so a topic is never judged by settings the answering node has not seen."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, p.name) for p in policies]
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.describe_configs(resources, config_filter="all")
        configs: dict[str, dict[str, Any]] = next(iter(described.values()), {}) if isinstance(described, dict) else {}
        layout = {d["name"]: d for d in admin.describe_topics([p.name for p in policies])}
        unknown = [p.name for p in policies if not configs.get(p.name) or not layout.get(p.name, {}).get("partitions")]
        if not unknown or time.monotonic() > deadline:
            return configs, layout
        time.sleep(0.3)


def compare_topics(
    admin: KafkaAdminClient, config: Config, policies: list[TopicPolicy], timeout_s: float = 30.0
) -> list[TopicProblem]:
    if not policies:
        return []
    kafka = config.settings.kafka
    configs, layout = _describe(admin, policies, timeout_s)
    problems: list[TopicProblem] = []
    for policy in policies:
        have = {key: str(entry["value"]) for key, entry in configs.get(policy.name, {}).items()}
        problems += _config_problems(config, policy, have)
        partitions = layout.get(policy.name, {}).get("partitions", [])
        replicas = min((len(p["replica_nodes"]) for p in partitions), default=0)
        if replicas < kafka.replication_factor:
            fix = f"reassign its partitions to {kafka.replication_factor} replicas (kafka-reassign-partitions.sh)"
            problems.append(
                TopicProblem(policy.name, "replication factor", str(replicas), str(kafka.replication_factor), fix, True)
            )
        if partitions and len(partitions) != kafka.partitions:
            fix = "set kafka.partitions to match, or recreate the topic: co-partitioned topics must agree"
            problems.append(TopicProblem(policy.name, "partitions", str(len(partitions)), str(kafka.partitions), fix, False))
    return problems


def _config_problems(config: Config, policy: TopicPolicy, have: dict[str, str]) -> list[TopicProblem]:
    bootstrap = config.settings.kafka.bootstrap.split(",")[0]
    problems = []
    for key, want in policy.configs.items():
        got = have.get(key, "(unset)")
        if got == want:
            continue
        fix = (
            f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
            f"--entity-name {policy.name} --add-config {key}={want}"
        )
        problems.append(TopicProblem(policy.name, key, got, want, fix, _loses_data(key, got, want, have)))
    return problems


def _loses_data(key: str, have: str, want: str, configs: dict[str, str]) -> bool:
    if key in ("retention.ms", "retention.bytes"):
        if "delete" not in configs.get("cleanup.policy", "delete").split(","):
            return False  # retention deletes nothing on a topic that is only compacted
        try:
            have_n, want_n = int(have), int(want)
        except ValueError:
            return True
        # Kept for less time (or fewer bytes) than the policy: records go early. Longer: a privacy
        # difference on the raw topics, reported but not a loss.
        return (want_n == -1 and have_n != -1) or (have_n != -1 and want_n != -1 and have_n < want_n)
    if key == "cleanup.policy":
        # Compaction drops an audit topic's history; deletion drops a state topic's records by age.
        return set(have.split(",")) != set(want.split(","))
    if key in ("min.insync.replicas", "delete.retention.ms"):
        try:
            return int(have) < int(want)
        except ValueError:
            return True
    return False


def _wait_for_leaders(admin: KafkaAdminClient, topics: list[str], partitions: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.describe_topics(topics)
        ready = [d for d in described if d["error_code"] == 0 and sum(p["leader_id"] >= 0 for p in d["partitions"]) == partitions]
        if len(ready) == len(topics):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"topics without leaders after {timeout_s:.0f} s: {sorted(set(topics) - {d['name'] for d in ready})}"
            )
        time.sleep(0.1)
