"""promtool, the checker the Prometheus server itself uses: the config and rule files are valid and
every alert and recording rule passes its unit tests (ops/prometheus/tests/*.test.yml).

Skips when promtool is not installed; CI installs it (`make test` runs ops/system-packages.sh, which
installs Debian's `prometheus` package), so there a missing promtool fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO

PROMETHEUS = REPO / "ops/prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.test.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    found = os.environ.get("PROMTOOL_BIN") or shutil.which("promtool")
    if found:
        return found
    message = "promtool is not installed: run `bash ops/system-packages.sh` (Debian package prometheus); CI installs it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(promtool: str, *args: str | Path) -> str:
    done = subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=REPO)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(map(str, args))} failed:\n{output}"
    return output


def test_the_config_is_valid(promtool: str) -> None:
    output = run(promtool, "check", "config", PROMETHEUS / "prometheus.yml")
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output


def test_the_rules_are_valid(promtool: str) -> None:
    run(promtool, "check", "rules", *RULE_FILES)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda path: path.name)
def test_rule_unit_tests(promtool: str, test_file: Path) -> None:
    run(promtool, "test", "rules", test_file)


def alert_rules() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_every_alert_has_a_unit_test() -> None:
    tested = {
        case["alertname"]
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(alert_rules()) - tested == set(), "alerts no unit test sees firing"


def test_the_rule_files_are_the_ones_the_config_loads() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert sorted(PROMETHEUS / name for name in config["rule_files"]) == RULE_FILES
    for path in TEST_FILES:
        loaded = yaml.safe_load(path.read_text())["rule_files"]
        assert all((path.parent / name).resolve() in RULE_FILES for name in loaded), path.name


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for name, rule in alert_rules().items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert {"summary", "description"} <= set(rule["annotations"]), name


def test_the_shipped_config_scrapes_the_worker_port() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    settings = yaml.safe_load((REPO / "config/settings.yaml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "crucial-hour", "the rules (CrucialWorkerDown) name this job"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"{settings['web']['host']}:{settings['web']['port']}"]
