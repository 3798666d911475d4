"""`crucial`: the worker, tooling, and the local development broker."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.channels import CHANNELS
from alerts.config import Config, load_config
from alerts.errors import ConfigError, ConfigErrors, RejectedInput
from alerts.intake import parse_event
from alerts.model import MODELS_FOR_SCHEMA, RiskProfile
from streams.cli import config as cli_config
from streams.cli import incident as cli_incident
from streams.cli import indicators as cli_indicators
from streams.cli import match as cli_match
from streams.cli import placements as cli_placements
from streams.cli import route as cli_route
from streams.pipeline.broker import DEFAULT_CLUSTER_DIR, DEFAULT_CLUSTER_PORT, BrokerError, LocalBroker, LocalCluster

REPO_ROOT = Path(__file__).resolve().parents[2]


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _read_events(source: str) -> list[tuple[str, str]]:
    """A JSON object, or JSON Lines: (where, text) for each event."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" not in stripped:
        return [(f"{source}", stripped)]
    return [(f"{source}:{n}", line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _producer(config: Config) -> Any:
    from kafka import KafkaProducer

    from streams.pipeline.connection import kafka_python_kwargs

    # Idempotent: a retry after a leader moved (a cluster node lost) must not write the record twice.
    return KafkaProducer(acks="all", linger_ms=0, enable_idempotence=True, **kafka_python_kwargs(config))


def cmd_worker(args: argparse.Namespace) -> int:
    import faust
    import prometheus_client

    from streams.pipeline.app import create_app
    from streams.pipeline.connection import TopicPolicyError, ensure_topics, wait_for_role_conflicts
    from streams.pipeline.roles import plan_of
    from streams.pipeline.startup import StartupRecord

    startup = StartupRecord()
    # The same checks as check-config, so the worker starts only with config whose every message renders.
    config = cli_config.checked(args.config).config
    startup.mark("config checked")
    try:
        ensure_topics(config)
    except TopicPolicyError as exc:
        for problem in exc.problems:
            print(f"refusing to start: {problem}", file=sys.stderr)
        return 1
    if conflicts := wait_for_role_conflicts(config, plan_of(args.role)):
        for conflict in conflicts:
            print(f"refusing to start: {conflict}; stop it first (docs/operations.md, worker roles)", file=sys.stderr)
        return 1
    startup.mark("topics checked")
    # One series per counter, not two: the *_created twins double what Prometheus stores for nothing.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    worker = create_app(config, role=args.role)
    startup.mark("app built")
    worker.startup = startup  # the milestones before the app are this start's too
    faust.Worker(
        worker.app, loglevel=args.loglevel, override_logging=True, logging_config=plain_logging(args.loglevel)
    ).execute_from_commandline()
    return 0


def plain_logging(level: str) -> dict[str, Any]:
    """One plain line per record on stdout. mode's default colour formatter cost a fifth of the event
    loop's time under load (ops/bench profile), for colours nobody sees in a service's log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"}},
        # No personal data in the log: exception messages and input values are dropped (streams/pipeline/logsafe.py).
        "filters": {"no_values": {"()": "streams.pipeline.logsafe.NoValues"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stdout",
                "filters": ["no_values"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stdout"]},
    }


def cmd_emit(args: argparse.Namespace) -> int:
    from alerts.authority import PROVIDER_HEADER
    from streams.pipeline.connection import ensure_topics

    config = _config(args)
    ensure_topics(config)
    producer = _producer(config)
    if args.provider and args.provider not in config.providers.providers:
        print(f"unknown provider '{args.provider}': use one of {', '.join(config.providers.providers)}", file=sys.stderr)
        return 2
    sent = refused = 0
    for where, text in _read_events(args.file):
        key: bytes | None = None
        try:
            event = parse_event(text, config.settings.intake, datetime.now(UTC))
            key = event.child.reference.encode()
        except RejectedInput as exc:
            if not args.no_validate:
                refused += 1
                for reason in exc.reasons:
                    print(f"{where}: {reason}", file=sys.stderr)
                continue
        # The CLI is a direct producer: --provider names the sender (alerts.authority), trusted per Kafka ACL.
        headers = [(PROVIDER_HEADER, args.provider.encode())] if args.provider else None
        producer.send(config.settings.kafka.topics.placement_events, key=key, value=text.encode(), headers=headers)
        sent += 1
    producer.flush()
    producer.close()
    print(f"emitted {sent} event(s); refused {refused}")
    return 1 if refused else 0


def cmd_profiles_load(args: argparse.Namespace) -> int:
    from alerts.profile_files import read_profiles
    from streams.pipeline.connection import ensure_topics
    from streams.pipeline.progress import Progress

    config = _config(args)
    good: list[RiskProfile] = []
    bad = 0
    # JSON Lines or CSV (by extension, else by the first character); every bad row is reported with
    # its row number and field, and the good rows are loaded.
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    checking = Progress("profiles checked")
    for row in read_profiles(args.file, data, datetime.now(UTC)):
        checking.update(len(good) + bad)
        if row.profile is not None:
            good.append(row.profile)
            continue
        bad += 1
        for reason in row.reasons:
            print(f"{row.where}: {reason}", file=sys.stderr)
    checking.finish()
    ensure_topics(config)
    producer = _producer(config)
    sending = Progress("profiles sent", len(good))
    for sent, profile in enumerate(good):
        sending.update(sent)
        producer.send(
            config.settings.kafka.topics.profiles, key=profile.profile_id.encode(), value=profile.model_dump_json().encode()
        )
    producer.flush()
    producer.close()
    sending.finish()
    print(f"loaded {len(good)} profile(s); rejected {bad}")
    cli_indicators.report_unmapped(good, config)
    return 1 if bad else 0


def cmd_profiles_delete(args: argparse.Namespace) -> int:
    config = _config(args)
    producer = _producer(config)
    for profile_id in args.profile_ids:
        producer.send(config.settings.kafka.topics.profiles, key=profile_id.encode(), value=None)
    producer.flush()
    producer.close()
    print(f"deleted {len(args.profile_ids)} profile(s)")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, model in MODELS_FOR_SCHEMA.items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        print(path)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        print(f"KAFKA_BOOTSTRAP is set ({os.environ['KAFKA_BOOTSTRAP']}): using that cluster, starting nothing")
        return 0
    broker = LocalBroker()
    if args.action == "start":
        took = broker.start()
        print(f"broker up at {broker.bootstrap} in {took:.1f} s (log: {broker.log_file})")
    elif args.action == "stop":
        print("broker stopped" if broker.stop() else "broker was not running")
    else:
        pid, answers = broker.pid(), broker.answers()
        print(
            f"broker {'running' if pid else 'stopped'} (pid {pid}); {'answers' if answers else 'no answer'} at {broker.bootstrap}"
        )
        return 0 if answers else 1
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        print(f"KAFKA_BOOTSTRAP is set ({os.environ['KAFKA_BOOTSTRAP']}): using that cluster, starting nothing")
        return 0
    cluster = LocalCluster(state_dir=args.state_dir, size=args.brokers, port=args.port)
    if args.action == "start":
        took = cluster.start()
        print(
            f"cluster of {cluster.size} up at {cluster.bootstrap} in {took:.1f} s "
            f"(replication {cluster.replication}, min.insync.replicas {cluster.min_insync}; logs: {cluster.state_dir}/node-*)"
        )
        print(f"  use it: KAFKA_BOOTSTRAP={cluster.bootstrap} and kafka.replication_factor: {cluster.replication}")
    elif args.action == "stop":
        stopped = cluster.stop()
        print(f"{stopped} node(s) stopped" if stopped else "the cluster was not running")
    else:
        live = cluster.registered()
        for node in cluster.nodes:
            pid = node.pid()
            state = "registered" if node.node_id in live else ("running" if pid else "stopped")
            print(f"node {node.node_id} at {node.bootstrap}: {state} (pid {pid})")
        return 0 if len(live) == cluster.size else 1
    return 0


def _sample_report() -> str:
    report = json.loads((REPO_ROOT / "samples" / "report.json").read_text())
    now = datetime.now(UTC).replace(microsecond=0)
    run = uuid.uuid4().hex[:8]
    report["event_id"] = f"evt-demo-{run}"
    # A fresh placement reference each run, so an earlier demo's open incident is not this one;
    # the Home Office identifier still matches the sample profile.
    report["child"]["reference"] = f"HAR-DEMO-{run}"
    report["occurred_at"] = report["circumstances"]["last_seen_at"] = (now - timedelta(minutes=10)).isoformat()
    report["reported_at"] = now.isoformat()
    return json.dumps(report)


def _wait_for_web(port: int, worker: subprocess.Popen[bytes], timeout_s: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1):
                return  # 200: profiles loaded and partitions assigned
        except OSError:  # includes 503 (HTTPError) while starting
            time.sleep(0.3)
    raise SystemExit("the worker did not start within the time allowed")


def cmd_demo(args: argparse.Namespace) -> int:
    """Start what is missing, load sample profiles, emit a sample report, print the alert."""
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        took = LocalBroker().start()
        print(f"broker: 127.0.0.1:9092 ready in {took:.1f} s")
    config = _config(args)
    outbox = config.path(config.settings.outbox.path)
    args.file = str(REPO_ROOT / "samples" / "profiles.jsonl")
    cmd_profiles_load(args)
    args.file = str(REPO_ROOT / "samples" / "placements.jsonl")  # the report form's children
    cli_placements.cmd_load(args)
    log_path = outbox.parent / "worker.log"  # beside the outbox: var/ by default
    log_path.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    with open(log_path, "ab") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(args.config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        _wait_for_web(config.settings.web.port, worker, 120)
        print(f"worker: started in {time.monotonic() - started:.1f} s (log: {log_path})")
        seen = outbox.stat().st_size if outbox.exists() else 0
        report = _sample_report()
        emitted = time.monotonic()
        producer = _producer(config)
        producer.send(
            config.settings.kafka.topics.placement_events,
            key=json.loads(report)["child"]["reference"].encode(),
            value=report.encode(),
        )
        producer.flush()
        producer.close()
        print(f"report: emitted {json.loads(report)['event_id']}; waiting for the alert in {outbox}")
        alerts = _await_outbox(outbox, seen, timeout_s=60)
        print(f"alert: {len(alerts)} notification(s) in {time.monotonic() - emitted:.2f} s\n")
        order = {name: i for i, name in enumerate(CHANNELS.names)}
        for note in sorted(alerts, key=lambda n: order.get(n["channel"], len(order))):
            rcpt, message = note["recipient"], note["message"]
            print(f"--- {note['channel']} to {rcpt['name']} ({rcpt['agency_id']}) {rcpt['address']}")
            print(f"Subject: {message['subject']}" if message.get("subject") else message["text"])
        print(f"\n(the emails in full, with the child's details: {outbox})")
        if args.stay:
            print(f"\nthe worker keeps running (http://127.0.0.1:{config.settings.web.port}/metrics); Ctrl-C stops it")
            worker.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _await_outbox(outbox: Path, offset: int, timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if outbox.exists():
            with outbox.open(encoding="utf-8") as handle:
                handle.seek(offset)
                found = [json.loads(line) for line in handle if line.strip()]
            if found:
                time.sleep(0.5)  # let the rest of the fan-out land
                with outbox.open(encoding="utf-8") as handle:
                    handle.seek(offset)
                    return [json.loads(line) for line in handle if line.strip()]
        time.sleep(0.1)
    raise SystemExit(f"no alert reached {outbox} within {timeout_s:.0f} s; see {outbox.parent / 'worker.log'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crucial", description="Crucial Hour: missing-child rapid alerts.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {cli_config.version()}")
    # SUPPRESS: a --config given at any level (`crucial profiles --config X load f`) is kept, not
    # overwritten by a deeper parser's default; main() resolves it once (cli_config.config_dir).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="configuration directory (default: $CRUCIAL_CONFIG, else ./config, else . when it holds settings.yaml)",
    )
    parser.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", parents=[common], help="run the stream worker")
    worker.add_argument("--loglevel", default="info")
    worker.add_argument(
        "--role",
        choices=("all", "triage", "deliver"),
        default="all",
        help="the stages this process runs, each role in a consumer group of its own (default all: both; docs/operations.md)",
    )
    worker.set_defaults(func=cmd_worker)

    emit = sub.add_parser("emit", parents=[common], help="produce placement events from a JSON / JSONL file or - for stdin")
    emit.add_argument("file")
    emit.add_argument("--no-validate", action="store_true", help="send even what fails validation (to test rejection)")
    emit.add_argument(
        "--provider", help="the provider sending (the crucial-provider header); default: the provider of the placement"
    )
    emit.set_defaults(func=cmd_emit)

    profiles = sub.add_parser("profiles", parents=[common], help="manage risk profiles").add_subparsers(
        dest="action", required=True
    )
    load = profiles.add_parser("load", parents=[common], help="validate a JSONL file and load its good rows")
    load.add_argument("file")
    load.set_defaults(func=cmd_profiles_load)
    delete = profiles.add_parser("delete", parents=[common], help="remove profiles (tombstones on the compacted topic)")
    delete.add_argument("profile_ids", nargs="+")
    delete.set_defaults(func=cmd_profiles_delete)

    schema = sub.add_parser("schema", parents=[common], help="write the event contract as JSON Schema")
    schema.add_argument("--out", default=str(REPO_ROOT / "schemas"))
    schema.set_defaults(func=cmd_schema)

    demo = sub.add_parser("demo", parents=[common], help="broker + worker + sample profiles + a sample report -> the alert")
    demo.add_argument("--stay", action="store_true", help="keep the worker running afterwards")
    demo.set_defaults(func=cmd_demo)

    dev = sub.add_parser("dev", parents=[common], help="development helpers").add_subparsers(dest="what", required=True)
    broker = dev.add_parser("broker", parents=[common], help="the local Kafka broker")
    broker.add_argument("action", choices=["start", "stop", "status"])
    broker.set_defaults(func=cmd_broker)
    cluster = dev.add_parser("cluster", parents=[common], help="a local KRaft cluster (replication 3, min.insync 2)")
    cluster.add_argument("action", choices=["start", "stop", "status"])
    cluster.add_argument("--brokers", type=int, default=3, choices=range(1, 5), metavar="N", help="nodes (default 3)")
    cluster.add_argument(
        "--port", type=int, default=DEFAULT_CLUSTER_PORT, help="node n listens on PORT+2(n-1), its controller on the next"
    )
    cluster.add_argument(
        "--state-dir", type=Path, default=DEFAULT_CLUSTER_DIR, help="nodes' data and logs (default: %(default)s)"
    )
    cluster.set_defaults(func=cmd_cluster)

    for register in EXTRA_COMMANDS:
        register(sub, common)
    return parser


# Commands that live in modules of their own: each exposes register(subparsers, common_parent).
EXTRA_COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    cli_config.register,
    cli_incident.register,
    cli_route.register,
    cli_match.register,
    cli_indicators.register,
    cli_placements.register,
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with args.config resolved (--config at any level, else $CRUCIAL_CONFIG, else ./config)."""
    args = build_parser().parse_args(argv)
    args.config = cli_config.config_dir(getattr(args, "config", None))
    return args


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 ok, 1 invalid input or config, 2 usage (argparse), 3 Kafka unreachable."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # kafka-python logs every failed connection attempt at ERROR; the CLI says it once, below.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        return int(args.func(args))
    except ConfigErrors as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    except BrokerError as exc:
        print(f"broker error: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:
        unreachable = cli_config.kafka_unreachable(exc)
        if unreachable is None:
            raise
        print(f"kafka unreachable at {_bootstrap(args)}: {unreachable} — is the broker running?", file=sys.stderr)
        return 3


def _bootstrap(args: argparse.Namespace) -> str:
    try:
        return load_config(args.config).settings.kafka.bootstrap
    except ConfigError:
        return "the configured bootstrap"


if __name__ == "__main__":
    sys.exit(main())
