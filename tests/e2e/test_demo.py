"""The README's run command, as a new user runs it: the sample alert appears within seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, free_port, unique_topics, write_config, written_lines

pytestmark = pytest.mark.e2e


def test_demo_prints_the_sample_alert(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = "demo" + os.urandom(3).hex()
    config_dir = write_config(
        tmp_path / "config",
        kafka={"bootstrap": kafka_bootstrap, "app_id": f"crucial-{prefix}", "topics": unique_topics(prefix)},
        web={"port": free_port()},
        outbox={"path": str(tmp_path / "outbox.jsonl")},
        data_dir=str(tmp_path / "data"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "demo", "--config", str(config_dir)],
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sent = written_lines(tmp_path / "outbox.jsonl")
    assert len(sent) >= 3 and {n["kind"] for n in sent} == {"alert"}
    assert f"alert: {len(sent)} notification(s)" in result.stdout
    assert "CRUCIAL HOUR HIGH RISK CH-" in result.stdout
    assert "Subject: [Crucial Hour]" in result.stdout
    # `make run` prints what a user should read, not the Kafka client's retries while things start.
    assert " ERROR " not in result.stdout + result.stderr and "Traceback" not in result.stderr
