"""A running worker as an orchestrator and an operator see it: /live, /ready, the build and process
metrics, and a config reload (SIGHUP, POST /-/reload) that applies a good routing change and keeps
the running config when the files are invalid."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import edit_config, make_event, written_lines

pytestmark = pytest.mark.e2e
HO = [{"scheme": "home_office", "value": "HO-S1234567"}]  # the sample profile's: a match


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_worker(tmp_path_factory.mktemp("health"), kafka_bootstrap)
    running.start()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def config_restored(worker: RunningWorker) -> Iterator[None]:
    """Tests edit the running worker's config files: each starts from the files as they were, so one
    that fails half-way through an edit does not fail the next."""
    saved = {path: path.read_bytes() for path in worker.config_dir.glob("*.yaml")}
    yield
    for path, content in saved.items():
        path.write_bytes(content)


def _get(worker: RunningWorker, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}", headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _until(check: Callable[[], bool], what: str, worker: RunningWorker, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s} s; log:\n{worker.log_tail()}")


def _agencies_alerted(worker: RunningWorker, child: str) -> set[str]:
    return {n["recipient"]["agency_id"] for n in written_lines(worker.outbox) if n["child_reference"] == child}


def test_live_and_ready(worker: RunningWorker) -> None:
    status, live = _get(worker, "/live")
    assert status == 200 and live["seconds_since_heartbeat"] is not None and live["loop_lag_seconds"] >= 0, live
    status, ready = _get(worker, "/ready")
    assert status == 200 and ready["crash_looping"] is False and ready["stalled"] == [] and ready["profiles_loaded"]


def test_build_process_and_index_metrics(worker: RunningWorker) -> None:
    text = worker.metrics()
    assert 'crucial_build_info{faust="0.15.3"' in text
    assert worker.metric("process_cpu_seconds_total") > 0 and worker.metric("process_resident_memory_bytes") > 0
    assert worker.metric("crucial_profile_index_profiles") == 2 and worker.metric("crucial_profile_index_loaded") == 1
    assert worker.metric("crucial_config_last_reload_successful") == 1
    assert worker.metric("crucial_config_last_reload_success_timestamp_seconds") > 1.7e9


def test_an_invalid_reload_keeps_the_running_config_and_a_good_one_applies(worker: RunningWorker) -> None:
    assert worker.process is not None
    routing = worker.config_dir / "routing.yaml"
    good_routing = routing.read_text()
    failures = worker.metric("crucial_config_reload_total", outcome="failure")

    edit_config(worker.config_dir, "routing.yaml", lambda d: d["rules"][0].update(notify=["no-such-agency"]))
    worker.process.send_signal(signal.SIGHUP)
    _until(
        lambda: worker.metric("crucial_config_reload_total", outcome="failure") == failures + 1, "SIGHUP reload refused", worker
    )
    assert worker.metric("crucial_config_last_reload_successful") == 0
    worker.emit(make_event(child_reference="HAR-RELOAD-1", identifiers=HO))
    _until(lambda: "harrow-edt" in _agencies_alerted(worker, "HAR-RELOAD-1"), "alerted by the old routing", worker)

    # A good change: only the child's social worker is told now.
    routing.write_text(good_routing)
    edit_config(worker.config_dir, "routing.yaml", lambda d: d.update(rules=[r for r in d["rules"] if r.get("social_worker")]))
    status, body = _get(worker, "/-/reload", headers={"X-Forwarded-For": "203.0.113.9"}, method="POST")
    assert status == 403 and "loopback" in body["error"]
    status, body = _get(worker, "/-/reload", method="POST")
    assert status == 200 and body["reloaded"] and body["changed"] == ["routing"], body
    assert worker.metric("crucial_config_last_reload_successful") == 1
    worker.emit(make_event(child_reference="HAR-RELOAD-2", identifiers=HO))
    _until(lambda: bool(_agencies_alerted(worker, "HAR-RELOAD-2")), "alerted after the reload", worker)
    time.sleep(0)  # nothing to wait for: the fan-out of one report is one batch in the outbox
    assert "harrow-edt" not in _agencies_alerted(worker, "HAR-RELOAD-2")


def test_a_settings_change_is_reported_as_needing_a_restart(worker: RunningWorker, tmp_path: Path) -> None:
    edit_config(worker.config_dir, "settings.yaml", lambda d: d.update(window_minutes=90))
    status, body = _get(worker, "/-/reload", method="POST")
    assert status == 200 and body["needs_restart"] == ["settings"] and "settings" not in body["changed"]
