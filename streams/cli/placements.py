"""`crucial placements load FILE | delete ID...`: the placement register from the operator's side.

The same row and field reporting as `crucial profiles load` (alerts/placement_files.py shares its
reader): every bad row is named with its field, the good rows are loaded. A row for a provider that
providers.yaml does not know is refused (nobody could sign in to report for it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alerts.config import Config, load_config
from alerts.placement_files import read_placements
from alerts.placements import Placement


def _producer(config: Config) -> Any:
    from kafka import KafkaProducer

    from streams.pipeline.connection import kafka_python_kwargs

    # Idempotent: a retry after a leader moved (a cluster node lost) must not write the record twice.
    return KafkaProducer(acks="all", linger_ms=0, enable_idempotence=True, **kafka_python_kwargs(config))


def good_rows(config: Config, source: str, data: bytes) -> tuple[list[Placement], int]:
    """The valid placements of a file, and how many rows were refused (each reported on stderr)."""
    good, bad = [], 0
    known = config.providers.providers
    for row in read_placements(source, data):
        reasons = row.reasons
        if row.placement is not None and row.placement.provider_id not in known:
            reasons = [f"provider_id: unknown provider '{row.placement.provider_id}' (providers.yaml has {', '.join(known)})"]
        elif row.placement is not None:
            good.append(row.placement)
            continue
        bad += 1
        for reason in reasons:
            print(f"{row.where}: {reason}", file=sys.stderr)
    return good, bad


def cmd_load(args: argparse.Namespace) -> int:
    from streams.pipeline.connection import ensure_topics

    config = load_config(args.config)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    good, bad = good_rows(config, args.file, data)
    ensure_topics(config)
    producer = _producer(config)
    topic = config.settings.kafka.topics.placements
    for placement in good:
        producer.send(topic, key=placement.placement_id.encode(), value=placement.model_dump_json().encode())
    producer.flush()
    producer.close()
    children = sum(len(p.children) for p in good)
    print(f"loaded {len(good)} placement(s) with {children} child(ren); rejected {bad}")
    return 1 if bad else 0


def cmd_delete(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    producer = _producer(config)
    for placement_id in args.placement_ids:
        producer.send(config.settings.kafka.topics.placements, key=placement_id.encode(), value=None)
    producer.flush()
    producer.close()
    print(f"deleted {len(args.placement_ids)} placement(s)")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    placements = sub.add_parser("placements", parents=[common], help="manage the placement register").add_subparsers(
        dest="action", required=True
    )
    load = placements.add_parser("load", parents=[common], help="validate a JSONL or CSV file and load its good rows")
    load.add_argument("file", help="JSON Lines (a placement a line) or CSV (a child a row); - for stdin")
    load.set_defaults(func=cmd_load)
    delete = placements.add_parser("delete", parents=[common], help="remove placements (tombstones on the compacted topic)")
    delete.add_argument("placement_ids", nargs="+")
    delete.set_defaults(func=cmd_delete)
