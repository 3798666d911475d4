"""The operator pack in ops/, checked with the tools an operator's pipeline would use: hadolint for the
Containerfile, systemd-analyze for the unit, kubernetes-validate (schemas shipped in the package)
for the manifests, nginx -t for the reverse proxy, amtool for the Alertmanager routing.

hadolint and kubernetes-validate come with the dev dependency group; nginx, systemd-analyze and
amtool are Debian's (ops/system-packages.sh). A tool that is missing skips here and fails in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

OPS = REPO / "ops"


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}:/usr/sbin")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed (dev dependency group or ops/system-packages.sh)")
    pytest.skip(f"{name} is not installed")


def run(*command: str | Path, cwd: Path = REPO) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def test_the_containerfile_lints_clean_and_is_multi_stage_non_root_without_a_jdk() -> None:
    path = OPS / "container" / "Containerfile"
    run(tool("hadolint"), path)
    text = path.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("0", "root"))
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"jdk|jre|java", instructions, re.I)
    assert "--require-hashes" in text and "requirements-runtime.lock" in text


def test_the_runtime_lock_is_the_lock_without_the_dev_group() -> None:
    def pins(name: str) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (REPO / name).read_text(), re.M)
        return {package.lower(): version for package, version in found}

    runtime, full = pins("requirements-runtime.lock"), pins("requirements.lock")
    assert {"faust-streaming", "aiokafka", "mode-streaming", "email-validator"} <= set(runtime)
    assert "pytest" not in runtime and "pytest" in full
    assert all(full[package] == version for package, version in runtime.items())


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (OPS / "systemd" / "crucial-hour.service").read_text()
    assert "LoadCredential=TWILIO_AUTH_TOKEN:" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # verify checks that ExecStart's program exists: point it at this checkout's installed one.
    here = shutil.which("crucial", path=str(Path(sys.executable).parent))
    assert here, "the crucial command is not installed in this environment"
    (tmp_path / "crucial-hour.service").write_text(unit.replace("/opt/crucial-hour/bin/crucial", here))
    output = run(tool("systemd-analyze"), "verify", tmp_path / "crucial-hour.service")
    assert "crucial-hour.service" not in output, output  # verify prints nothing for a clean unit


def test_the_kubernetes_manifests_validate_strictly() -> None:
    manifests = [OPS / "kubernetes" / name for name in ("deployment.yaml", "service.yaml", "pdb.yaml")]
    run(tool("kubernetes-validate"), "--strict", "--quiet", *manifests)
    deployment = yaml.safe_load(manifests[0].read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    secret_values = [e for e in container["env"] if "value" in e and re.search(r"TOKEN|PASSWORD|SECRET", e["name"])]
    assert all(e["name"].endswith("_FILE") for e in secret_values), "secrets by reference only"
    user = yaml.safe_load((OPS / "kubernetes" / "strimzi-user.yaml").read_text())
    assert user["kind"] == "KafkaUser" and user["apiVersion"].startswith("kafka.strimzi.io/")


def test_the_reverse_proxy_config_is_valid_and_keeps_operations_private(tmp_path: Path) -> None:
    nginx = tool("nginx")
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=alerts.example", "-days", "1",
        "-keyout", ssl / "privkey.pem", "-out", ssl / "fullchain.pem",
    )  # fmt: skip
    text = (OPS / "reverse-proxy" / "nginx.conf").read_text()
    (tmp_path / "nginx.conf").write_text(text.replace("/etc/ssl/alerts.example", str(ssl)))
    run(
        nginx,
        "-t",
        "-c",
        tmp_path / "nginx.conf",
        "-p",
        tmp_path,
        "-g",
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;",
    )
    for private in ("/metrics", "/live", "/ready"):
        assert re.search(rf"location = {re.escape(private)}\s+\{{ return 404; \}}", text), private
    assert re.search(r"location /-/\s+\{ return 404; \}", text)


def test_the_alertmanager_routing_is_valid_and_pages_for_critical() -> None:
    amtool = tool("amtool")
    config = OPS / "alertmanager" / "production.yml"
    run(amtool, "check-config", config)

    def receivers(*labels: str) -> str:
        done = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", *labels], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert receivers("severity=critical", "alertname=CrucialWindowAtRisk") == "on-call-pager,safeguarding-duty-manager"
    assert receivers("severity=critical", "alertname=CrucialWorkerDown") == "on-call-pager"
    assert receivers("severity=warning", "alertname=CrucialConsumerLagRising") == "team-email"
