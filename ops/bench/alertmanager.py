"""The peer: Prometheus Alertmanager (Debian's prometheus-alertmanager) doing the same work — the
same alerts, at the same moments, fanned out to as many recipients as our pipeline sends SMS and
email for each: the SMS slots to a webhook receiver of our own (ops.bench.receiver; an HTTP POST, as
a Twilio API call is), the email slots by SMTP with STARTTLS and AUTH to the same kind of SMTP server
our email goes to (tests.peers.smtp_server), all on 127.0.0.1.

Configured for speed: cluster listener off (`--cluster.listen-address=`), `group_by: ['...']` (every
alert its own group, as every report is its own incident), `group_wait: 0s` (the least it takes),
no resolved notifications, repeat_interval long enough never to repeat within a run. One receiver
per fan-out slot (sms-1…sms-N: a webhook each; email-1…email-N: an email_config each); an alert
carries a label per slot it fills (sms_1="y"…), and a route per slot with `continue: true` sends it
to each. ops/alertmanager/alertmanager.yml is this configuration as generated (ports and the SMTP
password are filled in at run time).

Latency is measured as ours is: from the moment Alertmanager acknowledged the POST of the alert
(HTTP 200 on /api/v2/alerts) to the moment the receiver has each webhook call or the SMTP server
has each message.

    .venv/bin/python -m ops.bench.alertmanager --rate 20 --seconds 10 --sms 5 --email 6
    .venv/bin/python -m ops.bench.alertmanager --print-config --sms 5 --email 6
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ops.bench import harness as h
from ops.bench.floor import spawn_receiver
from tests.peers.notifications import SMTP_USER
from tests.peers.process import spawn_python_peer
from tests.peers.remote import RemoteSmtpPeer
from tests.support import REPO, free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "/usr/bin/prometheus-alertmanager"
CONFIG_DIR = REPO / "ops" / "alertmanager"


@dataclass(frozen=True)
class Smtp:
    port: int
    user: str
    password: str
    ca_file: str


def config(receiver_url: str, max_sms: int, max_email: int, smtp: Smtp | None = None) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = [{"name": "none"}]
    routes: list[dict[str, Any]] = []
    for channel, slots in (("sms", max_sms), ("email", max_email)):
        for k in range(1, slots + 1):
            name = f"{channel}-{k}"
            if channel == "email" and smtp is not None:
                receivers.append(
                    {
                        "name": name,
                        "email_configs": [
                            {
                                "to": f"{name}@bench.example",
                                "send_resolved": False,
                                "headers": {"Subject": "CH {{ .CommonLabels.report }}"},
                                "tls_config": {"ca_file": smtp.ca_file},
                            }
                        ],
                    }
                )
            else:
                receivers.append(
                    {
                        "name": name,
                        "webhook_configs": [{"url": f"{receiver_url}/am/{channel}/{k}", "send_resolved": False, "max_alerts": 0}],
                    }
                )
            routes.append({"receiver": name, "matchers": [f'{channel}_{k}="y"'], "continue": True})
    smtp_global = (
        {
            "smtp_smarthost": f"127.0.0.1:{smtp.port}",
            "smtp_from": "alerts@crucial-hour.example",
            "smtp_auth_username": smtp.user,
            "smtp_auth_password": smtp.password,
            "smtp_require_tls": True,
            "smtp_hello": "localhost",
        }
        if smtp is not None
        else {}
    )
    return {
        **({"global": smtp_global} if smtp_global else {}),
        "route": {
            "receiver": "none",
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "24h",
            "routes": routes,
        },
        "receivers": receivers,
    }


def command(config_file: Path, storage: Path, port: int) -> list[str]:
    return [
        BINARY,
        f"--config.file={config_file}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]


@dataclass
class Alert:
    """One alert standing for one matched report, with the report's fan-out."""

    report: str
    sms: int
    email: int
    labels: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        labels = {"alertname": "CrucialHourMissingChild", "report": self.report, **self.labels}
        labels |= {f"sms_{k}": "y" for k in range(1, self.sms + 1)}
        labels |= {f"email_{k}": "y" for k in range(1, self.email + 1)}
        alert = {
            "labels": labels,
            "annotations": {"summary": f"child reported missing: {self.report}; matches a trafficking-risk profile"},
            "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        return json.dumps([alert]).encode()


@dataclass
class PeerResult:
    latencies: dict[str, list[float]]  # channel -> POST acknowledged → webhook received, per slot
    first_sms: list[float]
    posted: int
    expected: int
    delivered: int
    duplicated: int
    cpu_percent: float
    peak_rss: int
    config_text: str
    argv: list[str]


class Alertmanager:
    """Alertmanager and its webhook receiver, running for the length of a `with`."""

    def __init__(self, base: Path, max_sms: int, max_email: int) -> None:
        self.base = base
        self.max_sms, self.max_email = max_sms, max_email
        self.record = base / "am-webhooks.jsonl"
        self.smtp_record = base / "am-smtp.jsonl"
        self.port = free_port()

    def __enter__(self) -> Alertmanager:
        self.receiver = spawn_receiver(self.record)
        password = secrets.token_urlsafe(12)
        args = ["--port", "0", "--mode", "starttls", "--user", SMTP_USER, "--password-env", "SMTP_PEER_PASSWORD"]
        args += ["--cert-dir", str(self.base / "am-smtp-certs"), "--record", str(self.smtp_record)]
        process = spawn_python_peer("ops.bench.smtp_plain", args, env={"SMTP_PEER_PASSWORD": password})
        self.smtp = RemoteSmtpPeer(process, SMTP_USER, password)
        smtp = Smtp(self.smtp.port, self.smtp.user, password, str(self.smtp.ca_file))
        self.config = config(str(self.receiver.info["url"]), self.max_sms, self.max_email, smtp)
        config_file = self.base / "alertmanager.yml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.config_text = yaml.safe_dump(redacted(self.config), sort_keys=False)
        (self.base / "am-data").mkdir(exist_ok=True)
        self.argv = command(config_file, self.base / "am-data", self.port)
        self.log = (self.base / "alertmanager.log").open("wb")
        self.process = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"alertmanager exited {self.process.returncode}: {(self.base / 'alertmanager.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("alertmanager not ready within 30 s")
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()
        self.receiver.stop()
        self.smtp.stop()

    def run(self, alerts: Sequence[Alert], offsets: Sequence[float], timeout_s: float = 60.0) -> PeerResult:
        """POST each alert at its offset (seconds from the start), then wait for every webhook call."""
        watch = h.ProcessWatch(self.process.pid).start()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        acked: dict[str, float] = {}
        began = time.monotonic()
        for alert, offset in zip(alerts, offsets, strict=True):
            pause = began + offset - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            connection.request("POST", "/api/v2/alerts", body=alert.payload(), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                acked[alert.report] = time.time()
        connection.close()
        want = sum(a.sms + a.email for a in alerts)
        deadline = time.monotonic() + timeout_s
        seen = self._seen()
        while time.monotonic() < deadline:
            seen = self._seen()
            if len(seen) >= want:
                time.sleep(1.0)
                seen = self._seen()
                break
            time.sleep(0.25)
        watch.stop()
        latencies: dict[str, list[float]] = {"sms": [], "email": []}
        first_sms: dict[str, float] = {}
        for (report, channel, _), times in seen.items():
            if report in acked:
                took = min(times) - acked[report]
                latencies[channel].append(took)
                if channel == "sms":
                    first_sms[report] = min(first_sms.get(report, took), took)
        return PeerResult(
            latencies=latencies,
            first_sms=list(first_sms.values()),
            posted=len(acked),
            expected=want,
            delivered=len(seen),
            duplicated=sum(len(t) - 1 for t in seen.values()),
            cpu_percent=watch.cpu_percent,
            peak_rss=watch.peak_rss,
            config_text=self.config_text,
            argv=self.argv,
        )

    def _seen(self) -> dict[tuple[str, str, str], list[float]]:
        """(report, channel, slot) -> arrival times, from the webhook record and the SMTP record."""
        seen: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for call in h._jsonl(self.record):
            _, _, channel, slot = call["path"].split("/", 3)
            for alert in (call.get("body") or {}).get("alerts", []):
                seen[(alert["labels"]["report"], channel, slot)].append(float(call["at"]))
        for mail in h._jsonl(self.smtp_record):
            report = (mail.get("subject") or "").removeprefix("CH ").strip()
            for rcpt in mail.get("rcpt_tos") or []:
                seen[(report, "email", rcpt.split("@")[0].removeprefix("email-"))].append(float(mail["received_at"]))
        return seen


def redacted(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: ("<secret>" if k == "smtp_auth_password" else redacted(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [redacted(v) for v in data]
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.alertmanager", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sms", type=int, default=5, help="SMS recipients per alert")
    parser.add_argument("--email", type=int, default=6, help="email recipients per alert")
    parser.add_argument("--print-config", action="store_true", help="print the configuration and exit")
    args = parser.parse_args(argv)
    if args.print_config:
        # Placeholders for what a run fills in: the receiver's and SMTP server's ports, the password, the CA.
        smtp = Smtp(2525, "crucial", "<secret>", "/path/to/smtp-ca.pem")
        print(yaml.safe_dump(config("http://127.0.0.1:9099", args.sms, args.email, smtp), sort_keys=False))
        return 0
    count = max(1, int(args.rate * args.seconds))
    with h.workdir() as base, Alertmanager(base, args.sms, args.email) as am:
        alerts = [Alert(f"r{i:06d}", args.sms, args.email) for i in range(count)]
        result = am.run(alerts, [i / args.rate for i in range(count)])
    rows = []
    for channel in ("sms", "email"):
        s = h.summary(result.latencies[channel])
        rows.append(
            [
                f"alert acknowledged → {channel} received",
                len(result.latencies[channel]),
                *(h.ms(s[q]) for q in ("p50", "p95", "p99", "max")),
            ]
        )
    print(
        h.table(
            f"Alertmanager at {args.rate:g} alerts/s, fan-out {args.sms} + {args.email}",
            ["ms", "n", "p50", "p95", "p99", "max"],
            rows,
        )
    )
    print(
        f"\nposted {result.posted}, deliveries expected {result.expected}, received {result.delivered}, "
        f"duplicated {result.duplicated}"
    )
    print(f"alertmanager CPU {result.cpu_percent:.0f} %, peak RSS {h.mib(result.peak_rss)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
