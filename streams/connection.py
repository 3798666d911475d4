"""Kafka connection settings, passed through to faust/aiokafka and kafka-python alike."""

from __future__ import annotations

import contextlib
import os
import ssl
import time
from typing import Any

import faust
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from alerts.config import Config, KafkaSecurity
from alerts.errors import ConfigError


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


# The app's tables (streams/app.py); their changelog topics are created here with the rest, so that
# Faust finds them complete at start rather than racing the broker's metadata for them.
TABLES = ("open-incidents", "opening-events", "delivery-ledger", "notifications-sent", "pending-claims")


def changelog_topic(config: Config, table: str) -> str:
    return f"{config.settings.kafka.app_id}-{table}-changelog"


def ensure_topics(config: Config, timeout_s: float = 30.0) -> list[str]:
    """Create the project's topics with the configured partitions, and wait until every partition has
    a leader; returns the topics created."""
    kafka = config.settings.kafka
    names = kafka.topics
    compacted = {"cleanup.policy": "compact"}

    def topic(name: str, **configs: str) -> NewTopic:
        return NewTopic(name, kafka.partitions, kafka.replication_factor, topic_configs=configs or None)

    wanted = [
        topic(names.placement_events),
        topic(names.rejected),
        topic(names.profiles, **compacted),
        topic(names.incidents),
        topic(names.notifications),
        topic(names.deliveries),
        # Keyed by child reference like placement events, and read by the same agent: same partitions.
        topic(names.incident_commands),
        # Keyed by idempotency key like notifications, and read by the same agent.
        topic(names.delivery_status),
        # First-writer-wins registers (streams.register): not compacted, the first record of a key wins.
        topic(names.event_ids),
        topic(names.request_signatures),
        # Session revocations and upgraded password hashes (streams.sessions): the latest per key.
        topic(names.auth_state, **compacted),
        *(topic(changelog_topic(config, table), **compacted) for table in TABLES),
    ]
    admin = KafkaAdminClient(**kafka_python_kwargs(config))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                admin.create_topics(missing)
            _wait_for_leaders(admin, [t.name for t in missing], kafka.partitions, timeout_s)
        return [t.name for t in missing]
    finally:
        admin.close()


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
