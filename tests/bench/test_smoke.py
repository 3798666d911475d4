"""Smoke runs of the benchmark harness (ops/bench), so it cannot rot: each part runs for a few seconds
on tiny numbers and must print its tables with every notification accounted for. No timing is
asserted — the figures live in docs/performance.md.

    .venv/bin/pytest -m bench            # only these
    .venv/bin/pytest -m "not bench"      # everything else
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.config import load_config
from ops.bench import faults, long_run, pipeline, syscalls
from ops.bench.alertmanager import BINARY
from streams.pipeline.broker import LocalBroker, LocalCluster
from tests.support import REPO, free_port

pytestmark = [pytest.mark.bench, pytest.mark.e2e]

HAVE_ALERTMANAGER = shutil.which(BINARY) is not None


@pytest.fixture
def bench_env(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The harness on the session's broker (it uses KAFKA_BOOTSTRAP when set)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    return kafka_bootstrap


def run(main: Any, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Any]:
    out_json = tmp_path / "figures.json"
    assert main([*argv, "--json", str(out_json)]) == 0
    return capsys.readouterr().out, json.loads(out_json.read_text())


def test_latency_against_the_floor_and_alertmanager(bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["latency", "--profiles", "300", "--rate", "10", "--seconds", "2", "--matched", "0.5", "--warmup", "2"]
    if not HAVE_ALERTMANAGER:
        argv.append("--no-peer")
    out, figures = run(pipeline.main, argv, tmp_path, capsys)
    for title in (
        "Latency (milliseconds)",
        "Delivery",
        "Resources during the run",
        "Where the time goes",
        "The floor",
        "Targets",
    ):
        assert title in out
    accounting = figures["run"]["accounting"]
    assert accounting["sent"] == 20 and accounting["expected"] > 0
    assert accounting["lost"] == 0 and accounting["delivered"] == accounting["expected"]
    assert len(accounting["latencies"]["sms"]) + len(accounting["latencies"]["email"]) == accounting["expected"]
    assert len(figures["floor"]["total"]) == 20
    assert figures["run"]["peak_rss"] > 0
    if HAVE_ALERTMANAGER:
        assert "ours SMS ÷ Alertmanager SMS webhook" in out and "group_wait: 0s" in out
        peer = figures["peer"]
        assert peer["delivered"] == peer["expected"] == accounting["expected"]


def test_latency_with_two_workers_reports_each_worker_and_the_machine(
    bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["latency", "--profiles", "300", "--rate", "10", "--seconds", "2", "--matched", "0.5", "--warmup", "2"]
    traced = ["--strace"] if syscalls.available() else []
    out, figures = run(pipeline.main, [*argv, "--workers", "2", "--no-peer", "--no-floor", *traced], tmp_path, capsys)
    assert "Per worker and per machine" in out and "the machine (every process)" in out
    if traced:  # worker 0 sent its Kafka requests and SMS/email through these
        assert "Socket calls of worker 0" in out and figures["socket_calls"]["sendto"] > 0
    accounting, workers = figures["run"]["accounting"], figures["run"]["workers"]
    assert [w["index"] for w in workers] == [0, 1]
    assert accounting["sent"] == 20 and accounting["expected"] > 0
    assert accounting["lost"] == 0 and accounting["duplicated"] == 0
    # Each worker's own counters: together they processed every report and sent every notification.
    assert sum(w["events"] for w in workers) == 20
    assert sum(w["accepted"] for w in workers) >= accounting["delivered"]
    assert all(w["cpu_s"] > 0 and w["peak_rss"] > 0 for w in workers)


def test_latency_with_split_roles_reports_the_triage_and_the_deliver_process(
    bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["latency", "--profiles", "300", "--rate", "10", "--seconds", "2", "--matched", "0.5", "--warmup", "2"]
    out, figures = run(pipeline.main, [*argv, "--roles", "split", "--no-peer", "--no-floor"], tmp_path, capsys)
    assert "worker 0 (triage)" in out and "worker 1 (deliver)" in out
    accounting, workers = figures["run"]["accounting"], figures["run"]["workers"]
    assert [w["role"] for w in workers] == ["triage", "deliver"]
    assert accounting["sent"] == 20 and accounting["lost"] == 0 and accounting["duplicated"] == 0
    triage, deliver = workers
    assert triage["events"] == 20 and triage["accepted"] == 0, "triage sends nothing"
    assert deliver["events"] == 0 and deliver["accepted"] >= accounting["delivered"] > 0
    assert all(w["cpu_s"] > 0 for w in workers)


def test_latency_runs_the_workers_at_the_triage_concurrency_asked(
    bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["latency", "--profiles", "300", "--rate", "10", "--seconds", "2", "--matched", "0.5", "--warmup", "2"]
    out, figures = run(pipeline.main, [*argv, "--triage-concurrency", "3", "--no-peer", "--no-floor"], tmp_path, capsys)
    assert figures["params"]["triage concurrency"] == 3  # read back from the settings the workers were given
    assert "triage concurrency" in out
    accounting = figures["run"]["accounting"]
    assert accounting["sent"] == 20 and accounting["lost"] == 0 and accounting["duplicated"] == 0


def test_overload_tells_first_alerts_from_email_and_shows_the_catch_up(
    bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.bench import pipeline_overload as ovl

    argv = ["overload", "--profiles", "300", "--rate", "20", "--seconds", "2", "--matched", "0.5", "--warmup", "2", "--step", "1"]
    out, result = run(pipeline.main, argv, tmp_path, capsys)
    for title in ("Latency by kind", "Backlog", "Caught up", "Per worker and per machine", "Targets"):
        assert title in out
    accounting, classes = result["run"]["accounting"], result["classes"]
    assert accounting["sent"] == 40 and accounting["lost"] == 0 and accounting["duplicated"] == 0
    # Every expected notification is in exactly one class; first alerts are one per incident.
    assert sum(len(classes[c]) for c in (ovl.HIGH_ALERT_SMS, ovl.OTHER_SMS, ovl.EMAIL)) == accounting["expected"]
    assert 0 < len(classes[ovl.FIRST_ALERTS]) <= len(classes[ovl.HIGH_ALERT_SMS])
    assert min(classes[ovl.FIRST_ALERTS]) >= min(classes[ovl.HIGH_ALERT_SMS])
    # A row per step over the burst and the drain; by the last, every kind has caught up.
    assert len(result["backlog"]) >= result["burst_s"] and result["backlog"][-1][1:] == [0, 0, 0]
    assert {ovl.FIRST_ALERTS, ovl.EMAIL} <= set(result["caught_up_s"])


def test_throughput_steps_with_one_and_two_workers(bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["throughput", "--profiles", "300", "--rates", "5,10", "--step-seconds", "2", "--matched", "0.3", "--workers", "1,2"]
    out, steps = run(pipeline.main, argv, tmp_path, capsys)
    assert "Highest sustained rate" in out
    assert {s["workers"] for s in steps} == {1, 2}
    assert all(s["sent"] > 0 and s["lost"] == 0 for s in steps)


def test_scale_at_two_sizes(bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scale", "--sizes", "200,400", "--rate", "10", "--matched-rate", "2", "--seconds", "2", "--idle-seconds", "1"]
    out, points = run(pipeline.main, argv, tmp_path, capsys)
    assert "The worker at each size" in out
    assert [p["profiles"] for p in points] == [200, 400]
    assert all(p["rss_idle"] > 0 and p["lost"] == 0 for p in points)


FAULT_ARGS = ["--profiles", "300", "--rate", "10", "--seconds", "4", "--matched", "0.3", "--outage", "2", "--drain", "60"]


@pytest.mark.parametrize("scenario", ["kill-worker", "rebalance", "twilio-500", "twilio-429", "smtp-down", "malformed"])
def test_fault_scenario_accounts_for_every_notification(
    scenario: str, bench_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, outcomes = run(faults.main, [scenario, *FAULT_ARGS, "--malformed", "60"], tmp_path, capsys)
    assert "Every notification accounted for" in out
    [o] = outcomes
    assert o["scenario"] == scenario and o["sent"] == 40 and o["expected"] > 0
    assert o["delivered"] + o["lost"] == o["expected"]
    assert o["lost"] == 0
    if scenario == "malformed":
        assert o["extra"]["rejected topic"] == 60


@pytest.fixture
def own_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Path]]:
    """A broker of the test's own, since the scenario restarts it."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    port, state = free_port(), tmp_path / "kafka"
    broker = LocalBroker(state_dir=state, port=port)
    try:
        yield port, state
    finally:
        broker.stop()


