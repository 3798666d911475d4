"""`crucial incident show REF`: an incident's whole timeline, read back from the topics."""

from __future__ import annotations

import argparse
import json
from typing import Any

from alerts.audit import audit_record, format_audit, format_markdown
from alerts.config import Config, load_config
from alerts.model import DeliveryRecord, IncidentRecord


def read_topic(config: Config, topic: str) -> list[bytes]:
    """Every record on `topic`, from the beginning of every partition to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.pipeline.connection import kafka_python_kwargs

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **kafka_python_kwargs(config))
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records if r.value is not None)
        return values
    finally:
        consumer.close()


def incident_history(config: Config, reference: str) -> tuple[list[IncidentRecord], list[DeliveryRecord]]:
    topics = config.settings.kafka.topics
    records = [IncidentRecord.model_validate_json(v) for v in read_topic(config, topics.incidents)]
    mine = sorted((r for r in records if r.incident.reference.upper() == reference.upper()), key=lambda r: r.at)
    ids = {r.incident.incident_id for r in mine}
    deliveries = [
        d for d in (DeliveryRecord.model_validate_json(v) for v in read_topic(config, topics.deliveries)) if d.incident_id in ids
    ]
    return mine, deliveries


def cmd_incident_show(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    records, deliveries = incident_history(config, args.reference)
    timezone = config.settings.timezone
    fmt = "raw" if args.json else args.format
    if fmt == "raw":
        raw = {
            "records": [r.model_dump(mode="json") for r in records],
            "deliveries": [d.model_dump(mode="json") for d in deliveries],
        }
        print(json.dumps(raw))
    elif fmt == "json":
        print(json.dumps(audit_record(records, deliveries), indent=2, ensure_ascii=False))
    elif fmt == "md":
        print(format_markdown(records, deliveries, timezone))
    else:
        print(format_audit(records, deliveries, timezone))
    return 0 if records else 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    incident = sub.add_parser("incident", parents=[common], help="incidents").add_subparsers(dest="action", required=True)
    show = incident.add_parser("show", parents=[common], help="an incident's whole timeline, per person, from the topics")
    show.add_argument("reference", help="e.g. CH-4K7QX2")
    show.add_argument(
        "--format",
        choices=["text", "md", "json"],
        default="text",
        help="text (default); md: a Markdown record for a serious case review; json: the same, structured",
    )
    show.add_argument("--json", action="store_true", help="the raw topic records instead (incidents and deliveries)")
    show.set_defaults(func=cmd_incident_show)
