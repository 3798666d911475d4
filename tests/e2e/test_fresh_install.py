"""The operator's path, outside the repository: a wheel built from the source tree, installed into a
new virtualenv in a temporary directory; `crucial init` there, `crucial check-config`, then the
installed worker against the real broker alerts (to the outbox) for a sample report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO, SAMPLES, free_port, make_event, unique_topics, written_lines

pytestmark = [pytest.mark.e2e, pytest.mark.install]


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """bin/ of a fresh virtualenv holding only the wheel and its declared dependencies."""
    base = tmp_path_factory.mktemp("fresh-install")
    wheels, venv = base / "wheels", base / "venv"
    # The wheel as an operator gets it: built in isolation (pip wheel) from a clean copy of what the
    # sdist holds, so neither a stale build/ in the checkout nor any other repository file leaks in.
    source = base / "source"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    for package in ("alerts", "streams"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], cwd=base)
    (wheel,) = wheels.glob("crucial_hour-*.whl")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv:  # uv makes and fills the venv from its cache in seconds; pip does the same, slower
        _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], cwd=base)
        _run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)], cwd=base)
    else:
        _run([sys.executable, "-m", "venv", str(venv)], cwd=base)
        _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=base)
    yield venv / "bin"


def test_the_installed_package_is_not_the_source_tree(installed: Path) -> None:
    where = _run(
        [str(installed / "python"), "-c", "import alerts, streams; print(alerts.__file__, streams.__file__)"], cwd=installed
    )
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout
    assert _run([str(installed / "crucial"), "--version"], cwd=installed).stdout.startswith("crucial ")


def test_init_check_config_and_the_worker_alerts_from_outside_the_repository(
    installed: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    crucial = str(installed / "crucial")
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "CRUCIAL_CONFIG", "PYTHONPATH")}
    _run([crucial, "init", "x"], cwd=tmp_path, env=env)
    checked = _run([crucial, "check-config", "--config", "x"], cwd=tmp_path, env=env)
    assert "x: OK" in checked.stdout and "site-packages" in checked.stdout  # the package's own templates

    # What an operator edits next: where Kafka is, and (here) names no other test shares.
    settings_path = tmp_path / "x" / "settings.yaml"
    settings = yaml.safe_load(settings_path.read_text())
    prefix = "fresh" + os.urandom(3).hex()
    port = free_port()
    settings["kafka"].update(bootstrap=kafka_bootstrap, app_id=f"crucial-{prefix}", topics=unique_topics(prefix))
    settings["web"]["port"] = port
    settings_path.write_text(yaml.safe_dump(settings))
    env["CRUCIAL_CONFIG"] = str(tmp_path / "x")  # the environment instead of --config from here on
    _run([crucial, "check-config"], cwd=tmp_path, env=env)
    _run([crucial, "profiles", "load", str(SAMPLES / "profiles.jsonl")], cwd=tmp_path, env=env)

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([crucial, "worker"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, worker, tmp_path / "worker.log")
        event = make_event(identifiers=[{"scheme": "home_office", "value": "HO-S1234567"}])
        (tmp_path / "report.json").write_text(json.dumps(event))
        _run([crucial, "emit", "report.json"], cwd=tmp_path, env=env)
        outbox = tmp_path / "x" / "var" / "outbox.jsonl"  # the starter's relative path, from the config dir
        sent = _await_lines(outbox, worker, tmp_path / "worker.log")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    alerted = {(n["recipient"]["agency_id"], n["channel"]) for n in sent}
    assert ("duty-team", "sms") in alerted and ("duty-team", "email") in alerted
    assert all(n["kind"] == "alert" for n in sent)
    assert "TemplateNotFound" not in (tmp_path / "worker.log").read_text()


def _wait_ready(port: int, worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the installed worker was not ready within 180 s:\n{log.read_text()[-4000:]}")


def _await_lines(outbox: Path, worker: subprocess.Popen[bytes], log: Path) -> list[dict[str, Any]]:
    """Every notification for the one report: the routed recipients (duty team, social worker, police)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}"
        sent = written_lines(outbox)
        if {("duty-team", "sms"), ("duty-team", "email")} <= {(n["recipient"]["agency_id"], n["channel"]) for n in sent}:
            return sent
        time.sleep(0.2)
    pytest.fail(f"no alert reached {outbox} within 120 s:\n{log.read_text()[-4000:]}")
