"""`crucial init` and `crucial check-config`, and what every command shares: which config directory
(--config at any level, else $CRUCIAL_CONFIG, else ./config), the version, and Kafka being unreachable."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from alerts.config import FILES, Config
from streams.pipeline.checks import Checked, validated_config

STARTER = Path(__file__).resolve().parent.parent / "starter"
CONFIG_ENV = "CRUCIAL_CONFIG"


class KafkaUnreachable(Exception):
    """No broker answered at the configured bootstrap servers."""


def version() -> str:
    try:
        return metadata.version("crucial-hour")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def config_dir(given: str | None) -> Path:
    """--config when given (at any level of the command line), else $CRUCIAL_CONFIG, else ./config,
    else the working directory itself when it is a config directory (holds settings.yaml)."""
    if chosen := given or os.environ.get(CONFIG_ENV):
        return Path(chosen)
    if not Path("config").is_dir() and Path("settings.yaml").is_file():
        return Path(".")
    return Path("config")


def kafka_unreachable(exc: BaseException) -> KafkaUnreachable | None:
    """The one-line form of a Kafka client's "no broker answers", or None for any other error."""
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    if isinstance(exc, KafkaUnreachable):
        return exc
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        # kafka-python 3 says "KafkaTimeoutError: Unable to bootstrap from [...]" after its bootstrap timeout.
        return KafkaUnreachable(str(exc).removeprefix(f"{type(exc).__name__}: "))
    return None


def checked(directory: Path) -> Checked:
    """validated_config, with its warnings printed (what the worker runs at start, too)."""
    result = validated_config(directory)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return result


def cmd_check_config(args: argparse.Namespace) -> int:
    config = checked(args.config).config
    print(
        f"{config.directory}: OK — {len(config.agencies)} agencies, {len(config.routing.rules)} routing rules, "
        f"templates from {config.templates()}"
    )
    return check_kafka(config) if args.kafka else 0


def check_kafka(config: Config) -> int:
    """The broker's topics against the retention and durability policy, as the worker checks them at
    start; a broker that does not answer raises KafkaUnreachable (exit 3)."""
    from kafka.errors import KafkaError

    from streams.pipeline.connection import check_topics

    try:
        problems = check_topics(config)
    except KafkaError as exc:
        raise kafka_unreachable(exc) or KafkaUnreachable(f"{config.settings.kafka.bootstrap}: {type(exc).__name__}") from None
    for problem in problems:
        print(f"{'ERROR' if problem.loses_data else 'note'}: {problem}", file=sys.stderr if problem.loses_data else sys.stdout)
    refused = sum(p.loses_data for p in problems)
    print(
        f"kafka: {refused} difference(s) that can lose data; the worker {'would refuse to start' if refused else 'would start'}"
    )
    return 1 if refused else 0


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    names = list(FILES)
    present = [name for name in names if (target / name).exists()]
    if present and not args.force:
        print(f"{target}: already holds {', '.join(present)}; nothing written (--force overwrites)", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(STARTER / name, target / name)
    print(f"wrote a starter config to {target}/ ({', '.join(names)})")
    print(f"next: crucial check-config --config {target}   (or export {CONFIG_ENV}={target})")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    check = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate the configuration offline: schemas, references, templates, secrets (exit 0 ok, 1 invalid)",
    )
    check.add_argument("--kafka", action="store_true", help="also compare the broker's topics with the retention policy")
    check.set_defaults(func=cmd_check_config)
    init = sub.add_parser("init", parents=[common], help="write a complete, commented starter config into DIRECTORY")
    init.add_argument("directory")
    init.add_argument("--force", action="store_true", help="overwrite the config files already there")
    init.set_defaults(func=cmd_init)
