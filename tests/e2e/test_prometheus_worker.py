"""A real Prometheus scraping the real worker during an end-to-end flow: PromQL sees the alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.prometheus_peer import PrometheusPeer, PromQLError
from tests.integration.test_prometheus import dashboard_queries, grafana_to_promql, rule_expressions
from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import expected_notifications, make_event

pytestmark = pytest.mark.e2e
FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_worker(tmp_path_factory.mktemp("scraped"), kafka_bootstrap)
    running.start()
    try:
        yield running
    finally:
        running.close()


def test_prometheus_counts_the_alerts_the_worker_sent(worker: RunningWorker, tmp_path: Path) -> None:
    with PrometheusPeer.running([f"127.0.0.1:{worker.port}"], tmp_path) as prom:
        prom.wait_for_scrape()
        assert prom.value('up{job="crucial-hour"}') == 1
        event = make_event(child_reference=f"HAR-P-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
        fan_out = len(expected_notifications(event, worker.config))
        worker.emit(event)
        worker.emit(b"not json", key="HAR-P-junk")

        prom.wait_for("sum(crucial_dispatch_latency_seconds_count)", lambda s: bool(s) and float(s[0]["value"][1]) >= fan_out)
        assert prom.value('sum(crucial_notifications_total{outcome="accepted"})') == fan_out
        assert prom.value('crucial_events_total{outcome="opened"}') == 1
        prom.wait_for('crucial_events_total{outcome="rejected"}', lambda s: bool(s) and float(s[0]["value"][1]) == 1)
        assert prom.value('sum(crucial_open_incidents{state="open", priority="high"})') == 1
        left = prom.value('min(crucial_incident_least_time_left_seconds{state="open"})')
        assert 0 < left <= 3600
        # Faust's own sensor is served beside ours.
        assert prom.query("crucial_faust_messages_received_total") or prom.query("crucial_faust_messages_received")

        failed = []
        for where, expr in [*dashboard_queries(), *rule_expressions()]:
            try:
                prom.query(grafana_to_promql(expr))
            except PromQLError as exc:
                failed.append(f"{where}: {exc}")
        assert not failed, "\n".join(failed)


def test_the_workers_whole_metrics_output_passes_promtool_check_metrics(worker: RunningWorker) -> None:
    import shutil
    import subprocess
    import urllib.request

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    # Traffic first, so that faust's labelled histograms (send latency, event runtime) have samples.
    worker.emit(make_event(child_reference=f"HAR-L-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED))
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=10) as response:
        exposition = response.read()
    assert b"crucial_faust_" in exposition, "faust's own sensor is part of the output checked"
    done = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    histograms = [
        line.split()[2] for line in exposition.decode().splitlines() if line.startswith("# TYPE") and line.endswith(" histogram")
    ]
    faust = [name for name in histograms if name.startswith("crucial_faust_")]
    assert faust and all(name.endswith("_seconds") for name in histograms), histograms