def test_broker_restart_scenario(own_broker: tuple[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port, state = own_broker
    argv = ["restart-broker", *FAULT_ARGS, "--broker-port", str(port), "--broker-dir", str(state)]
    out, [o] = run(faults.main, argv, tmp_path, capsys)
    assert "restart-broker" in out
    assert o["sent"] == 40 and o["lost"] == 0 and o["delivered"] == o["expected"] > 0


def test_a_long_run_leaves_only_what_is_live(capsys: pytest.CaptureFixture[str]) -> None:
    assert long_run.main(["--incidents", "600", "--notifications", "4", "--every", "300", "--replay"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| 6")]
    [(incidents, directory, entries, kept, _)] = rows
    assert incidents.strip() == "600"
    assert directory.strip() == "500 / 2,000 / 400"  # the resolved kept; the forgotten ones' last steps
    assert (entries.strip(), kept.strip()) == ("0", "0")  # every step read back, every SMS settled
    # 600 incidents: opened and resolved, four notifications each, two steps an email, three an SMS.
    assert "replay: 7,200 records decoded and applied" in out
    assert "snapshot of that directory:" in out and "read back and restored" in out  # it checks what it restored


def test_the_committed_alertmanager_config_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    """ops/alertmanager/alertmanager.yml is what the benchmark runs (with the run's ports and secrets)."""
    from ops.bench import alertmanager

    committed = REPO / "ops" / "alertmanager" / "alertmanager.yml"
    assert alertmanager.main(["--print-config", "--sms", "6", "--email", "8"]) == 0
    generated = capsys.readouterr().out
    body = "".join(line + "\n" for line in committed.read_text().splitlines() if not line.startswith("#"))
    assert body.strip() == generated.strip()
    amtool = shutil.which("amtool")
    if amtool:
        checked = subprocess.run([amtool, "check-config", str(committed)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("scenario", ["kill-leader", "rolling-brokers", "rebalance", "rolling-workers"])
def test_cluster_fault_scenario_loses_nothing(
    scenario: str,
    kafka_cluster: LocalCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the three-node cluster (replication 3, min.insync.replicas 2): every expected notification
    arrives. Delivery is at-least-once (docs/performance.md): a worker SIGKILLed (rebalance) can send
    again what it had in flight between the provider's answer and its record — at most one send per
    delivery slot; a clean stop or a broker's loss repeats at most the documented 1 % (at these tiny
    sizes, at least 2)."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    cluster_args = ["--brokers", "3", "--broker-port", str(kafka_cluster.port), "--broker-dir", str(kafka_cluster.state_dir)]
    out, [o] = run(faults.main, [scenario, *FAULT_ARGS, *cluster_args], tmp_path, capsys)
    assert "Every notification accounted for" in out
    assert o["scenario"] == scenario and o["sent"] == 40 and o["expected"] > 0
    assert o["lost"] == 0 and o["delivered"] == o["expected"]
    in_flight = load_config(REPO / "config").settings.delivery_concurrency
    bound = in_flight if scenario == "rebalance" else max(2, math.ceil(o["expected"] / 100))
    assert o["duplicated"] <= bound
    assert kafka_cluster.registered() == {1, 2, 3}  # every node is back for the next scenario


def test_a_long_runs_history_is_what_the_directory_reads_back() -> None:
    """ops.bench.startup --history writes these records: each keyed as the worker keys it, and a
    directory fed them holds what the long run's own directory held."""
    records = long_run.history(30, notifications=4)
    assert len(records) == 30 * (2 + 2 * 2 + 2 * 3)  # opened and resolved; two steps an email, three an SMS
    assert {topic for topic, _, _ in records} == {"incidents", "deliveries"}
    assert all(key for _, key, _ in records)
    directory, _ = long_run.replay([(topic, value) for topic, _, value in records])
    assert directory.sizes()["incidents"] == 30 and directory.sizes()["delivery steps"] == 120
