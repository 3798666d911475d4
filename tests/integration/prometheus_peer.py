"""A real Prometheus server on 127.0.0.1 for tests: Debian's `prometheus` (2.42), a temp config and
storage dir, a 1 s scrape and evaluation interval, the project's rule files loaded.

    with PrometheusPeer.running(["127.0.0.1:6066"], tmp_path) as prom:
        prom.wait_for_scrape()
        prom.query('sum(crucial_events_total)')

`targets` is a list, so the same peer scrapes an in-process registry, a real worker, or both (all in
one job, "crucial-hour", which the rules name). Queries go through /api/v1/query; a PromQL error
(a parse error included) raises PromQLError with Prometheus's message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO, free_port

RULE_FILES = (REPO / "ops/prometheus/rules/recording.yml", REPO / "ops/prometheus/rules/alerts.yml")
JOB = "crucial-hour"
INSTALL_HINT = "install it with `bash ops/system-packages.sh` (Debian package prometheus; CI runs it via `make test`)"


class PromQLError(AssertionError):
    """Prometheus answered a query with an error (bad_data for a parse error)."""


def prometheus_binary() -> str:
    """The server's path, or skip the test — except in CI, where a missing server is a failure."""
    found = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus")
    if found:
        return found
    message = f"the prometheus server is not installed: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


Sample = dict[str, Any]


@dataclass
class PrometheusPeer:
    targets: Sequence[str]
    workdir: Path
    rule_files: Sequence[Path] = RULE_FILES
    job: str = JOB
    metrics_path: str = "/metrics"
    interval: str = "1s"
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    @contextmanager
    def running(cls, targets: Sequence[str], workdir: Path, **options: Any) -> Iterator[PrometheusPeer]:
        peer = cls(list(targets), workdir, **options)
        peer.start()
        try:
            yield peer
        finally:
            peer.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.interval, "scrape_timeout": self.interval, "evaluation_interval": self.interval},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {"job_name": self.job, "metrics_path": self.metrics_path, "static_configs": [{"targets": list(self.targets)}]}
            ],
        }

    def start(self, timeout_s: float = 30.0) -> None:
        binary = prometheus_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        for attempt in range(3):  # the free port may be taken between asking and binding
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config_path}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                )
            if self._wait_ready(timeout_s):
                return
            self.stop()
            if attempt == 2 or "address already in use" not in self.log_tail():
                break
        raise RuntimeError(f"prometheus did not become ready; log:\n{self.log_tail()}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    # --- the HTTP API -------------------------------------------------------------------------------

    def api(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PromQLError on an error answer."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                body = json.load(reply)
        except urllib.error.HTTPError as exc:  # 400 bad_data, 422 execution errors: the body says why
            body = json.load(exc)
        if body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')} (GET {url})")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant query; returns the vector (scalars and strings come back as one sample)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def value(self, expr: str, at: float | None = None) -> float:
        """The one value `expr` has (fails when it has none or several)."""
        result = self.query(expr, at)
        assert len(result) == 1, f"{expr!r} gave {len(result)} samples: {result}"
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, ok: Callable[[list[Sample]], bool] = bool, timeout_s: float = 30.0) -> list[Sample]:
        """Poll `expr` until `ok(result)`; the last result is in the failure message."""
        deadline = time.monotonic() + timeout_s
        result: list[Sample] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if ok(result):
                return result
            time.sleep(0.25)
        raise AssertionError(f"{expr!r} not as expected within {timeout_s} s: {result}\nprometheus log:\n{self.log_tail()}")

    def wait_for_scrape(self, scrapes: int = 2, timeout_s: float = 30.0) -> None:
        """Until every target is up and has been scraped at least `scrapes` times."""
        up = f'up{{job="{self.job}"}}'
        self.wait_for(
            f"min({up}) == 1 and min(count_over_time({up}[1m])) >= {scrapes} and count({up}) == {len(self.targets)}",
            timeout_s=timeout_s,
        )

    def name_values(self) -> set[str]:
        return set(self.api("label/__name__/values"))
